"""The registry: one SQLite file (WAL) through sqlite-utils.

Schema changes are numbered migrations recorded in ``PRAGMA user_version``.
Writes happen inside ``Registry.transaction()``; the audit log is append-only
(triggers refuse UPDATE and DELETE) and hash-chained.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from mailintake.base import privacy
from mailintake.base.data.migrations import MIGRATIONS
from mailintake.base.privacy import FILE_MODE
from mailintake.base.store import StorageError, ensure_dir

GENESIS = "0" * 64


def to_iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def event_hash(prev: str, row: dict[str, Any]) -> str:
    """The hash that chains an event to the one before it."""
    fields = [prev] + [
        str(row.get(k) or "") for k in ("at", "actor", "action", "transaction_id", "status_before", "status_after", "detail")
    ]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


MAC_FIELDS = ("id", "at", "written_at", "actor", "action", "transaction_id", "status_before", "status_after", "detail")


def event_mac(key: bytes, prev: str, row: dict[str, Any]) -> str:
    """The HMAC-SHA256 that chains an event, under the audit key, to the one
    before it (``prev``: its MAC, or its hash when it was written unkeyed)."""
    fields = [prev] + ["" if row.get(k) is None else str(row[k]) for k in MAC_FIELDS]
    return hmac.new(key, "\x1f".join(fields).encode(), hashlib.sha256).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


class Registry:
    def __init__(
        self,
        path: Path,
        busy_timeout: float = 30.0,
        *,
        tighten: bool = True,
        audit_key: Callable[[int], bytes] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        """Open (or create, 0600) the registry at ``path``; one made earlier with
        looser modes is tightened, with its directory, unless ``tighten`` is False
        (the daemon's start-up, which refuses it instead). ``audit_key`` gives
        the key each event's MAC is made with (``base.auditkey.AuditKey``; a
        registry opened without it writes unkeyed events, which ``audit
        verify`` refuses after keyed ones); ``clock`` is the real time an event
        is written at, whatever its ``at`` says."""
        self.audit_key = audit_key
        self.clock = clock
        ensure_dir(path.parent, private=tighten)
        make_private(path, tighten=tighten)
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

    def add_event(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        transaction_id: str | None = None,
        before: str | None = None,
        after: str | None = None,
        detail: str | dict[str, Any] | None = None,
    ) -> int:
        last = self.one("SELECT id, hash, mac FROM events ORDER BY id DESC LIMIT 1")
        prev = last["hash"] if last else GENESIS
        row: dict[str, Any] = {
            "id": (last["id"] if last else 0) + 1,
            "at": to_iso(at),
            "written_at": to_iso(self.clock()),
            "actor": actor,
            "action": action,
            "transaction_id": transaction_id,
            "status_before": before,
            "status_after": after,
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if isinstance(detail, dict) else detail,
        }
        row["prev_hash"] = prev
        row["hash"] = event_hash(prev, row)
        if self.audit_key is not None:
            link = (last["mac"] or last["hash"]) if last else GENESIS
            row["mac"] = event_mac(self.audit_key(row["id"] - 1), link, row)
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
        self.conn.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value)
        )


# --- the registry file as a whole (backups) -------------------------------------------------
def make_private(path: Path, *, tighten: bool = True) -> None:
    """The database file at ``path`` readable by its owner alone: a new one is
    created empty with mode 0600 before SQLite opens it (SQLite gives its -wal
    and -shm the database's mode), one made earlier is tightened with them."""
    if not path.exists() and path.parent.is_dir():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except OSError:
            return  # created meanwhile, or not ours to create: SQLite says why
    for suffix in ("", "-wal", "-shm") if tighten else ():
        privacy.tighten(Path(f"{path}{suffix}"))


def copy_file(source: Path, target: Path) -> None:
    """A consistent copy of the registry at ``source`` by SQLite's online
    backup, safe while another process writes."""
    src = sqlite3.connect(str(source))
    make_private(target)
    dst = sqlite3.connect(str(target))
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()


def file_is_sound(path: Path) -> bool:
    """SQLite's integrity check of the database file at ``path``."""
    conn = sqlite3.connect(str(path))
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()


def count_rows(path: Path, tables: tuple[str, ...]) -> dict[str, int]:
    """Rows per table in the database file at ``path``."""
    conn = sqlite3.connect(str(path))
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()


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
