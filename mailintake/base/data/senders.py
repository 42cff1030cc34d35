"""Who may make the office act (issue 11): the addresses an application
belongs to, the mail held for the clerk because it came from someone else
(``messages.kind = 'held'``, with ``held_for`` and ``held_reason``), and how
many automatic answers went out lately, per address and in all. Writes happen
inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry
from mailintake.base.data.records import Message, StoredFile

# Every automatic answer: counted by [limits] answers_per_address_per_hour and
# answers_per_hour (the desk's notices go to the applicant's registered
# address and are not automatic answers to whoever wrote).
AUTOMATIC_ANSWERS = ("ack", "receipt", "oversized", "verify_answer")
HELD, DISMISSED = "held", "dismissed"


def applicant_addresses(reg: Registry, tid: str) -> set[str]:
    """The addresses (lower case) an application belongs to: the one answers go
    to, the reply address the applicant named, and the From of the message that opened it."""
    out: set[str] = set()
    app = reg.one("SELECT applicant_email, reply_to FROM applications WHERE transaction_id = ?", (tid,))
    for column in ("applicant_email", "reply_to"):  # the reply address the applicant named joins too (R5)
        if app is not None and app[column]:
            out.add(str(app[column]).lower())
    for r in reg.all(
        "SELECT from_addr FROM messages WHERE transaction_id = ? AND kind = 'application' AND from_addr IS NOT NULL", (tid,)
    ):
        out.add(str(r["from_addr"]).lower())
    return out


# --- held mail ----------------------------------------------------------------------------
def held(reg: Registry, tid: str | None = None) -> list[Message]:
    """Messages waiting for the clerk, oldest first (those naming ``tid`` only, when given)."""
    sql = "SELECT * FROM messages WHERE kind = 'held'" + (" AND held_for = ?" if tid else "") + " ORDER BY id"
    return [Message.from_row(r) for r in reg.all(sql, (tid,) if tid else ())]


def files_of_message(reg: Registry, row: int) -> list[StoredFile]:
    return [StoredFile.from_row(r) for r in reg.all("SELECT * FROM files WHERE message_row = ? ORDER BY id", (row,))]


def held_flag(reg: Registry, row: int, reason: str, tid: str) -> None:
    """Mark a message row held for application ``tid``, with the reason."""
    reg.conn.execute("UPDATE messages SET held_for = ?, held_reason = ? WHERE id = ?", (tid, reason[:500], row))


def join(reg: Registry, row: int, tid: str) -> None:
    """A held message released: it joins application ``tid``, with its files."""
    reg.conn.execute("UPDATE messages SET kind = 'reply', transaction_id = ? WHERE id = ?", (tid, row))
    reg.conn.execute("UPDATE files SET transaction_id = ? WHERE message_row = ?", (tid, row))


def dismiss(reg: Registry, row: int) -> None:
    reg.conn.execute("UPDATE messages SET kind = 'dismissed' WHERE id = ?", (row,))


# --- automatic answers lately ---------------------------------------------------------------
def _count_recent(rows: list[dict[str, Any]], since: datetime) -> int:
    return sum(1 for r in rows if datetime.fromisoformat(r["created_at"]) > since)


def answers_to_since(reg: Registry, address: str, since: datetime, at_most: int) -> int:
    """How many automatic answers were queued to ``address`` (any case) after
    ``since``, counted up to ``at_most`` (the latest rows only: enough for a cap)."""
    marks = ", ".join("?" for _ in AUTOMATIC_ANSWERS)
    rows = reg.all(
        f"SELECT created_at FROM outbox WHERE lower(recipient) = ? AND kind IN ({marks}) ORDER BY id DESC LIMIT ?",
        (address.lower(), *AUTOMATIC_ANSWERS, at_most),
    )
    return _count_recent(rows, since)


def answers_since(reg: Registry, since: datetime, at_most: int) -> int:
    """How many automatic answers were queued to anyone after ``since``, up to ``at_most``."""
    marks = ", ".join("?" for _ in AUTOMATIC_ANSWERS)
    rows = reg.all(
        f"SELECT created_at FROM outbox WHERE kind IN ({marks}) ORDER BY id DESC LIMIT ?", (*AUTOMATIC_ANSWERS, at_most)
    )
    return _count_recent(rows, since)
