"""The s.10 delay notices and the clerk's reminders before them (table
``delay_notices``): one row per application, kind (``notice`` to the
applicant with its OPDC copy, ``reminder`` to the clerk) and number, written
in the transaction that queues the mail, so a job run twice sends nothing
twice. Writes happen inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso

NOTICE, REMINDER = "notice", "reminder"
_COLUMNS = "transaction_id, kind, number, due_on, sent_at, reason, recipient, message_id, opdc_recipient, opdc_message_id"


def add(
    reg: Registry,
    tid: str,
    kind: str,
    number: int,
    *,
    due_on: date,
    now: datetime,
    reason: str = "",
    recipient: str | None = None,
    message_id: str | None = None,
    opdc_recipient: str | None = None,
    opdc_message_id: str | None = None,
) -> None:
    reg.insert(
        "delay_notices",
        {
            "transaction_id": tid,
            "kind": kind,
            "number": number,
            "due_on": due_on.isoformat(),
            "sent_at": to_iso(now),
            "reason": reason,
            "recipient": recipient,
            "message_id": message_id,
            "opdc_recipient": opdc_recipient,
            "opdc_message_id": opdc_message_id,
        },
    )


def has(reg: Registry, tid: str, kind: str, number: int) -> bool:
    row = reg.one("SELECT 1 AS x FROM delay_notices WHERE transaction_id = ? AND kind = ? AND number = ?", (tid, kind, number))
    return row is not None


def last_number(reg: Registry, tid: str, kind: str) -> int:
    row = reg.one("SELECT MAX(number) AS n FROM delay_notices WHERE transaction_id = ? AND kind = ?", (tid, kind))
    return int(row["n"]) if row and row["n"] is not None else 0


def of(reg: Registry, tid: str, kind: str = NOTICE) -> list[dict[str, Any]]:
    """The rows of ``tid`` of ``kind``, in order."""
    return reg.all(f"SELECT {_COLUMNS} FROM delay_notices WHERE transaction_id = ? AND kind = ? ORDER BY number", (tid, kind))


def by_application(reg: Registry, tids: Iterable[str] | None = None, kind: str = NOTICE) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``kind`` grouped by application (all applications, or ``tids``)."""
    wanted = None if tids is None else set(tids)
    out: dict[str, list[dict[str, Any]]] = {}
    for row in reg.all(f"SELECT {_COLUMNS} FROM delay_notices WHERE kind = ? ORDER BY transaction_id, number", (kind,)):
        if wanted is None or row["transaction_id"] in wanted:
            out.setdefault(row["transaction_id"], []).append(row)
    return out
