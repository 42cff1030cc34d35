"""Mail an officer forwards to the central mailbox (R23).

A message from an address of the agency's own domain (the domain of
``[agency] mailbox_address``) that carries a citizen's mail, inline
("---------- Forwarded message ---------", "Begin forwarded message:",
Outlook's "From: ... Sent: ..." block) or attached as message/rfc822, is read
as the citizen's: ``recognise`` gives the message as the citizen sent it (the
original sender, subject and files) and the original's date, which is the
officer's receipt of it. A forward whose sender address cannot be recovered,
or from outside the domain, is ordinary mail. An original quoting an existing
transaction ID is classified like any mail: it joins that application only
when its sender is the applicant, else it is held for a clerk; either way
the officer is told which (``confirm``).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from email.message import Message

from mailintake.base.trust import ReceiptTime
from mailintake.intake.parse import Incoming, header_text, valid_address
from mailintake.intake.record import SYSTEM
from mailintake.intake.respond import Responder

FORWARDED = "forwarded"  # the application's flag; the Table-2 log's source (ops/reports)

_MARKERS = re.compile(
    r"(?im)^[ \t>]*(?:-{2,}\s*forwarded message\s*-{2,}|begin forwarded message:|-{2,}\s*original message\s*-{2,}"
    r"|_{10,}|-{2,}\s*ข้อความที่ส่งต่อ\s*-{2,})[ \t]*$"
)
_LINE = re.compile(r"^[ \t>]*\**([^:*\n]{1,20}?)\**[ \t]*:[ \t]*(.*)$")
_LABELS = {
    "from": "from", "จาก": "from", "ผู้ส่ง": "from",
    "date": "date", "sent": "date", "วันที่": "date", "ส่ง": "date", "ส่งเมื่อ": "date",
    "subject": "subject", "เรื่อง": "subject", "ชื่อเรื่อง": "subject",
    "to": "to", "ถึง": "to", "cc": "to", "สำเนาถึง": "to", "reply-to": "to",
}  # fmt: skip
_ANGLE = re.compile(r"<([^<>\s]+@[^<>\s]+)>|\b([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
# Dates as the clients write them in an inline header block.
_FORMATS = (
    "%a, %b %d, %Y at %I:%M %p",  # Gmail: Mon, Dec 8, 2025 at 4:10 PM
    "%A, %B %d, %Y %I:%M %p",  # Outlook: Monday, December 8, 2025 4:10 PM
    "%d %B %Y at %H:%M:%S",  # Apple Mail: 8 December 2025 at 16:10:00 (zone cut)
    "%B %d, %Y at %I:%M:%S %p",  # Apple Mail (US)
    "%d %B %Y at %H:%M",
)


@dataclass(frozen=True)
class Forward:
    """What a forward carried: the citizen's message and when the officer got it."""

    officer: str  # the forwarding officer's address
    officer_message_id: str | None
    original: Incoming  # the citizen's message: sender, subject, files
    original_at: datetime | None  # the officer's receipt of the original, if shown
    how: str  # "inline" or "attached"


