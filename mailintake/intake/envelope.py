"""What a mailbox is to the intake, whatever serves it: folders, the envelope
of a message before its body is fetched (receipt time, INTERNALDATE, R1; size),
the quota, and the ``Source`` protocol that IMAP and Maildir both keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mailintake.base.errors import UserError

INBOX = "INBOX"


class SourceError(UserError):
    """The mailbox cannot be reached or refused an operation (one line)."""


@dataclass(frozen=True)
class Folder:
    name: str
    role: str  # inbox | junk | other


@dataclass(frozen=True)
class Envelope:
    """A message in a folder before its body is fetched."""

    folder: str
    uidvalidity: str
    uid: str
    internaldate: datetime
    size: int
    header: bytes


@dataclass(frozen=True)
class Quota:
    used_kb: int
    limit_kb: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used_kb / self.limit_kb if self.limit_kb else 0.0


class Source(Protocol):
    def folders(self, *, full: bool) -> list[Folder]: ...
    def pending(self, folder: str) -> list[Envelope]: ...
    def fetch(self, env: Envelope) -> bytes: ...
    def fetch_many(self, envs: list[Envelope]) -> Iterator[tuple[Envelope, bytes | Exception]]: ...
    def mark_done(self, env: Envelope) -> None: ...
    def flush(self) -> None: ...
    def move_to_inbox(self, env: Envelope) -> None: ...
    def move(self, env: Envelope, folder: str) -> None: ...
    def append_sent_many(self, items: list[tuple[bytes, datetime]]) -> None: ...
    def quota(self) -> Quota | None: ...
    def close(self) -> None: ...


def split_header(raw: bytes) -> bytes:
    for sep in (b"\r\n\r\n", b"\n\n"):
        pos = raw.find(sep)
        if pos >= 0:
            return raw[: pos + len(sep)]
    return raw
