"""The applications' rows (table ``applications``) and what the desk reads
beside them: the files, messages, outgoing mail and events of one application,
and the counts of the status page. Rows come back as records
(``Application``, ``StoredFile``, ``Message``, ``OutgoingMail``, ``Event``);
writes happen inside the caller's transaction (``Registry.transaction()``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import Application, Event, Message, OutgoingMail, StoredFile

# The outbox's columns a listing shows: all but the raw message.
_OUTBOX_LISTED = (
    "id, message_id, transaction_id, kind, recipient, sender, subject, status, attempts, next_attempt_at, "
    "last_error, created_at, sent_at, read_at, delivery_notes"
)


# --- applications --------------------------------------------------------------------------
def get(reg: Registry, tid: str) -> Application | None:
    """The application ``tid`` (compared in upper case, as IDs are written)."""
    row = reg.one("SELECT * FROM applications WHERE transaction_id = ?", (tid.strip().upper(),))
    return None if row is None else Application.from_row(row)


def every(reg: Registry) -> list[Application]:
    """Every application and inquiry, in no particular order."""
    return [Application.from_row(r) for r in reg.all("SELECT * FROM applications")]


def in_status(reg: Registry, status: str) -> list[Application]:
    return [Application.from_row(r) for r in reg.all("SELECT * FROM applications WHERE status = ?", (status,))]


def by_deemed_receipt(reg: Registry) -> list[Application]:
    """Every application in the order of the service log (deemed receipt as written, then ID)."""
    return [Application.from_row(r) for r in reg.all("SELECT * FROM applications ORDER BY deemed_received_at, transaction_id")]


def answered_inquiries(reg: Registry) -> list[Application]:
    """Inquiries answered, in the order they came."""
    return [
        Application.from_row(r)
        for r in reg.all("SELECT * FROM applications WHERE kind = 'inquiry' AND status = 'answered' ORDER BY received_at")
    ]


def update(reg: Registry, tid: str, **changes: Any) -> None:
    """Change columns of ``tid``; tuples, lists and dicts are written as JSON."""
    reg.update("applications", "transaction_id", tid, {k: _column(v) for k, v in changes.items()})


def move(
    reg: Registry, app: Application, target: str, *, actor: str, action: str, now: datetime, detail: Any = None, **changes: Any
) -> Application:
    """Move ``app`` to status ``target`` and write the audit event (who, when,
    status before and after); returns the application after it."""
    update(reg, app.transaction_id, status=target, updated_at=to_iso(now), **changes)
    reg.add_event(
        at=now, actor=actor, action=action, transaction_id=app.transaction_id, before=app.status, after=target, detail=detail
    )
    moved = get(reg, app.transaction_id)
    assert moved is not None
    return moved


def _column(value: Any) -> Any:
    if isinstance(value, (tuple, list, dict)):
        return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)
    return value


# --- what belongs to one application --------------------------------------------------------
def files_of(reg: Registry, tid: str) -> list[StoredFile]:
    return [StoredFile.from_row(r) for r in reg.all("SELECT * FROM files WHERE transaction_id = ? ORDER BY id", (tid,))]


def file_names(reg: Registry, tid: str) -> list[str]:
    return [r["name"] for r in reg.all("SELECT name FROM files WHERE transaction_id = ?", (tid,))]


def last_files(reg: Registry, tid: str) -> list[StoredFile]:
    """The files of the last message of ``tid`` that brought any (a payment slip)."""
    last = reg.one("SELECT message_row FROM files WHERE transaction_id = ? ORDER BY id DESC LIMIT 1", (tid,))
    if last is None:
        return []
    return [StoredFile.from_row(r) for r in reg.all("SELECT * FROM files WHERE message_row = ?", (last["message_row"],))]


def messages_of(reg: Registry, tid: str) -> list[Message]:
    return [Message.from_row(r) for r in reg.all("SELECT * FROM messages WHERE transaction_id = ? ORDER BY id", (tid,))]


def inbound_of(reg: Registry, tid: str) -> list[Message]:
    """The applicant's own mail of ``tid`` (the application and replies), in the order it came."""
    return [
        Message.from_row(r)
        for r in reg.all(
            "SELECT * FROM messages WHERE transaction_id = ? AND kind IN ('application', 'reply') ORDER BY id", (tid,)
        )
    ]


def first_message(reg: Registry, tid: str) -> Message | None:
    """The mail that opened ``tid``."""
    row = reg.one("SELECT * FROM messages WHERE transaction_id = ? AND kind = 'application' ORDER BY id LIMIT 1", (tid,))
    return None if row is None else Message.from_row(row)


def outgoing_of(reg: Registry, tid: str) -> list[OutgoingMail]:
    return [
        OutgoingMail.from_row(r)
        for r in reg.all(f"SELECT {_OUTBOX_LISTED} FROM outbox WHERE transaction_id = ? ORDER BY id", (tid,))
    ]


def events_of(reg: Registry, tid: str) -> list[Event]:
    return [Event.from_row(r) for r in reg.all("SELECT * FROM events WHERE transaction_id = ? ORDER BY id", (tid,))]


def last_event(reg: Registry, tid: str, action: str) -> Event | None:
    row = reg.one("SELECT * FROM events WHERE transaction_id = ? AND action = ? ORDER BY id DESC LIMIT 1", (tid, action))
    return None if row is None else Event.from_row(row)


# --- listings and counts -------------------------------------------------------------------
def outbox(reg: Registry, status: str | None = None) -> list[OutgoingMail]:
    """Outgoing mail (without its raw bytes), oldest first."""
    sql = f"SELECT {_OUTBOX_LISTED} FROM outbox" + (" WHERE status = ?" if status else "") + " ORDER BY id"
    return [OutgoingMail.from_row(r) for r in reg.all(sql, (status,) if status else ())]


def quarantined(reg: Registry) -> list[Message]:
    return [Message.from_row(r) for r in reg.all("SELECT * FROM messages WHERE kind = 'quarantined' ORDER BY id")]


def counts(reg: Registry, table: str, column: str) -> dict[str, int]:
    """Rows of ``table`` (messages, applications, outbox) per value of ``column`` (kind, status)."""
    if table not in ("messages", "applications", "outbox") or column not in ("kind", "status"):
        raise ValueError(f"no count of {table} by {column}")
    return {r["value"]: r["n"] for r in reg.all(f"SELECT {column} AS value, COUNT(*) AS n FROM {table} GROUP BY {column}")}


def unacknowledged(reg: Registry) -> int:
    row = reg.one("SELECT COUNT(*) AS n FROM applications WHERE acknowledged_at IS NULL")
    return int(row["n"]) if row else 0
