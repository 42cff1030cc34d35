"""Secrets that do not linger (issue 11): mail that carries a permit's
password is kept in the outbox sealed (Fernet: AES-128-CBC and HMAC-SHA256,
from the maintained ``cryptography`` package) under a key of its own, one
small file in ``<storage>/secrets/`` that is never in the database nor in a
backup. Once the mail is accepted the key is destroyed (crypto-shredding):
any copy of the database made before, a backup included, holds only
ciphertext that nothing can open any more.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from mailintake.base.privacy import DIR_MODE, FILE_MODE

SECRETS_DIR = "secrets"  # under [storage] path; ops.backup never copies it


def secrets_dir(storage: Path) -> Path:
    return storage / SECRETS_DIR


def _key_path(storage: Path, key_id: str) -> Path:
    if len(key_id) != 32 or any(c not in "0123456789abcdef" for c in key_id):
        raise ValueError(f"not a key id: {key_id!r}")
    return secrets_dir(storage) / f"{key_id}.key"


def seal(storage: Path, *parts: bytes) -> tuple[str, list[bytes]]:
    """A new key (written 0600 in the secrets directory, flushed to disk
    before the ciphertext can be committed) and ``parts`` sealed under it."""
    key, key_id = Fernet.generate_key(), secrets.token_hex(16)
    folder = secrets_dir(storage)
    folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(_key_path(storage, key_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    f = Fernet(key)
    return key_id, [f.encrypt(p) for p in parts]


def unseal(storage: Path, key_id: str, token: bytes) -> bytes | None:
    """``token`` opened, or None when its key is gone (shredded, or a database
    restored from a backup, which never holds the keys) or does not fit."""
    try:
        key = _key_path(storage, key_id).read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Fernet(key).decrypt(token)
    except (InvalidToken, ValueError):
        return None


def shred(storage: Path, key_id: str) -> None:
    """Destroy the key: overwritten, flushed, then removed. What the file
    system or a snapshot of it keeps is beyond this; the ciphertext in the
    database and backups is useless without the key."""
    path = _key_path(storage, key_id)
    try:
        size = path.stat().st_size
        with path.open("r+b") as fh:
            fh.write(secrets.token_bytes(size))
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()
    except FileNotFoundError:
        return
