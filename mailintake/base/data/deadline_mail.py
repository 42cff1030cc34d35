"""What the deadline jobs sent (table ``deadline_mail``, issue 12): one row per
application (``''`` for mail about none, as the digest), kind and due date,
written in the transaction that queues the mail, so a job run twice sends
nothing twice; the acknowledgements of a month for ``report acks``; the
applicant's satisfaction score. Writes happen inside the caller's transaction.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso

# Kinds: reminders to the applicant, the withdrawal, the watchdog and the digest.
FEE, DOCS, WITHDRAWN, PERMIT_EXPIRY = "fee_due", "docs_due", "withdrawn", "permit_expiry"
REPORT = "report"  # a periodic report a service declares: kind "report:<id>"
ACK_LATE, DIGEST = "ack_late", "digest"
REMINDER_KINDS = (FEE, DOCS, WITHDRAWN, PERMIT_EXPIRY)


def add(
    reg: Registry,
    tid: str,
    kind: str,
    due_on: date | str,
    *,
    now: datetime,
    recipient: str | None = None,
    message_id: str | None = None,
    detail: Any = None,
) -> None:
    """Record one mail; a second row for the same key raises ``sqlite3.IntegrityError``."""
    reg.insert(
        "deadline_mail",
        {
            "transaction_id": tid,
            "kind": kind,
            "due_on": due_on if isinstance(due_on, str) else due_on.isoformat(),
            "sent_at": to_iso(now),
            "recipient": recipient,
            "message_id": message_id,
            "detail": None if detail is None else json.dumps(detail, ensure_ascii=False, default=str),
        },
    )


def has(reg: Registry, tid: str, kind: str, due_on: date | str) -> bool:
    key = due_on if isinstance(due_on, str) else due_on.isoformat()
    sql = "SELECT 1 FROM deadline_mail WHERE transaction_id = ? AND kind = ? AND due_on = ?"
    return reg.one(sql, (tid, kind, key)) is not None


def has_kind(reg: Registry, tid: str, kind: str) -> bool:
    return reg.one("SELECT 1 FROM deadline_mail WHERE transaction_id = ? AND kind = ?", (tid, kind)) is not None


def _row(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    out["detail"] = json.loads(r["detail"]) if r.get("detail") else None
    return out


def reminders(reg: Registry) -> list[dict[str, Any]]:
    """Every reminder and withdrawal sent, oldest first."""
    rows = reg.all(
        "SELECT * FROM deadline_mail WHERE kind IN (?, ?, ?, ?) OR kind LIKE 'report:%' ORDER BY sent_at, transaction_id",
        REMINDER_KINDS,
    )
    return [_row(r) for r in rows]


def of_kind(reg: Registry, kind: str) -> list[dict[str, Any]]:
    return [_row(r) for r in reg.all("SELECT * FROM deadline_mail WHERE kind = ? ORDER BY sent_at", (kind,))]


# --- the applications the jobs read -----------------------------------------------------------
def unacknowledged_due_before(reg: Registry, until: datetime) -> list[dict[str, Any]]:
    """Applications not yet acknowledged (SMTP never accepted their
    acknowledgement) whose ``ack_due_at`` is at or before ``until``."""
    rows = reg.all(
        "SELECT transaction_id, ack_due_at, received_at, deemed_received_at, status, flags, applicant_email "
        "FROM applications WHERE kind = 'application' AND acknowledged_at IS NULL AND purged_at IS NULL"
    )
    return [r for r in rows if datetime.fromisoformat(r["ack_due_at"]) <= until]


def deemed_in(reg: Registry, first: datetime, last: datetime) -> list[dict[str, Any]]:
    """Applications deemed received in [first, last), with their acknowledgement times."""
    rows = reg.all(
        "SELECT transaction_id, service, received_at, deemed_received_at, ack_due_at, acknowledged_at, flags "
        "FROM applications WHERE kind = 'application' ORDER BY deemed_received_at"
    )
    return [r for r in rows if first <= datetime.fromisoformat(r["deemed_received_at"]) < last]


def valid_permits(reg: Registry) -> list[dict[str, Any]]:
    """Permits delivered and not revoked since, with the address they went to."""
    return reg.all(
        "SELECT p.number, p.transaction_id, p.valid_until, p.holder_email FROM permits p "
        "JOIN applications a ON a.transaction_id = p.transaction_id "
        "WHERE p.status = 'delivered' AND a.purged_at IS NULL ORDER BY p.issued_at"
    )


# --- satisfaction -------------------------------------------------------------------------------
def set_satisfaction(reg: Registry, tid: str, score: int, now: datetime) -> None:
    reg.conn.execute(
        "UPDATE applications SET satisfaction = ?, satisfaction_at = ? WHERE transaction_id = ?", (score, to_iso(now), tid)
    )


def satisfaction_of(reg: Registry, tid: str) -> int | None:
    row = reg.one("SELECT satisfaction FROM applications WHERE transaction_id = ?", (tid,))
    return None if row is None or row["satisfaction"] is None else int(row["satisfaction"])


def satisfaction_scores(reg: Registry) -> list[dict[str, Any]]:
    """Every score given, with when, and when the application was closed."""
    return reg.all(
        "SELECT transaction_id, service, satisfaction, satisfaction_at FROM applications "
        "WHERE satisfaction IS NOT NULL ORDER BY satisfaction_at"
    )
