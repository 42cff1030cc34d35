"""Another reply address, named by the applicant (R5: answer by the channel the
person used, unless they asked for another).

The applicant writes a line of its own in the application, or in a later reply
from their address, with the address after it:

    ตอบกลับที่: somchai.office@example.org
    Reply to: somchai.office@example.org

(case-insensitive; the first such line that is not quoted, above any quoted
mail). The address is recorded on the application (``applications.reply_to``,
with an audit event) and every mail after goes there
(``Application.reply_address``, read by ``Office.notify``, the one place the
desk addresses the applicant); mail from it joins the application like the
applicant's own (``senders.applicant_addresses``). The sender always learns
of it: the acknowledgement (or, for a later reply, a short notice to the
sender) names the address recorded, or says why it could not be used. One
address only, taken as written (``judge``: nothing repaired, no whitespace;
a Thai-script domain is kept in its ``xn--`` form, which SMTP and incoming
From lines use), never the agency's own (its domains and their subdomains, the administrators' and
OPDC's addresses), never a robot's (``[autoreply] sender_regex`` of
``rules/mail.toml``: no-reply, mailer-daemon, ...), and never from mail that
fails DMARC. The Table-2 log keeps the applicant as registered.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailintake.base.data import applications, senders
from mailintake.base.data.db import to_iso
from mailintake.base.headers import valid_address
from mailintake.base.quoting import own_lines
from mailintake.base.wording import Problem
from mailintake.desk.office import Office

RECORDED, REFUSED, NOTICE = "reply_address_recorded", "reply_address_refused", "reply_address"
# The line: its label at the start of a line, a colon (ASCII or full width), the address.
_LINE = re.compile(r"^[ \t]*(?:ตอบกลับที่|ส่งคำตอบที่|reply[ \t-]?to)[ \t]*[:：][ \t]*(\S.*?)[ \t]*$", re.IGNORECASE)
# The address part of a value as written: ``name <addr>``, or ``addr (comment)``.
_ANGLED = re.compile(r"<([^<>]*)>\s*$")
_COMMENT = re.compile(r"\s*\([^()]*\)\s*$")


@dataclass(frozen=True)
class Named:
    """What a message said about the reply address: the one recorded, or why
    the one named was refused (and the address, when it was one)."""

    address: str | None = None
    refused: Problem | None = None
    refused_address: str | None = None
    changed: bool = False  # the recorded address changed (a later reply's writer is told)
    as_written: str | None = None  # a Thai-script domain as the applicant wrote it (``address`` is its xn-- form)

    def context(self) -> dict[str, Any]:
        """What the acknowledgement's templates read (``templates/ack.*.j2``)."""
        shown = f"{self.as_written} ({self.address})" if self.as_written and self.address else self.address
        return {"reply_address": shown, "reply_refused": self.refused, "reply_refused_address": self.refused_address}


def named_in(body: str) -> str | None:
    """The value of the first reply-address line above any quoted mail, or
    None. A value without an ``@`` is no attempt (a sentence that happens to
    start with the label)."""
    for line in own_lines(body):
        m = _LINE.match(line)
        if m is not None and "@" in m.group(1):
            return m.group(1)[:320]
    return None


def written(value: str) -> str:
    """The address part of the value as written: inside its angle brackets,
    else the whole value less a trailing (comment)."""
    angled = _ANGLED.search(value)
    return angled.group(1) if angled else _COMMENT.sub("", value).strip()


def ascii_form(address: str) -> str | None:
    """``address`` with its domain in the ASCII (IDNA, ``xn--``) form that SMTP
    and the From of incoming mail use, or None when it has none (the local
    part must be ASCII: other mail servers need SMTPUTF8 for it)."""
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        return None
    try:
        return valid_address(f"{local}@{domain.encode('idna').decode('ascii')}")
    except UnicodeError:  # an empty label, one over 63, a character IDNA refuses
        return None


