"""The messages taken from the mailbox (table ``messages``), where each was seen
(``seen``: folder, UIDVALIDITY, UID), the files they carried (``files``) and
the crash counter of messages in progress (``attempts``), and the new
application a message opens: the SQL of the intake road. Rows come back as frozen records; writes happen inside the caller's
transaction (``Registry.transaction()``), except the crash counter, which
commits on its own so a crash still counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import Message


@dataclass(frozen=True)
class Place:
    """Where a message sits on the server: its folder, UIDVALIDITY and UID."""

    folder: str
    uidvalidity: str
    uid: str


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# --- reading -----------------------------------------------------------------------------
def get(reg: Registry, row: int) -> Message | None:
    found = reg.one("SELECT * FROM messages WHERE id = ?", (row,))
    return None if found is None else Message.from_row(found)


def seen_at(reg: Registry, place: Place) -> Message | None:
    """The message registered from this place before (a crash or a failed flag
    left it on the server)."""
    found = reg.one(
        "SELECT m.* FROM seen s JOIN messages m ON m.id = s.message_row WHERE s.folder = ? AND s.uidvalidity = ? AND s.uid = ?",
        (place.folder, place.uidvalidity, place.uid),
    )
    return None if found is None else Message.from_row(found)


def known(reg: Registry, sha256: str, message_id: str | None, body_sha256: str) -> Message | None:
    """The message already registered with the same bytes, or with the same
    Message-ID and the same body (a redelivery with new Received lines)."""
    found = reg.one(
        "SELECT * FROM messages WHERE sha256 = ? AND kind != 'quarantined' AND kind != 'duplicate' ORDER BY id LIMIT 1", (sha256,)
    )
    if found is None and message_id:
        found = reg.one(
            "SELECT * FROM messages WHERE message_id = ? AND body_sha256 = ? "
            "AND kind NOT IN ('quarantined', 'duplicate') ORDER BY id LIMIT 1",
            (message_id, body_sha256),
        )
    return None if found is None else Message.from_row(found)


def quarantined(reg: Registry, row: int | None = None) -> list[Message]:
    """Every quarantined message, or the one with id ``row``, oldest first."""
    sql = "SELECT * FROM messages WHERE kind = 'quarantined'" + (" AND id = ?" if row else "") + " ORDER BY id"
    return [Message.from_row(r) for r in reg.all(sql, (row,) if row else ())]


def verify_requests_since(reg: Registry, from_addr: str, since: datetime, *, besides: int) -> int:
    """How many permit verifications ``from_addr`` asked after ``since``, the
    message ``besides`` left out."""
    rows = reg.all("SELECT received_at FROM messages WHERE kind = 'verify' AND from_addr = ? AND id != ?", (from_addr, besides))
    return sum(1 for r in rows if datetime.fromisoformat(r["received_at"]) > since)


def transaction_exists(reg: Registry, tid: str) -> bool:
    return reg.one("SELECT 1 AS x FROM applications WHERE transaction_id = ?", (tid,)) is not None


# --- writing (inside the caller's transaction) -------------------------------------------
def add(reg: Registry, columns: Mapping[str, Any], place: Place | None) -> int:
    """One message row (``columns``, JSON lists already encoded) and, when it
    came from the server, where it was seen; returns the row id."""
    row = reg.insert("messages", dict(columns))
    if place is not None:
        mark_seen(reg, place, row)
    return row


def mark_seen(reg: Registry, place: Place, row: int) -> None:
    reg.conn.execute(
        "INSERT OR REPLACE INTO seen (folder, uidvalidity, uid, message_row) VALUES (?, ?, ?, ?)",
        (place.folder, place.uidvalidity, place.uid, row),
    )


def quarantine_again(reg: Registry, row: int, stage: str, error: str) -> None:
    """A quarantined message failed again: the stage and error of this try."""
    reg.conn.execute("UPDATE messages SET stage = ?, error = ?, attempts = attempts + 1 WHERE id = ?", (stage, error[:1000], row))


def retire(reg: Registry, row: int) -> None:
    """A quarantined message retried: its old row is kept as ``retried`` and is
    no longer where the server's copy was seen (the new row is)."""
    reg.conn.execute("DELETE FROM seen WHERE message_row = ?", (row,))
    reg.conn.execute("UPDATE messages SET kind = 'retried' WHERE id = ?", (row,))


def add_file(
    reg: Registry,
    *,
    message_row: int,
    tid: str | None,
    sha256: str,
    name: str,
    size: int,
    declared_type: str,
    content_type: str,
    kind: str | None,
    accepted: bool,
    dpi: float | None,
    problem: str | None,
    problem_th: str | None,
    problem_en: str | None,
    details: Mapping[str, Any],
) -> int:
    return reg.insert(
        "files",
        {
            "transaction_id": tid,
            "message_row": message_row,
            "sha256": sha256,
            "name": name,
            "size": size,
            "declared_type": declared_type,
            "content_type": content_type,
            "kind": kind,
            "accepted": int(accepted),
            "dpi": dpi,
            "problem": problem,
            "problem_th": problem_th,
            "problem_en": problem_en,
            "details": _j(dict(details)),
        },
    )


def add_application(
    reg: Registry,
    *,
    tid: str,
    kind: str,
    service: str | None,
    juristic: bool,
    due_at: datetime | None,
    applicant_email: str,
    applicant_name: str | None,
    subject: str,
    received_at: datetime,
    deemed_received_at: datetime,
    ack_due_at: datetime,
    ack_reason: str,
    problems: list[str],
    flags: list[str],
    now: datetime,
) -> None:
    """A new application (or inquiry), status ``received``."""
    reg.insert(
        "applications",
        {
            "transaction_id": tid,
            "kind": kind,
            "status": "received",
            "service": service,
            "juristic": int(juristic),
            "due_at": to_iso(due_at),
            "applicant_email": applicant_email,
            "applicant_name": applicant_name,
            "subject": subject,
            "received_at": to_iso(received_at),
            "deemed_received_at": to_iso(deemed_received_at),
            "ack_due_at": to_iso(ack_due_at),
            "ack_reason": ack_reason,
            "problems": _j(problems),
            "flags": _j(flags),
            "created_at": to_iso(now),
            "updated_at": to_iso(now),
        },
    )


# --- the crash counter --------------------------------------------------------------------
def begin_attempt(reg: Registry, digest: str, now: datetime) -> int:
    """Count a processing attempt (committed first, so a crash still counts).
    It only has to survive the process dying, not the power: WAL with
    synchronous=NORMAL is enough, and saves a flush per message."""
    reg.conn.execute("PRAGMA synchronous=NORMAL")
    try:
        with reg.transaction():
            reg.conn.execute(
                "INSERT INTO attempts (sha256, count, last_at) VALUES (?, 1, ?) "
                "ON CONFLICT(sha256) DO UPDATE SET count = count + 1, last_at = excluded.last_at",
                (digest, to_iso(now)),
            )
            row = reg.one("SELECT count FROM attempts WHERE sha256 = ?", (digest,))
        return int(row["count"]) if row else 1
    finally:
        reg.conn.execute("PRAGMA synchronous=FULL")


def end_attempt(reg: Registry, digest: str) -> None:
    """Forget the crash counter of a message (call inside a transaction)."""
    reg.conn.execute("DELETE FROM attempts WHERE sha256 = ?", (digest,))
