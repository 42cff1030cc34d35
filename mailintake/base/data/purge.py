"""The SQL of ``mailintake purge`` (PDPA): what is past retention, and the
blanking of personal fields that keeps the registry rows and the audit trail.
Writes happen inside the caller's transaction (``Registry.transaction()``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso

# An application in one of these has nothing left to do.
FINISHED = ("rejected", "delivered", "closed", "answered", "withdrawn", "fee_expired")
# Mail that opened no application: spam, robots' mail, VERIFY requests, and the like.
UNATTACHED = ("spam", "autoreply", "bounce", "own", "verify", "oversized", "duplicate")
QUARANTINED = ("quarantined", "retried")


def _before(rows: list[dict[str, Any]], column: str, cutoff: datetime) -> list[dict[str, Any]]:
    """Rows whose ``column`` is before ``cutoff``, compared as instants (stored times carry their offsets)."""
    return [r for r in rows if r[column] and datetime.fromisoformat(r[column]) < cutoff]


def finished_applications(reg: Registry, cutoff: datetime) -> list[dict[str, Any]]:
    """Finished before ``cutoff`` and not on the registry book (its lines go by
    their retention class and an approved destruction list: ``data.retention``)."""
    marks = ", ".join("?" for _ in FINISHED)
    rows = reg.all(
        f"SELECT transaction_id, status, updated_at FROM applications WHERE purged_at IS NULL AND status IN ({marks}) "
        "AND NOT EXISTS (SELECT 1 FROM book b WHERE b.transaction_id = applications.transaction_id) "  # kept by the book
        "ORDER BY transaction_id",
        FINISHED,
    )
    return _before(rows, "updated_at", cutoff)


def loose_messages(reg: Registry, kinds: tuple[str, ...], cutoff: datetime) -> list[dict[str, Any]]:
    """Messages of ``kinds`` attached to no application, recorded before ``cutoff``."""
    marks = ", ".join("?" for _ in kinds)
    rows = reg.all(
        f"SELECT id, kind, sha256, stored, created_at FROM messages WHERE purged_at IS NULL AND kind IN ({marks}) "
        "AND transaction_id IS NULL ORDER BY id",
        kinds,
    )
    return _before(rows, "created_at", cutoff)


def stored_of_application(reg: Registry, tid: str) -> set[str]:
    """The store files of an application: its mail, its files, its permit files."""
    found = {r["sha256"] for r in reg.all("SELECT sha256 FROM messages WHERE transaction_id = ? AND stored = 1", (tid,))}
    found |= {r["sha256"] for r in reg.all("SELECT sha256 FROM files WHERE transaction_id = ?", (tid,))}
    found |= {r["pdf_sha256"] for r in reg.all("SELECT pdf_sha256 FROM permits WHERE transaction_id = ?", (tid,))}
    found |= {r["sha256"] for r in reg.all("SELECT sha256 FROM receipts WHERE transaction_id = ?", (tid,))}  # e-receipts
    return found | _stamped(reg, "WHERE transaction_id = ?", (tid,))


def _stamped(reg: Registry, where: str, params: tuple[Any, ...] = ()) -> set[str]:
    """The stamped copies (issue 16) and the PDFs made from mail they were stamped on."""
    rows = reg.all(f"SELECT sha256, original_sha256 FROM stamped_files s {where}", params)
    return {r["sha256"] for r in rows} | {r["original_sha256"] for r in rows}


def still_needed(reg: Registry, sha256: str) -> bool:
    """Whether a row not purged still refers to this store file (content-addressed: shared)."""
    return (
        reg.one("SELECT 1 AS x FROM messages WHERE sha256 = ? AND stored = 1 AND purged_at IS NULL", (sha256,)) is not None
        or reg.one(
            "SELECT 1 AS x FROM files f JOIN applications a ON a.transaction_id = f.transaction_id "
            "WHERE f.sha256 = ? AND a.purged_at IS NULL",
            (sha256,),
        )
        is not None
        or reg.one(
            "SELECT 1 AS x FROM permits p JOIN applications a ON a.transaction_id = p.transaction_id "
            "WHERE p.pdf_sha256 = ? AND a.purged_at IS NULL",
            (sha256,),
        )
        is not None
        or reg.one(
            "SELECT 1 AS x FROM receipts r JOIN applications a ON a.transaction_id = r.transaction_id "
            "WHERE r.sha256 = ? AND a.purged_at IS NULL",
            (sha256,),
        )
        is not None
        or bool(
            _stamped(
                reg,
                "JOIN applications a ON a.transaction_id = s.transaction_id "
                "WHERE (s.sha256 = ? OR s.original_sha256 = ?) AND a.purged_at IS NULL",
                (sha256, sha256),
            )
        )
    )


_MESSAGE_BLANKS = (
    "from_addr = NULL, reply_to = NULL, to_addrs = NULL, subject = NULL, headers = NULL, received_chain = NULL, stored = 0"
)


def blank_application(reg: Registry, tid: str, now: datetime) -> None:
    """The personal fields of ``tid``, its mail and its files blanked; the rows stay."""
    reg.conn.execute("PRAGMA secure_delete = ON")  # freed bytes are overwritten, not left in the file
    at = to_iso(now)
    reg.conn.execute(
        "UPDATE applications SET applicant_email = '', applicant_name = NULL, subject = NULL, identity = NULL, "
        "reply_to = NULL, purged_at = ? WHERE transaction_id = ?",
        (at, tid),
    )
    reg.conn.execute(f"UPDATE messages SET {_MESSAGE_BLANKS}, purged_at = ? WHERE transaction_id = ?", (at, tid))
    reg.conn.execute("UPDATE files SET name = '', details = NULL WHERE transaction_id = ?", (tid,))
    reg.conn.execute(
        "UPDATE outbox SET status = 'failed', last_error = 'purged before it was sent' "
        "WHERE transaction_id = ? AND status = 'pending'",
        (tid,),
    )
    reg.conn.execute(
        "UPDATE outbox SET raw = X'', sms_text = NULL, sms_to = NULL, key_id = NULL, recipient = '' WHERE transaction_id = ?",
        (tid,),
    )


def blank_message(reg: Registry, row: int, now: datetime) -> None:
    reg.conn.execute("PRAGMA secure_delete = ON")
    reg.conn.execute(f"UPDATE messages SET {_MESSAGE_BLANKS}, purged_at = ? WHERE id = ?", (to_iso(now), row))


def purged_store_files(reg: Registry) -> set[str]:
    """Store files of purged rows (to remove once nothing else needs them)."""
    found = {r["sha256"] for r in reg.all("SELECT sha256 FROM messages WHERE purged_at IS NOT NULL")}
    found |= {
        r["sha256"]
        for r in reg.all(
            "SELECT f.sha256 FROM files f JOIN applications a ON a.transaction_id = f.transaction_id "
            "WHERE a.purged_at IS NOT NULL"
        )
    }
    found |= {
        r["pdf_sha256"]
        for r in reg.all(
            "SELECT p.pdf_sha256 FROM permits p JOIN applications a ON a.transaction_id = p.transaction_id "
            "WHERE a.purged_at IS NOT NULL"
        )
    }
    found |= {
        r["sha256"]
        for r in reg.all(
            "SELECT r.sha256 FROM receipts r JOIN applications a ON a.transaction_id = r.transaction_id "
            "WHERE a.purged_at IS NOT NULL"
        )
    }  # the e-receipts' PDFs (their rows, without personal data, stay)
    return found | _stamped(reg, "JOIN applications a ON a.transaction_id = s.transaction_id WHERE a.purged_at IS NOT NULL")
