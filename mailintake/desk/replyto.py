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
address only, never the agency's own (its domains, the administrators' and
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
from mailintake.base.wording import Problem
from mailintake.desk.office import Office

RECORDED, REFUSED, NOTICE = "reply_address_recorded", "reply_address_refused", "reply_address"
# The line: its label at the start of a line, a colon (ASCII or full width), the address.
_LINE = re.compile(r"^[ \t]*(?:ตอบกลับที่|ส่งคำตอบที่|reply[ \t-]?to)[ \t]*[:：][ \t]*(\S.*?)[ \t]*$", re.IGNORECASE)
# Where quoted mail begins: nothing below it is the writer's own.
_QUOTED = re.compile(
    r"^[ \t]*(?:>|on .{3,200} wrote:\s*$|เมื่อ .{3,200}เขียนว่า:?\s*$|-{2,}\s*(?:original|forwarded) message|"
    r"-{2,}\s*ข้อความ|begin forwarded message:|_{10,}\s*$|from:\s|จาก:\s)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Named:
    """What a message said about the reply address: the one recorded, or why
    the one named was refused (and the address, when it was one)."""

    address: str | None = None
    refused: Problem | None = None
    refused_address: str | None = None
    changed: bool = False  # the recorded address changed (a later reply's writer is told)

    def context(self) -> dict[str, Any]:
        """What the acknowledgement's templates read (``templates/ack.*.j2``)."""
        return {"reply_address": self.address, "reply_refused": self.refused, "reply_refused_address": self.refused_address}


def named_in(body: str) -> str | None:
    """The value of the first reply-address line above any quoted mail, or
    None. A value without an ``@`` is no attempt (a sentence that happens to
    start with the label)."""
    for line in body.splitlines():
        if _QUOTED.match(line):
            return None
        m = _LINE.match(line)
        if m is not None and "@" in m.group(1):
            return m.group(1)[:320]
    return None


def judge(office: Office, value: str) -> tuple[str | None, str | None]:
    """The address to record, or the problem code (``templates/problems.toml``) saying why not."""
    found = [a for _n, a in email.utils.getaddresses([value]) if a]
    address = valid_address(found[0]) if len(found) == 1 else None
    if address is None:
        return None, "reply_address_invalid"
    cfg, lowered = office.cfg, address.lower()
    domains = {d.lower() for d in (cfg.agency.mailbox_address.rpartition("@")[2], *cfg.agency.forward_domains) if d}
    ours = {a.lower() for a in (cfg.agency.mailbox_address, cfg.daemon.admin_email, cfg.lifecycle.opdc_email) if a}
    if lowered in ours or lowered.rpartition("@")[2] in domains:
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
    # Their own address again: back to it (nothing recorded beside it).
    recorded = None if address.lower() == app.applicant_email.lower() else address
    if recorded == app.reply_to:
        return Named(address=recorded)
    applications.update(office.reg, tid, reply_to=recorded, updated_at=to_iso(now))
    office.reg.add_event(
        at=now,
        actor="system",
        action=RECORDED,
        transaction_id=tid,
        before=app.status,
        after=app.status,
        detail={"address": address, "previous": app.reply_to, "from": sender, "message_id": message_id},
    )
    return Named(address=address, changed=True)


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
