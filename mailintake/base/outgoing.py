"""Mail we send, composed and queued: a bilingual template (Thai first, then
English) rendered into a text and an HTML part, with the headers that keep a
thread together and stop auto-reply loops. Nothing is sent here: composed mail
is queued in the outbox inside the caller's transaction, and the outbox sends
it after the commit.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime
from typing import Any

from mailintake.base.config import Config
from mailintake.base.data import outbox
from mailintake.base.data.db import Registry
from mailintake.base.headers import one_line
from mailintake.base.sealed import seal
from mailintake.base.wording import Renderer


@dataclass(frozen=True)
class Composed:
    message_id: str
    recipient: str
    subject: str
    message: Message


def new_message_id(cfg: Config, tid: str | None, kind: str) -> str:
    domain = cfg.agency.mailbox_address.rpartition("@")[2] or "mailintake.invalid"
    local = f"{(tid or 'mail').lower()}.{kind}.{secrets.token_hex(8)}"
    return f"<{local}@{domain}>"


def compose(
    cfg: Config,
    renderer: Renderer,
    *,
    template: str,
    recipient: str,
    context: dict[str, Any],
    now: datetime,
    tid: str | None,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    auto: bool = True,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
) -> Composed:
    """Render ``template`` (.subject.j2, .txt.j2 and, when present, .html.j2).

    Headers are built with ``email.header.Header`` (RFC 2047, folded at 78),
    which is several times faster than the modern header registry for Thai
    text. Every value is a single line: the subject through ``one_line``, the
    recipient validated by the parser, message IDs matched as ``<...>``.
    """
    subject = one_line(renderer.render(f"{template}.subject.j2", context), 900)
    text = renderer.render(f"{template}.txt.j2", context)
    if not _ID.match(recipient) or (in_reply_to is not None and not _ID_REF.match(in_reply_to)):
        raise ValueError(f"refusing to compose mail to {recipient!r} in reply to {in_reply_to!r}")
    html = renderer.render(f"{template}.html.j2", context) if renderer.has(f"{template}.html.j2") else None
    msg: Message
    if html is None:
        msg = MIMEText(text, "plain", "utf-8")
    else:
        msg = MIMEMultipart("alternative")
        msg.attach(MIMEText(text, "plain", "utf-8"))
        msg.attach(MIMEText(html, "html", "utf-8"))
    if attachments:
        body, msg = msg, MIMEMultipart("mixed")
        msg.attach(body)
        for name, data, ctype in attachments:
            maintype, subtype = ctype.split("/")
            part = MIMEApplication(data, _subtype=subtype) if maintype == "application" else MIMEImage(data, _subtype=subtype)
            part.add_header("Content-Disposition", "attachment", filename=name)
            msg.attach(part)
    display = one_line(f"{cfg.agency.name_th} / {cfg.agency.name_en}", 200)
    msg["From"] = f"{Header(display, 'utf-8').encode()} <{cfg.agency.mailbox_address}>"
    msg["To"] = recipient
    msg["Subject"] = Header(subject, "utf-8").encode()
    msg["Date"] = format_datetime(now)
    mid = new_message_id(cfg, tid, template)
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        refs = [r for r in references if r != in_reply_to and _ID_REF.match(r)][-10:] + [in_reply_to]
        msg["References"] = " ".join(refs)
    if auto:
        # RFC 3834: we are a robot; Exchange: do not answer us.
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    msg["Content-Language"] = "th, en"
    if tid:
        msg["X-Mailintake-ID"] = one_line(tid, 100)
    return Composed(mid, recipient, subject, msg)


_ID = re.compile(r"^[^\s<>@]+@[^\s<>@]+$")
_ID_REF = re.compile(r"^<[^<>\s]+>$")
_WIRE = compat32.clone(linesep="\r\n")


def as_bytes(msg: Message) -> bytes:
    return msg.as_bytes(policy=_WIRE)


def queue(
    cfg: Config,
    reg: Registry,
    composed: Composed,
    *,
    kind: str,
    tid: str | None,
    now: datetime,
    due: datetime | None = None,
    sms: tuple[str, str] | None = None,
) -> int:
    """Put composed mail in the outbox (call inside the caller's transaction),
    due at ``due`` (default at once). Mail of a secret kind (``outbox.SECRET_KINDS``)
    is sealed under a key of its own kept outside the database (``base.sealed``),
    with ``sms`` (number, text): the same secret for the second channel."""
    raw, key_id, sms_to, sms_text = as_bytes(composed.message), None, None, None
    if kind in outbox.SECRET_KINDS:
        key_id, sealed = seal(cfg.storage_path, raw, (sms[1] if sms else "").encode())
        raw, sms_to, sms_text = sealed[0], sms[0] if sms else None, sealed[1] if sms else None
    return outbox.add(
        reg,
        message_id=composed.message_id,
        tid=tid,
        kind=kind,
        recipient=composed.recipient,
        sender=cfg.agency.mailbox_address,
        subject=composed.subject,
        raw=raw,
        now=now,
        due=due,
        key_id=key_id,
        sms_to=sms_to,
        sms_text=sms_text,
    )
