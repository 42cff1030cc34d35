"""The registry: one SQLite file (WAL) through sqlite-utils.

Schema changes are numbered migrations recorded in ``PRAGMA user_version``.
Writes happen inside ``Registry.transaction()``; the audit log is append-only
(triggers refuse UPDATE and DELETE) and hash-chained.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from mailintake.base.store import StorageError, ensure_dir

MIGRATIONS: list[str] = [
    # 1: the intake core.
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        body_sha256 TEXT,
        message_id TEXT,
        kind TEXT NOT NULL,
        transaction_id TEXT,
        folder TEXT, uidvalidity TEXT, uid TEXT,
        received_at TEXT, internaldate TEXT, date_header TEXT,
        received_chain TEXT, fetched_at TEXT,
        size INTEGER,
        from_addr TEXT, reply_to TEXT, to_addrs TEXT, subject TEXT,
        defects TEXT, flags TEXT, headers TEXT,
        stored INTEGER NOT NULL DEFAULT 0,
        stage TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
        outbox_id INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE INDEX messages_sha ON messages(sha256);
    CREATE INDEX messages_mid ON messages(message_id);
    CREATE INDEX messages_tid ON messages(transaction_id);
    CREATE TABLE seen (
        folder TEXT NOT NULL, uidvalidity TEXT NOT NULL, uid TEXT NOT NULL,
        message_row INTEGER NOT NULL,
        PRIMARY KEY (folder, uidvalidity, uid)
    );
    CREATE TABLE applications (
        transaction_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        service TEXT,
        applicant_email TEXT NOT NULL,
        applicant_name TEXT,
        subject TEXT,
        received_at TEXT NOT NULL,
        deemed_received_at TEXT NOT NULL,
        ack_due_at TEXT NOT NULL,
        ack_reason TEXT NOT NULL,
        acknowledged_at TEXT,
        problems TEXT NOT NULL DEFAULT '[]',
        flags TEXT NOT NULL DEFAULT '[]',
        assigned_to TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX applications_deemed ON applications(deemed_received_at);
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        transaction_id TEXT,
        message_row INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        declared_type TEXT,
        content_type TEXT,
        kind TEXT,
        accepted INTEGER NOT NULL,
        dpi REAL,
        problem TEXT,
        problem_th TEXT,
        problem_en TEXT,
        details TEXT
    );
    CREATE INDEX files_tid ON files(transaction_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        transaction_id TEXT,
        status_before TEXT,
        status_after TEXT,
        detail TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX events_tid ON events(transaction_id);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        transaction_id TEXT,
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        sender TEXT NOT NULL,
        subject TEXT NOT NULL,
        raw BLOB NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        copied_to_sent INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_status ON outbox(status, next_attempt_at);
    CREATE TABLE sequences (
        name TEXT NOT NULL, year INTEGER NOT NULL, value INTEGER NOT NULL,
        PRIMARY KEY (name, year)
    );
    CREATE TABLE sweeps (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        clock TEXT,
        counts TEXT,
        folders TEXT,
        errors TEXT
    );
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE attempts (sha256 TEXT PRIMARY KEY, count INTEGER NOT NULL, last_at TEXT NOT NULL);
    """,
    # 2: services and inquiries.
    """
    ALTER TABLE applications ADD COLUMN kind TEXT NOT NULL DEFAULT 'application';
    """,
    # 3: the application's life (identity, juristic persons, decision, fee).
    """
    ALTER TABLE applications ADD COLUMN due_at TEXT;
    ALTER TABLE applications ADD COLUMN juristic INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE applications ADD COLUMN identity TEXT;
    ALTER TABLE applications ADD COLUMN poa TEXT;
    ALTER TABLE applications ADD COLUMN stamp TEXT;
    ALTER TABLE applications ADD COLUMN fee_amount INTEGER;
    ALTER TABLE applications ADD COLUMN fee_due_at TEXT;
    ALTER TABLE applications ADD COLUMN payment_ref TEXT;
    ALTER TABLE applications ADD COLUMN decision_reason TEXT;
    ALTER TABLE applications ADD COLUMN replied_at TEXT;
    ALTER TABLE applications ADD COLUMN last_message_id TEXT;
    """,
    # 4: the permit register.
    """
    CREATE TABLE permits (
        number TEXT PRIMARY KEY,
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        transaction_id TEXT NOT NULL,
        service TEXT NOT NULL,
        holder_name TEXT NOT NULL,
        holder_email TEXT NOT NULL,
        particulars TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_until TEXT NOT NULL,
        approver TEXT NOT NULL,
        approver_name TEXT NOT NULL,
        approver_position TEXT NOT NULL,
        status TEXT NOT NULL,
        revoked_at TEXT,
        revoke_reason TEXT,
        password_hash TEXT NOT NULL,
        pdf_sha256 TEXT NOT NULL,
        qr_hash TEXT NOT NULL,
        signed INTEGER NOT NULL DEFAULT 0,
        delivered_at TEXT,
        pdf_message_id TEXT,
        password_message_id TEXT
    );
    CREATE INDEX permits_tid ON permits(transaction_id);
    """,
    # 5: lookups done for every message (answer rate limit, verification limit).
    """
    CREATE INDEX outbox_recipient ON outbox(recipient, created_at);
    CREATE INDEX messages_from_kind ON messages(from_addr, kind);
    """,
    # 6: delivery reports (RFC 3464 notes, RFC 8098 read receipts) and the
    # addresses blocked after a hard bounce.
    """
    ALTER TABLE outbox ADD COLUMN read_at TEXT;
    ALTER TABLE outbox ADD COLUMN delivery_notes TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE blocked_addresses (
        address TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        since TEXT NOT NULL,
        until TEXT NOT NULL,
        outbox_id INTEGER,
        message_row INTEGER
    );
    """,
]

