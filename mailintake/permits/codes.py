"""The secrets and codes of a permit (R18, R19): its password, made at random
and kept only as a salted scrypt hash, and the QR code.

The QR (version 2) carries the number, the SHA-256 of the permit's content
(every field the document prints, ``content_hash``) and a keyed hash of both,
so a permit whose content was altered no longer matches its QR. Version 1
(``MI-PERMIT|number|hash``, before issue 11) covered only the number and the
validity; such permits still verify, as version 1.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

from mailintake.base.config import Config
from mailintake.base.errors import UserError

# No look-alikes: 0/O/o, 1/l/I, 5/S, 2/Z, 8/B.
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679"
QR_PREFIX = "MI-PERMIT"


class PermitError(UserError):
    """A permit action that cannot be done (one line)."""


# --- passwords -----------------------------------------------------------------------------
def new_password(length: int) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    _scheme, salt, digest = stored.split("$")
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(got.hex(), digest)


# --- the QR code ---------------------------------------------------------------------------
def permit_key(cfg: Config) -> bytes:
    """The key of the QR's keyed hash, made once and kept beside the registry."""
    path = cfg.storage_path / "permit.key"
    if not path.exists():
        cfg.storage_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def content_text(content: dict[str, Any]) -> str:
    """The permit's content in one canonical form (sorted keys, no spaces)."""
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(content_text(content).encode()).hexdigest()


def qr_hash_v1(cfg: Config, number: str, valid_until: str) -> str:
    """The keyed hash of a version 1 QR (number and validity only)."""
    return hmac.new(permit_key(cfg), f"{number}|{valid_until}".encode(), hashlib.sha256).hexdigest()[:16]


def qr_hash(cfg: Config, number: str, content_sha256: str) -> str:
    """The keyed hash of a version 2 QR: the number and the content's SHA-256."""
    return hmac.new(permit_key(cfg), f"2|{number}|{content_sha256}".encode(), hashlib.sha256).hexdigest()[:16]


def qr_payload(number: str, content_sha256: str, digest: str) -> str:
    return f"{QR_PREFIX}|2|{number}|{content_sha256}|{digest}"


@dataclass(frozen=True)
class QrData:
    version: int
    number: str
    digest: str
    content_sha256: str | None = None  # version 2


def parse_qr(text: str) -> QrData | None:
    parts = text.strip().split("|")
    if len(parts) == 5 and parts[0] == QR_PREFIX and parts[1] == "2":
        return QrData(2, parts[2], parts[4], parts[3])
    if len(parts) == 3 and parts[0] == QR_PREFIX:
        return QrData(1, parts[1], parts[2])
    return None


def qr_png(data: str, box_size: int = 8) -> bytes:
    """``data`` as a QR code image (PNG), drawn by the ``qrcode`` package."""
    import qrcode

    img = qrcode.make(data, box_size=box_size, border=4)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
