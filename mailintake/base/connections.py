"""Three sections of ``base.config`` about how mailintake reaches the mail:
``[mailbox]`` (IMAP or a local Maildir), ``[smtp]`` (how answers leave) and
``[trust]`` (the agency's own mail hosts, whose headers count: ``base.trust``).
Plain-text connections are refused except to a loopback host.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from mailintake.base.settings import Reader, setting


@dataclass(frozen=True)
class Mailbox:
    kind: str = setting(choices=("imap", "maildir"))
    path: Path = setting()
    host: str = setting(required=("kind", "imap"))
    port: int = setting(high=65535)
    security: str = setting(choices=("ssl", "starttls", "none"))
    username: str = setting(required=("kind", "imap"))
    password: str = setting(secret=True)
    ca_file: Path | None = setting()
    done_action: str = setting(choices=("flag", "move"))
    done_keyword: str = setting(required=True)
    archive_folder: str = setting(required=True)
    skip_folders: tuple[str, ...] = setting()
    junk_names: tuple[str, ...] = setting()
    spam_folder: str = setting(required=True)
    sent_folder: str = setting()
    timeout_seconds: float = setting(low=1)

    def check(self, r: Reader) -> None:
        if self.kind == "imap":
            _no_plain_text(r, self.host, self.security)


@dataclass(frozen=True)
class Smtp:
    host: str = setting()
    port: int = setting(high=65535)
    security: str = setting(choices=("ssl", "starttls", "none"))
    username: str = setting()
    password: str = setting(secret=True)
    ca_file: Path | None = setting()
    outgoing_path: Path = setting()
    timeout_seconds: float = setting(low=1)
    retry_base_seconds: int = setting(low=1)
    retry_max_seconds: int = setting(low=1)
    give_up_hours: float = setting(low=0)
    bounce_block_days: int = setting(low=0, high=3650)

    def check(self, r: Reader) -> None:
        _no_plain_text(r, self.host, self.security)


@dataclass(frozen=True)
class Trust:
    """The agency's own mail hosts: the trust boundary of ``base.trust``."""

    mail_hosts: tuple[str, ...] = setting()
    receipt_skew_minutes: int = setting(low=0, high=10080)
    authserv_id: str = setting()

    def check(self, r: Reader) -> None:
        if any(not h.strip() or any(c.isspace() for c in h.strip()) for h in self.mail_hosts):
            raise r.fail("mail_hosts", "expected host names such as mx.agency.go.th")


def _no_plain_text(r: Reader, host: str, security: str) -> None:
    if host and security == "none" and not _is_loopback(host):
        raise r.fail("security", "'none' (no TLS) is allowed only for a loopback host; use ssl or starttls")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