GENESIS = "0" * 64


def to_iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def event_hash(prev: str, row: dict[str, Any]) -> str:
    """The hash that chains an event to the one before it."""
    fields = [prev] + [str(row.get(k) or "") for k in
                       ("at", "actor", "action", "transaction_id", "status_before", "status_after", "detail")]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


class Registry:
    def __init__(self, path: Path, busy_timeout: float = 30.0):
        ensure_dir(path.parent)
        try:
            conn = sqlite3.connect(str(path), timeout=busy_timeout)
        except sqlite3.DatabaseError as exc:
            raise StorageError(_open_problem(path, exc) or f"{path}: {exc}") from None
        self.db = sqlite_utils.Database(conn)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            problem = _open_problem(path, exc)
            if problem is None:
                raise  # e.g. locked by another writer: not the path's fault
            raise StorageError(problem) from None

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.db.close()

    def migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS, start=1):
            if number <= version:
                continue
            with self.transaction():
                for statement in _split_sql(script):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[Registry]:
        """One write transaction (BEGIN IMMEDIATE so writers queue, not deadlock)."""
        if self.conn.in_transaction:
            with self.db.atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.execute("COMMIT")

    # --- queries -------------------------------------------------------------
    def one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> dict[str, Any] | None:
        rows = list(self.db.query(sql, params))
        return rows[0] if rows else None

    def all(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))

    def _in_transaction(self) -> None:
        # Python's sqlite3 would open an implicit transaction that nobody
        # commits: every write must be inside ``transaction()``.
        if not self.conn.in_transaction:
            raise RuntimeError("registry write outside a transaction")

    def insert(self, table: str, row: dict[str, Any]) -> int:
        self._in_transaction()
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cur = self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values()))
        return int(cur.lastrowid or 0)

    def update(self, table: str, key: str, value: Any, changes: dict[str, Any]) -> None:
        self._in_transaction()
        sets = ", ".join(f"{k} = ?" for k in changes)
        self.conn.execute(f"UPDATE {table} SET {sets} WHERE {key} = ?", (*changes.values(), value))

    # --- sequences and events -----------------------------------------------
    def next_number(self, name: str, year: int) -> int:
        """The next number of a yearly sequence; numbers are never reused
        because the increment commits with the row that uses it."""
        row = self.one("SELECT value FROM sequences WHERE name = ? AND year = ?", (name, year))
        value = (row["value"] if row else 0) + 1
        self.conn.execute(
            "INSERT INTO sequences (name, year, value) VALUES (?, ?, ?) "
            "ON CONFLICT(name, year) DO UPDATE SET value = excluded.value",
            (name, year, value),
        )
        return value

    def add_event(self, *, at: datetime, actor: str, action: str, transaction_id: str | None = None,
                  before: str | None = None, after: str | None = None, detail: str | dict[str, Any] | None = None) -> int:
        last = self.one("SELECT hash FROM events ORDER BY id DESC LIMIT 1")
        prev = last["hash"] if last else GENESIS
        row: dict[str, Any] = {
            "at": to_iso(at), "actor": actor, "action": action, "transaction_id": transaction_id,
            "status_before": before, "status_after": after,
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if isinstance(detail, dict) else detail,
        }
        row["prev_hash"] = prev
        row["hash"] = event_hash(prev, row)
        return self.insert("events", row)

    def get_kv(self, key: str) -> str | None:
        row = self.one("SELECT value FROM kv WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def block_on(self, address: str | None, now: datetime) -> dict[str, Any] | None:
        """The block on ``address`` in force at ``now`` (set after a hard bounce), or None."""
        if not address:
            return None
        row = self.one("SELECT * FROM blocked_addresses WHERE address = ?", (address.strip().lower(),))
        return row if row is not None and datetime.fromisoformat(row["until"]) > now else None

    def set_kv(self, key: str, value: str) -> None:
        self._in_transaction()
        self.conn.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                          (key, value))


_BAD_FILE = ("file is not a database", "malformed", "unable to open database file", "readonly database", "disk i/o error")


def _open_problem(path: Path, exc: sqlite3.DatabaseError) -> str | None:
    """One line saying why the registry file cannot be used, or None when the
    error is not about the file (a lock held by another writer)."""
    text = str(exc)
    if path.is_dir():
        return f"{path} is a directory, not the registry file"
    if not any(s in text.lower() for s in _BAD_FILE):
        return None
    if path.is_file():
        with path.open("rb") as fh:
            head = fh.read(16)
        if head and head != b"SQLite format 3\x00":
            return f"{path} is not an SQLite database (not the registry): move it aside or correct the path"
    return f"{path}: cannot open the registry: {text}"


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    out: list[str] = []
    buf: list[str] = []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            out.append(joined)
            buf = []
    if "\n".join(buf).strip():
        out.append("\n".join(buf))
    return out
