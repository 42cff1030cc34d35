"""Content-addressed file store (R14): every raw .eml and every attachment is kept
under ``store/ab/cdef...`` named by its sha256, written atomically, never by the
name a sender chose."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mailintake.base.errors import ConfigError
from mailintake.base.privacy import DIR_MODE, FILE_MODE, tighten


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class StorageError(ConfigError):
    """The storage directory or a file in it cannot be used. The message is one
    line about the path; the CLI puts the config key (``[storage] path``) before it."""


def ensure_dir(path: Path, *, private: bool = True) -> Path:
    """Make ``path`` if missing (its parent must exist: a typo is not a reason
    to build a tree) and prove that this process can write in it. It is made
    0700, and one made earlier with looser modes is tightened (``base.privacy``)
    unless ``private`` is False (the daemon refuses such a directory instead)."""
    if path.exists() and not path.is_dir():
        raise StorageError(f"{path} is a file, not a directory")
    if not path.exists():
        if not path.parent.is_dir():
            raise StorageError(f"{path.parent} does not exist (create it, or correct the path)")
        try:
            path.mkdir(mode=DIR_MODE, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {path}: {exc.strerror}") from None
    if private:
        tighten(path)
    if not os.access(path, os.W_OK | os.X_OK):
        raise StorageError(f"{path} is not writable by this user (uid {os.getuid()})")
    return path


class Store:
    def __init__(self, root: Path):
        self.root = root

    def path_of(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes, *, durable: bool = True) -> str:
        """Store ``data`` and return its sha256; storing it again is a no-op.
        ``durable`` flushes it to the disk before returning (the raw message);
        attachments, which can always be extracted again from it, skip that."""
        digest = sha256(data)
        target = self.path_of(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        target.parent.mkdir(mode=DIR_MODE, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb", opener=_private) as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
        return digest

    def get(self, digest: str) -> bytes:
        return self.path_of(digest).read_bytes()

    def has(self, digest: str) -> bool:
        return self.path_of(digest).exists()


def _private(path: str, flags: int) -> int:
    """Open for ``open(..., opener=)``: a new file is 0600 whatever the umask."""
    return os.open(path, flags, FILE_MODE)
