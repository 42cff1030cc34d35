"""The outbox's rows (table ``outbox``) and the blocked addresses
(``blocked_addresses``): the SQL of queueing, sending and of what comes back
about sent mail. Rows come back as ``OutgoingMail`` records; writes happen
inside the caller's transaction (``Registry.transaction()``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import OutgoingMail

# Kinds of automatic answer counted by the per-sender limit (a loop with another robot).
AUTOMATIC_ANSWERS = ("ack", "receipt", "oversized")
# Mail that carries a secret (issue 11): sealed while queued (``key_id``), its
# body removed once it is sent, failed or blocked, and never copied to Sent.
SECRET_KINDS = ("permit_password",)


# --- queueing ------------------------------------------------------------------------------
def add(
    reg: Registry,
    *,
    message_id: str,
    tid: str | None,
    kind: str,
    recipient: str,
    sender: str,
    subject: str,
    raw: bytes,
    now: datetime,
    due: datetime | None = None,
    key_id: str | None = None,
    sms_to: str | None = None,
    sms_text: bytes | None = None,
) -> int:
    """Queue one message, due at ``due`` (default at once); returns its row id.
    With ``key_id``, ``raw`` and ``sms_text`` are sealed under that key."""
    return reg.insert(
        "outbox",
        {
            "message_id": message_id,
            "transaction_id": tid,
            "kind": kind,
            "recipient": recipient,
            "sender": sender,
            "subject": subject,
            "raw": raw,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": to_iso(due or now),
            "created_at": to_iso(now),
            "key_id": key_id,
            "sms_to": sms_to,
            "sms_text": sms_text,
        },
    )


# --- reading -------------------------------------------------------------------------------
def due(reg: Registry, now: datetime, limit: int) -> list[OutgoingMail]:
    """Pending mail whose next attempt is due at ``now``, oldest first.
    Compared as instants in Python: stored times may carry different offsets."""
    pending = [OutgoingMail.from_row(r) for r in reg.all("SELECT * FROM outbox WHERE status = 'pending' ORDER BY id")]
    return [m for m in pending if datetime.fromisoformat(m.next_attempt_at) <= now][:limit]


def get(reg: Registry, mail_id: int) -> OutgoingMail | None:
    """One outgoing mail by its row ID, with its wire form (``outbox show``)."""
    row = reg.one("SELECT * FROM outbox WHERE id = ?", (mail_id,))
    return None if row is None else OutgoingMail.from_row(row)


def by_message_id(reg: Registry, message_id: str) -> OutgoingMail | None:
    row = reg.one("SELECT * FROM outbox WHERE message_id = ?", (message_id,))
    return None if row is None else OutgoingMail.from_row(row)


def is_ours(reg: Registry, message_id: str) -> bool:
    """Did we send (or queue) a message with this Message-ID?"""
    return reg.one("SELECT 1 AS x FROM outbox WHERE message_id = ?", (message_id,)) is not None


def transaction_of(reg: Registry, message_ids: Iterable[str]) -> str | None:
    """The application the first of ``message_ids`` we sent was about."""
    for mid in message_ids:
        row = reg.one("SELECT transaction_id FROM outbox WHERE message_id = ? AND transaction_id IS NOT NULL", (mid,))
        if row:
            return str(row["transaction_id"])
    return None


def last_sent_to(reg: Registry, addresses: Iterable[str]) -> str | None:
    """The Message-ID of the last mail sent to one of ``addresses`` (compared in lower case)."""
    wanted = sorted({str(a).strip().lower() for a in addresses})[:20]
    if not wanted:
        return None
    marks = ", ".join("?" for _ in wanted)
    row = reg.one(
        f"SELECT message_id FROM outbox WHERE lower(recipient) IN ({marks}) "
        "AND status IN ('sent', 'bounced') ORDER BY id DESC LIMIT 1",
        tuple(wanted),
    )
    return str(row["message_id"]) if row else None


def answers_since(reg: Registry, recipient: str, since: datetime, kinds: tuple[str, ...] = AUTOMATIC_ANSWERS) -> int:
    """How many automatic answers of ``kinds`` were queued to ``recipient`` after ``since``."""
    marks = ", ".join("?" for _ in kinds)
    rows = reg.all(f"SELECT created_at FROM outbox WHERE recipient = ? AND kind IN ({marks})", (recipient, *kinds))
    return sum(1 for r in rows if datetime.fromisoformat(r["created_at"]) > since)


def statuses(reg: Registry, message_ids: Iterable[str]) -> dict[str, str]:
    """Message-ID -> status for those of ``message_ids`` in the outbox."""
    ids = list(message_ids)
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    return {
        r["message_id"]: r["status"]
        for r in reg.all(f"SELECT message_id, status FROM outbox WHERE message_id IN ({marks})", tuple(ids))
    }


def not_copied_to_sent(reg: Registry, limit: int = 200) -> list[OutgoingMail]:
    """Mail sent (or bounced since) that has no copy in the mailbox's Sent
    folder yet; mail that carried a secret never gets one."""
    marks = ", ".join("?" for _ in SECRET_KINDS)
    return [
        OutgoingMail.from_row(r)
        for r in reg.all(
            "SELECT * FROM outbox WHERE status IN ('sent', 'bounced') AND copied_to_sent = 0 "
            f"AND kind NOT IN ({marks}) ORDER BY id LIMIT ?",
            (*SECRET_KINDS, limit),
        )
    ]


def of_application(reg: Registry, tid: str) -> list[OutgoingMail]:
    """Every mail queued about application ``tid``, in order."""
    return [OutgoingMail.from_row(r) for r in reg.all("SELECT * FROM outbox WHERE transaction_id = ? ORDER BY id", (tid,))]


def listing(reg: Registry, *, status: str | None = None) -> list[OutgoingMail]:
    """The outbox, or the rows with ``status``, in order (``raw`` is not read)."""
    columns = ", ".join(f.name for f in dataclasses.fields(OutgoingMail) if f.name not in ("raw", "sms_text"))
    sql = f"SELECT {columns} FROM outbox" + (" WHERE status = ?" if status else "") + " ORDER BY id"
    return [OutgoingMail.from_row(r) for r in reg.all(sql, (status,) if status else ())]


def count_by_status(reg: Registry) -> dict[str, int]:
    return {r["status"]: r["n"] for r in reg.all("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")}


# --- what sending did ----------------------------------------------------------------------
def _forget_secret(mail: OutgoingMail) -> dict[str, Any]:
    """The changes that leave of a secret's mail only that it went, when, to
    whom and its Message-ID (the caller shreds the key after the commit)."""
    if mail.kind not in SECRET_KINDS and mail.key_id is None:
        return {}
    return {"raw": b"", "sms_text": None, "key_id": None, "copied_to_sent": 1}


def mark_sent(reg: Registry, mail: OutgoingMail, now: datetime, channel: str | None = None) -> None:
    changes = {"status": "sent", "attempts": mail.attempts + 1, "sent_at": to_iso(now), "last_error": None}
    reg.update("outbox", "id", mail.id, {**changes, "channel": channel, **_forget_secret(mail)})


def mark_failed(reg: Registry, mail: OutgoingMail, reason: str) -> None:
    """Given up: a permanent refusal, or temporary ones for too long."""
    changes = {"status": "failed", "attempts": mail.attempts + 1, "last_error": reason[:500]}
    reg.update("outbox", "id", mail.id, {**changes, **_forget_secret(mail)})


def mark_retry(reg: Registry, mail: OutgoingMail, error: str, at: datetime) -> None:
    reg.update("outbox", "id", mail.id, {"attempts": mail.attempts + 1, "last_error": error[:500], "next_attempt_at": to_iso(at)})


def mark_blocked(reg: Registry, mail: OutgoingMail, reason: str) -> None:
    reg.update("outbox", "id", mail.id, {"status": "blocked", "last_error": reason[:500], **_forget_secret(mail)})


def withdraw(reg: Registry, message_id: str, reason: str) -> None:
    """Mail still queued that is no longer to be sent (a password replaced by a new one)."""
    mail = by_message_id(reg, message_id)
    if mail is not None and mail.status == "pending":
        reg.update("outbox", "id", mail.id, {"status": "failed", "last_error": reason[:500], **_forget_secret(mail)})


def pending_key_ids(reg: Registry) -> set[str]:
    """The keys still needed: those of sealed mail not sent yet."""
    return {r["key_id"] for r in reg.all("SELECT key_id FROM outbox WHERE key_id IS NOT NULL")}


def mark_copied_to_sent(reg: Registry, ids: Iterable[int]) -> None:
    reg.conn.executemany("UPDATE outbox SET copied_to_sent = 1 WHERE id = ?", [(i,) for i in ids])


def mark_acknowledged(reg: Registry, tid: str, now: datetime) -> None:
    """The acknowledgement of ``tid`` was accepted by SMTP: the first one counts (R5)."""
    reg.conn.execute(
        "UPDATE applications SET acknowledged_at = ? WHERE transaction_id = ? AND acknowledged_at IS NULL", (to_iso(now), tid)
    )


def unacknowledge(reg: Registry, tid: str) -> None:
    """The acknowledgement bounced: it no longer counts as given."""
    reg.update("applications", "transaction_id", tid, {"acknowledged_at": None})


# --- what comes back -----------------------------------------------------------------------
def mark_read(reg: Registry, mail: OutgoingMail, now: datetime) -> None:
    """A read receipt: the first one counts."""
    reg.conn.execute("UPDATE outbox SET read_at = ? WHERE id = ? AND read_at IS NULL", (to_iso(now), mail.id))


def mark_bounced(reg: Registry, mail: OutgoingMail, reason: str) -> None:
    reg.update("outbox", "id", mail.id, {"status": "bounced", "last_error": reason[:500]})


def add_delivery_note(reg: Registry, mail: OutgoingMail, note: dict[str, Any]) -> None:
    """Append a note to the row's ``delivery_notes`` (read afresh: two reports may arrive in one sweep)."""
    current = reg.one("SELECT delivery_notes FROM outbox WHERE id = ?", (mail.id,))
    notes = json.loads(current["delivery_notes"] if current and current["delivery_notes"] else "[]")
    reg.update("outbox", "id", mail.id, {"delivery_notes": json.dumps(notes + [note], ensure_ascii=False)})


def block_address(
    reg: Registry, address: str, *, reason: str, since: datetime, until: str, outbox_id: int, message_row: int
) -> None:
    """Block ``address`` until ``until`` (a later hard bounce replaces the block)."""
    reg.conn.execute(
        "INSERT INTO blocked_addresses (address, reason, since, until, outbox_id, message_row) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(address) DO UPDATE SET reason = excluded.reason, since = excluded.since, until = excluded.until, "
        "outbox_id = excluded.outbox_id, message_row = excluded.message_row",
        (address, reason[:300], to_iso(since), until, outbox_id, message_row),
    )