def agency_domains(mailbox_address: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    return frozenset(d.strip().lower() for d in (mailbox_address.rpartition("@")[2], *extra) if d.strip())


def recognise(msg: Incoming, raw: bytes, domains: frozenset[str], tz: tzinfo) -> Forward | None:
    """The citizen's mail inside an officer's forward, or None (ordinary mail)."""
    sender = msg.from_addr or ""
    if sender.rpartition("@")[2].lower() not in domains:
        return None
    found = _attached(msg, raw) or _inline(msg, tz)
    if found is None:
        return None
    original, at, how = found
    if original.from_addr is None or original.from_addr.rpartition("@")[2].lower() in domains:
        return None  # an officer forwarding an officer's mail is not a citizen's application
    return Forward(sender, msg.message_id, original, at, how)


def _attached(msg: Incoming, raw: bytes) -> tuple[Incoming, datetime | None, str] | None:
    if not msg.nested_messages:
        return None
    outer = email.message_from_bytes(raw, policy=email.policy.compat32)
    inner: Message | None = None
    for part in outer.walk():
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            first = payload[0] if isinstance(payload, list) and payload else None
            inner = first if isinstance(first, Message) else None
            break
    if inner is None:
        return None
    addr = _address(str(inner.get("From") or ""))
    if addr is None:
        return None
    name = email.utils.parseaddr(header_text(inner, "From"))[0]
    at = _date(str(inner.get("Date") or ""), None)
    body = inner.get_payload(decode=True) if not inner.is_multipart() else None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else msg.body_text
    files = tuple(a for a in msg.attachments if a.nested) or msg.attachments
    original = replace(
        msg, from_addr=addr, from_name=name, reply_to=None, subject=header_text(inner, "Subject"), body_text=text,
        attachments=files, date_header=at,
    )  # fmt: skip
    return original, at, "attached"


def _inline(msg: Incoming, tz: tzinfo) -> tuple[Incoming, datetime | None, str] | None:
    mark = _MARKERS.search(msg.body_text)
    if mark is None:
        return None
    fields: dict[str, str] = {}
    lines = msg.body_text[mark.end() :].lstrip("\r\n").splitlines()
    end = 0
    for end, line in enumerate(lines[:12]):  # noqa: B007 - the block's end is used below
        if not line.strip():
            if fields:
                break
            continue
        m = _LINE.match(line)
        if m is None:
            break
        label = _LABELS.get(m.group(1).strip().lower())
        if label is None:
            break
        fields.setdefault(label, m.group(2).strip())
    addr = _address(fields.get("from", ""))
    if addr is None:
        return None
    name = email.utils.parseaddr(fields["from"])[0].strip().strip('"*')
    at = _date(fields.get("date", ""), tz)
    text = "\n".join(lines[end:]).strip() + "\n"
    original = replace(
        msg, from_addr=addr, from_name=name, reply_to=None, subject=fields.get("subject", msg.subject)[:998],
        body_text=text, date_header=at,
    )  # fmt: skip
    return original, at, "inline"


def _address(value: str) -> str | None:
    m = _ANGLE.search(value)
    if m is None:
        return None
    return valid_address(m.group(1) or m.group(2))


def _date(value: str, tz: tzinfo | None) -> datetime | None:
    value = " ".join(value.split())
    if not value:
        return None
    text = re.sub(r"\s+(?:GMT|UTC)?[+-]\d{1,4}(?::\d\d)?$|\s+(?:GMT|UTC|ICT)$", "", value)
    for fmt in _FORMATS:  # the clients' own forms first: RFC 5322's parser misreads "4:10 PM"
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=tz) if tz is not None else None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz) if tz is not None else None
    return parsed


def describe(fwd: Forward, receipt: ReceiptTime, local: Callable[[datetime], datetime]) -> str:
    """The stored reason's source: both times, the original's and the forward's."""
    forward_at = f"forwarded by {fwd.officer} and {receipt.describe(local)}"
    if fwd.original_at is None:
        return f"{forward_at} (the forward does not show when the officer received it)"
    return f"received by the officer at {local(fwd.original_at):%a %-d %b %H:%M} (the forward's {fwd.how} original); {forward_at}"


def confirm(out: Responder, fwd: Forward, tid: str, now: datetime, outcome: str = "application") -> None:
    """The officer's short confirmation naming the transaction ID the mail
    went to: registered as a new application, joined the application it quotes
    (``outcome`` "reply": its original sender is that applicant), or held for
    a clerk ("held": quoting one from someone else, issue 11); the event keeps
    both times."""
    original_at = out.cal.local(fwd.original_at).isoformat() if fwd.original_at else None
    ctx = {"tid": tid, "citizen": fwd.original.from_addr, "subject": None, "applicant_name": None, "outcome": outcome}
    composed = out.answer(
        "forward_confirm", fwd.officer, ctx, now, kind="forward_confirm", tid=tid, in_reply_to=fwd.officer_message_id
    )
    detail = {"officer": fwd.officer, "citizen": fwd.original.from_addr, "original_at": original_at, "how": fwd.how}
    detail["outcome"] = outcome
    out.reg.add_event(
        at=now, actor=SYSTEM, action="forward_confirmed", transaction_id=tid, detail={**detail, "message_id": composed.message_id}
    )
