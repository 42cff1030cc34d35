"""Mail held for the clerk (issue 11): a message that quotes an application's
transaction ID but neither comes from the applicant's address (passing DMARC
where the agency's MTA recorded a result) nor answers one of our Message-IDs.
The intake keeps it with its files and the reason, joined to nothing; it never
moves the application and gets no automatic answer.

The clerk lists it (``held``), then either releases it (``release``: it joins
the application as if the applicant had sent it, and the application reacts,
e.g. a slip while a fee is due moves it to ``fee_submitted``) or dismisses it
with a reason (``dismiss``). Both are audit events by the acting clerk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base.data import applications, messages, senders
from mailintake.base.data.db import Registry
from mailintake.base.data.records import Message
from mailintake.base.errors import NotFound, StepRefused
from mailintake.desk.office import Office
from mailintake.desk.reactions import REPLIED, Happened, react
from mailintake.desk.roles import require

ROLES = ("clerk", "approver")  # as cli/policy.py's door for triage release and dismiss


def describe(reg: Registry, m: Message) -> dict[str, Any]:
    """One held message as the clerk's listings show it."""
    return {
        "id": m.id,
        "transaction_id": m.held_for,
        "reason": m.held_reason,
        "from": m.from_addr,
        "reply_to": m.reply_to,
        "subject": m.subject,
        "received_at": m.received_at,
        "message_id": m.message_id,
        "sha256": m.sha256,
        "files": [
            {"name": f.name, "content_type": f.content_type, "size": f.size, "accepted": bool(f.accepted), "sha256": f.sha256}
            for f in senders.files_of_message(reg, m.id)
        ],
    }


def held(reg: Registry, tid: str | None = None) -> list[dict[str, Any]]:
    """Every message waiting for the clerk, oldest first (for ``tid`` only, when given)."""
    return [describe(reg, m) for m in senders.held(reg, tid)]


def _held_row(reg: Registry, row: int) -> Message:
    m = messages.get(reg, row)
    if m is None:
        raise NotFound(f"no message #{row}")
    if m.kind != senders.HELD or not m.held_for:
        raise StepRefused(f"message #{row} is not held (it is {m.kind})")
    return m


def release(office: Office, row: int, now: datetime) -> str:
    """The clerk judged held message ``row`` the applicant's: it joins its
    application with its files, and the application reacts as to the
    applicant's reply. Returns the transaction ID."""
    user = require(office.cfg, *ROLES)
    reg = office.reg
    with reg.transaction():
        m = _held_row(reg, row)
        tid = m.held_for
        assert tid is not None
        app = applications.get(reg, tid)
        if app is None:
            raise NotFound(f"no application {tid}")
        senders.join(reg, row, tid)
        files = senders.files_of_message(reg, row)
        reg.add_event(
            at=now,
            actor=user.login,
            action="held_released",
            transaction_id=tid,
            before=app.status,
            after=app.status,
            detail={"message": row, "from": m.from_addr, "files": len(files), "held_because": m.held_reason},
        )
        kept = tuple((f.name, f.kind, bool(f.accepted) or f.problem == "low_resolution") for f in files)
        react(reg, Happened(REPLIED, tid, has_files=bool(files), files=kept), now, office)
    return tid


def dismiss(office: Office, row: int, reason: str, now: datetime) -> str:
    """The clerk judged held message ``row`` not the applicant's: it stays
    recorded (kind ``dismissed``) and joins nothing. Returns the transaction ID it named."""
    user = require(office.cfg, *ROLES)
    if not reason.strip():
        raise StepRefused("--reason is required")
    reg = office.reg
    with reg.transaction():
        m = _held_row(reg, row)
        senders.dismiss(reg, row)
        reg.add_event(
            at=now,
            actor=user.login,
            action="held_dismissed",
            transaction_id=m.held_for,
            detail={"message": row, "from": m.from_addr, "reason": reason.strip()[:500], "held_because": m.held_reason},
        )
    assert m.held_for is not None
    return m.held_for