def judge(office: Office, value: str) -> tuple[str | None, str | None]:
    """The address to record, or the problem code (``templates/problems.toml``)
    saying why not. The address is taken only as written: one address, no
    whitespace in it and nothing the parser had to repair (``x@ex ample.org``
    is not ``x@example.org``). A domain in Thai script (IDN) is recorded in its
    ``xn--`` form, the one mail goes to and arrives from (``shown`` gives both)."""
    found = [a for _n, a in email.utils.getaddresses([value]) if a]
    if len(found) != 1 or found[0] != written(value) or any(c.isspace() for c in found[0]):
        return None, "reply_address_invalid"
    address = ascii_form(found[0])
    if address is None:
        return None, "reply_address_invalid"
    cfg, lowered = office.cfg, address.lower()
    domains = {d.lower() for d in (cfg.agency.mailbox_address.rpartition("@")[2], *cfg.agency.forward_domains) if d}
    ours = {a.lower() for a in (cfg.agency.mailbox_address, cfg.daemon.admin_email, cfg.lifecycle.opdc_email) if a}
    domain = lowered.rpartition("@")[2]
    if lowered in ours or any(domain == d or domain.endswith("." + d) for d in domains):  # a subdomain is ours too
        return None, "reply_address_ours"
    robot = office.dep.rules.auto_sender
    if robot is not None and robot.search(address):
        return None, "reply_address_robot"
    return address, None


def take(
    office: Office,
    tid: str,
    body: str,
    sender: str | None,
    now: datetime,
    *,
    dmarc_failed: bool = False,
    message_id: str | None = None,
) -> Named:
    """Read the reply-address line of a message from the applicant on ``tid``
    and record it (in the caller's transaction); what the sender is told."""
    value = named_in(body)
    if value is None:
        return Named()
    address, code = judge(office, value)
    if code is None and dmarc_failed:
        address, code = None, "reply_address_unverified"
    app = office.app(tid)
    if code is not None or address is None:
        shown = valid_address(value.strip().strip("<>"))  # named back only when it is one plain address
        office.reg.add_event(
            at=now, actor="system", action=REFUSED, transaction_id=tid, detail={"why": code, "address": shown, "from": sender}
        )
        return Named(refused=office.dep.wording.problem(code or "reply_address_invalid"), refused_address=shown)
    given = written(value)
    as_written = given if given.lower() != address.lower() else None
    # Their own address again: back to it (nothing recorded beside it).
    recorded = None if address.lower() == app.applicant_email.lower() else address
    if recorded == app.reply_to:
        return Named(address=recorded, as_written=as_written if recorded else None)
    applications.update(office.reg, tid, reply_to=recorded, updated_at=to_iso(now))
    office.reg.add_event(
        at=now,
        actor="system",
        action=RECORDED,
        transaction_id=tid,
        before=app.status,
        after=app.status,
        detail={"address": address, "as_written": as_written, "previous": app.reply_to, "from": sender, "message_id": message_id},
    )
    return Named(address=address, changed=True, as_written=as_written)


def from_reply(
    office: Office, tid: str, body: str, sender: str | None, reply_to: str | None, now: datetime, *, dmarc_failed: bool = False
) -> Named:
    """A later reply naming a reply address: taken only from one of the
    applicant's addresses, and the writer (at ``reply_to``, else ``sender``)
    is told in a notice what was recorded or why not."""
    if sender is None or named_in(body) is None or sender.lower() not in senders.applicant_addresses(office.reg, tid):
        return Named()
    named = take(office, tid, body, sender, now, dmarc_failed=dmarc_failed)
    writer = valid_address(reply_to or sender)
    if writer is None or not (named.changed or named.refused):
        return named
    app = office.app(tid)
    extra = {"reply": named.context()}
    office.notify(app.replace(reply_to=writer), NOTICE, now, extra)  # to the writer, whatever is recorded
    return named
