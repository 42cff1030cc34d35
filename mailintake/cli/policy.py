"""Who may run which command (issue 11, R27): every command that reads or
changes the registry names the roles that may run it, reads included, and
whether it changes state (then ``--now`` needs a test or replay deployment).

The desk checks again, step by step (an approval needs the approver, whoever
calls it); this table is the door of each command. The owner of the data holds
every role (``base.identity``). A test walks the command tree and fails on a
command this table does not name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Door:
    roles: tuple[str, ...]
    writes: bool = False
    owner_only: bool = False  # never through the socket: it would run as the service account


STAFF = ("clerk", "approver", "finance")  # those who work on applications
DECLARED = ("clerk", "approver", "finance", "admin")
CLERKS = ("clerk", "approver")
ADMIN = ("admin",)

DOORS: dict[str, Door] = {
    # The daemon and the socket server are the service account's own.
    "run": Door(ADMIN, writes=True, owner_only=True),
    "serve": Door(ADMIN, owner_only=True),
    "sweep": Door(("clerk", "admin"), writes=True),
    "status": Door(DECLARED),
    "rules check": Door(("clerk", "admin")),
    # Applications and their files: those who work on them; not the admin (PDPA: need to know).
    "triage list": Door(STAFF),
    "triage show": Door(STAFF),
    "triage files": Door(STAFF),
    "triage export": Door(CLERKS),
    "triage take": Door(("clerk",), writes=True),
    "triage assign": Door(CLERKS, writes=True),
    "triage note": Door(STAFF, writes=True),
    "triage set": Door(CLERKS, writes=True),
    "triage check": Door(CLERKS, writes=True),
    "triage review": Door(CLERKS, writes=True),
    "triage request-info": Door(CLERKS, writes=True),
    "triage reply": Door(CLERKS, writes=True),
    "triage verify-identity": Door(CLERKS, writes=True),
    "triage approve": Door(("approver",), writes=True),
    "triage reject": Door(("approver",), writes=True),
    "triage held": Door(CLERKS),
    "triage release": Door(CLERKS, writes=True),
    "triage dismiss": Door(CLERKS, writes=True),
    "triage delay-reason": Door(CLERKS, writes=True),
    # The s.10 delay register (R25) and its job (the daemon runs it too).
    "delays list": Door(CLERKS),
    "delays export": Door(CLERKS),
    "delays run": Door(("clerk", "admin"), writes=True),
    # The deadline jobs (issue 12; the daemon runs them after each sweep), the reminders sent, statistics.
    "deadlines run": Door(("clerk", "admin"), writes=True),
    "reminders list": Door(CLERKS),
    "report acks": Door(("clerk", "approver", "admin")),
    "report satisfaction": Door(("clerk", "approver", "admin")),
    # The monthly statistics (issue 14, R28): counts only, no personal data; writes files, not the registry.
    "report monthly": Door(DECLARED),
    # The registry book (issue 16): the clerks read it; a clerk writes in it.
    "book print": Door(CLERKS),
    "book check": Door(CLERKS),
    "book add": Door(("clerk",), writes=True),
    "book cancel": Door(("clerk",), writes=True),
    "book start-at": Door(("clerk",), writes=True),
    "book stamp": Door(("clerk",), writes=True),
    # Retention (issue 16): the clerk makes the list, an admin records the approval that erases.
    "book destruction-list": Door(("clerk", "admin"), writes=True),
    "book destroy": Door(ADMIN, writes=True),
    "book export": Door(("clerk", "admin"), writes=True),  # it makes the stamped copies not made yet
    "triage route": Door(CLERKS, writes=True),
    "triage doc": Door(CLERKS, writes=True),
    "payments list": Door(("finance", "clerk")),
    "payments confirm": Door(("finance",), writes=True),
    "payments reject": Door(("finance",), writes=True),
    "payments receipt": Door(("finance", *CLERKS)),  # a copy of an e-receipt as sent
    # Appointments at the counter (R10): the clerks offer and cancel; the day's queue is theirs.
    "appointments offer": Door(CLERKS, writes=True),
    "appointments book": Door(CLERKS, writes=True),
    "appointments cancel": Door(CLERKS, writes=True),
    "appointments list": Door(CLERKS),
    "inquiries answer": Door(("clerk",), writes=True),
    "inquiries faq": Door(CLERKS),
    "inquiries faq list": Door(CLERKS),
    "inquiries faq add": Door(CLERKS, writes=True),
    "inquiries faq remove": Door(CLERKS, writes=True),
    "permit list": Door(STAFF),
    "permit status": Door(DECLARED),
    "permit verify": Door(DECLARED),
    "permit issue": Door(CLERKS, writes=True),
    "permit resend": Door(CLERKS, writes=True),
    "permit revoke": Door(("approver",), writes=True),
    "permit publish": Door(CLERKS, writes=True),
    # The public site (issue 14): files only, the registry unchanged.
    "publish": Door(("clerk", "approver", "admin")),
    "log export": Door(CLERKS),
    "outbox list": Door(("clerk", "admin")),
    "outbox show": Door(("clerk",)),
    "outbox send": Door(("clerk", "admin"), writes=True),
    "quarantine list": Door(("clerk", "admin")),
    "quarantine retry": Door(("clerk", "admin"), writes=True),
    # The audit log and backups: the admin's.
    "audit list": Door(ADMIN),
    "audit verify": Door(ADMIN),
    "audit anchor": Door(ADMIN, writes=True),
    "backup create": Door(ADMIN, writes=True),
    "backup restore": Door(ADMIN, writes=True, owner_only=True),
    "backup verify": Door(ADMIN),
    "purge": Door(ADMIN, writes=True),
    # The working-day calendar: everyone reads it; the admin imports the announced holidays.
    "calendar show": Door(DECLARED),
    "calendar import": Door(ADMIN, writes=True),
}

# Commands that never open a deployment's data: they need no role.
NO_DATA = frozenset({"init", "demo"})


def door(path: str) -> Door | None:
    """The door of the command at ``path`` ("triage list"), or None."""
    return DOORS.get(path)
