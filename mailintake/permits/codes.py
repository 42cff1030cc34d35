"""The secrets and codes of a permit (R18, R19): its password (made at random,
or derived from the ID the applicant gave) kept only as a salted scrypt hash,
and the QR code that carries the number and a keyed hash of it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import secrets
from collections.abc import Iterable

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


def derived_password(texts: Iterable[str]) -> str:
    """The 13-digit ID the applicant wrote in the application: the first one in
    ``texts``, the bodies of their mail in the order it came."""
    for text in texts:
        found = re.search(r"(?<!\d)\d{13}(?!\d)", text)
        if found:
            return found.group()
    raise PermitError("password_policy is derived, but the application has no 13-digit ID to derive it from")


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


def qr_hash(cfg: Config, number: str, valid_until: str) -> str:
    return hmac.new(permit_key(cfg), f"{number}|{valid_until}".encode(), hashlib.sha256).hexdigest()[:16]


def qr_payload(number: str, digest: str) -> str:
    return f"{QR_PREFIX}|{number}|{digest}"


def parse_qr(text: str) -> tuple[str, str] | None:
    parts = text.strip().split("|")
    if len(parts) == 3 and parts[0] == QR_PREFIX:
        return parts[1], parts[2]
    return None


def qr_png(data: str, box_size: int = 8) -> bytes:
    """``data`` as a QR code image (PNG), drawn by the ``qrcode`` package."""
    import qrcode

    img = qrcode.make(data, box_size=box_size, border=4)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
