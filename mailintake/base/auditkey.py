"""The audit key and the anchors log (issue 11): what a database writer cannot reach.

Every event of the audit log carries an HMAC-SHA256 under a key the database
does not hold: ``[audit] key_file``, beside config.toml and never in the data
directory, so a backup of the data does not carry it. ``mailintake init``
writes it (32 random bytes, 0600); a deployment that has none yet gets one on
its first write, with a log line, and the anchors log records from which event
on the chain is keyed. A key file that other accounts can read or write is
refused, naming the path and the chmod (``base.privacy``).

The anchors log (``audit-anchors.jsonl`` beside the key) is one JSON object a
line: ``{"kind": "keyed", "after_event": N}`` when the key was made, and
``{"kind": "anchor", "event": ID, "mac": MAC, ...}`` each time the chain head is
anchored (daily by the daemon, and mailed to the admin), so ``audit verify``
can tell a registry rolled back or rewritten behind the key's back.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailintake.base.errors import ConfigError
from mailintake.base.privacy import FILE_MODE, fix, openness

log = logging.getLogger(__name__)

KEY_BYTES = 32
ANCHORS = "audit-anchors.jsonl"
WHERE = "[audit] key_file"


class AuditKey:
    """The key file at ``path``: read once; made when a write first needs it."""

    def __init__(self, path: Path):
        self.path = path
        self._key: bytes | None = None

    @property
    def anchors_path(self) -> Path:
        return self.path.with_name(ANCHORS)

    def load(self) -> bytes | None:
        """The key, or None when there is no key file yet. A key file others
        can read or write, or that is not a key, is a ``ConfigError``."""
        if self._key is not None:
            return self._key
        open_to = openness(self.path)
        if open_to is not None:
            raise ConfigError(f"{WHERE} {self.path} is {open_to}: {fix(self.path)}")
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"{WHERE} {self.path}: cannot read the audit key: {exc.strerror}") from None
        if len(data) != KEY_BYTES:
            raise ConfigError(f"{WHERE} {self.path}: not an audit key ({len(data)} bytes, expected {KEY_BYTES})")
        self._key = data
        return data

    def create(self, after_event: int = 0) -> bool:
        """Write a new random key (0600) unless there is one; True when written.
        The anchors log records that events after ``after_event`` are keyed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return False
        except OSError as exc:
            raise ConfigError(f"{WHERE} {self.path}: cannot create the audit key: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            record(self.anchors_path, {"kind": "keyed", "after_event": after_event, "written_at": _iso(real_now())})
        except OSError as exc:
            log.warning("cannot write the anchors log %s: %s", self.anchors_path, exc.strerror)
        return True

    def __call__(self, last_event: int) -> bytes:
        """The key for a write after event ``last_event``; a deployment that has
        none yet gets one now (the upgrade path), said in the log."""
        key = self.load()
        if key is None:
            if self.create(last_event):
                log.warning(
                    "wrote the audit key %s: events after %d are keyed; keep it beside config.toml, out of backups",
                    self.path,
                    last_event,
                )
            key = self.load()
        if key is None:  # pragma: no cover - made and gone again
            raise ConfigError(f"{WHERE} {self.path}: the audit key vanished")
        return key

    def after_event(self) -> int | None:
        """The last event written before the key was made (events after it must
        be keyed), as the anchors log recorded; None when it did not."""
        keyed = [a for a in read_anchors(self.anchors_path) if a.get("kind") == "keyed"]
        return int(keyed[0]["after_event"]) if keyed else None

    def anchors(self) -> list[dict[str, Any]]:
        return [a for a in read_anchors(self.anchors_path) if a.get("kind") == "anchor"]


def real_now() -> datetime:
    """The wall clock, whatever ``--now`` says."""
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def record(path: Path, entry: dict[str, Any]) -> None:
    """Append one line to the anchors log at ``path`` (made 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_anchors(path: Path) -> list[dict[str, Any]]:
    """Every entry of the anchors log at ``path`` (none when it does not exist)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise ConfigError(f"{path}:{number}: not an anchor (expected one JSON object a line)") from None
        if isinstance(entry, dict):
            out.append(entry)
    return out
