"""Configuration: shipped defaults, the agency's config.toml laid over them, then
the environment (``MAILINTAKE_<SECTION>_<KEY>``), validated once into typed objects.

Each key is declared once, as a field of its section's dataclass below: the type
hint says how it is read, ``setting(...)`` says its bounds (``low``, ``high``,
``choices``, ``unit``, ``required``), and a section's ``check`` holds the rules
that relate keys. ``base.settings.build_section`` reads every section from the
merged TOML and refuses a key no field declares. Every error names the file,
the section and the key, e.g. ``config.toml: [hours] open: expected HH:MM, got '8h'``.
"""

from __future__ import annotations

import os
import tomllib
import typing
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mailintake.base.appointing import Appointments
from mailintake.base.booking import Book
from mailintake.base.connections import Mailbox, Smtp, Trust
from mailintake.base.errors import ConfigError
from mailintake.base.keeping import Permits, Retention
from mailintake.base.places import shipped
from mailintake.base.promptpay import target
from mailintake.base.publishing import Publish
from mailintake.base.reminding import Reminders
from mailintake.base.settings import Reader, apply_env, build_section, did_you_mean, is_section, masked_repr, merge, setting

DEFAULTS = Path(__file__).with_name("defaults.toml")
ENV_PREFIX = "MAILINTAKE_"
OPEN_TABLES = {"users"}  # tables whose keys are names chosen by the agency
# Who may do what, and what the deployment is for: the file's alone (only root
# or the service account can write it), never an environment variable's.
FILE_ONLY = ("users", "deployment")
ROLES = ("clerk", "approver", "finance", "admin")
USER_KEYS = ("roles", "name", "position", "email")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MB, KB = 1024 * 1024, 1024


# --- the sections ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Agency:
    name_th: str = setting(required=True)
    name_en: str = setting(required=True)
    phone: str = setting(required=True)
    mailbox_address: str = setting(required=True)
    forward_domains: tuple[str, ...] = setting()  # more agency domains whose forwards are citizens' mail (R23)
    address_th: str = setting()
    address_en: str = setting()
    complaints_email: str = setting()  # feedback and complaints, on the public site (empty: mailbox_address)
    templates_dir: Path = setting()
    rules_dir: Path = setting()

    def check(self, r: Reader) -> None:
        if "@" not in self.mailbox_address:
            raise r.fail("mailbox_address", "expected an email address")
        if self.complaints_email and "@" not in self.complaints_email:
            raise r.fail("complaints_email", "expected an email address")
        # The defaults ("templates", "rules" beside config.toml) are used when
        # they exist; any other directory named here must exist, or a typo would
        # quietly leave the office with the shipped wording and rules.
        for key, default in (("templates_dir", "templates"), ("rules_dir", "rules")):
            path = getattr(self, key)
            if not path.is_dir() and r.table.get(key) != default:
                raise r.fail(key, f"no such directory {path}")


@dataclass(frozen=True)
class Storage:
    path: Path = setting()
    busy_timeout_seconds: float = setting(low=0.1)

    def check(self, r: Reader) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise r.fail("path", f"{self.path} is a file, not a directory")
        if not self.path.exists() and not self.path.parent.is_dir():
            raise r.fail("path", f"{self.path.parent} does not exist (create it, or correct the path)")


@dataclass(frozen=True)
class Hours:
    timezone: ZoneInfo = setting(read=Reader.zone)
    open: time = setting()
    close: time = setting()
    ack_by: time = setting()
    working_weekdays: frozenset[int] = setting(read=Reader.weekdays)
    extra_holidays: dict[date, str] = setting(read=Reader.dates)
    extra_working_days: frozenset[date] = setting(read=Reader.date_set)
    calendar: str = setting(choices=("government", "public", "bank"))
    holidays_file: Path = setting()
    date_skew_hours: float = setting()

    def check(self, r: Reader) -> None:
        if self.close <= self.open:
            raise r.fail("close", f"must be later than open ({self.open:%H:%M})")


@dataclass(frozen=True)
class Ids:
    format: str = setting(required=True)
    prefix: str = setting()

    def check(self, r: Reader) -> None:
        try:
            sample = self.format.format(prefix=self.prefix, be_year=2568, year=2025, seq=1)
        except (KeyError, ValueError, IndexError) as exc:
            raise r.fail("format", f"bad format field {exc}; use {{prefix}} {{be_year}} {{year}} {{seq}}") from None
        if "{seq" not in self.format or sample.strip() == "":
            raise r.fail("format", "must contain {seq}")


@dataclass(frozen=True)
class Checks:
    allowed_types: tuple[str, ...] = setting()
    min_dpi: int = setting(low=1, high=10000)
    dpi_tolerance_percent: float = setting()
    page_width_in: float = setting(low=0.5)
    page_height_in: float = setting(low=0.5)

    def check(self, r: Reader) -> None:
        from mailintake.base.rules import KNOWN_TYPES

        for t in self.allowed_types:
            if t not in KNOWN_TYPES:
                raise r.fail("allowed_types", f"unknown type {t!r}; known: {', '.join(sorted(KNOWN_TYPES))}")


@dataclass(frozen=True)
class Daemon:
    poll_seconds: int = setting(low=5)
    sweep_times: tuple[time, ...] = setting(read=Reader.clocks)
    outbox_seconds: int = setting(low=5)
    use_idle: bool = setting()
    sweep_timeout_seconds: int = setting(low=10)
    admin_email: str = setting()
    alert_after_failed_sweeps: int = setting(low=1, high=100)
    socket: Path | None = setting(read=lambda r, key: r.path(key) if r.text(key) else None)
    socket_group: str = setting()

    def check(self, r: Reader) -> None:
        if self.admin_email and "@" not in self.admin_email:
            raise r.fail("admin_email", "expected an email address")


@dataclass(frozen=True)
class Purpose:
    """``[deployment]``: what this deployment is for. Only one marked
    ``test`` or ``replay`` lets a command that changes the registry act at a
    ``--now`` other than the clock (``base.identity`` says what else ``test``
    allows)."""

    mode: str = setting(choices=("production", "test", "replay"))


@dataclass(frozen=True)
class Payment:
    bank_name: str = setting()
    bank_account: str = setting()
    account_name: str = setting()
    promptpay_id: str = setting()
    comp_code: str = setting()
    deadline_days: int = setting(low=1, high=90)

    def check(self, r: Reader) -> None:
        if self.promptpay_id:
            try:
                target(self.promptpay_id)
            except ValueError as exc:
                raise r.fail("promptpay_id", str(exc).split(":")[0]) from None


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = setting(key="max_message_mb", low=0.01, unit=MB)
    max_header_bytes: int = setting(key="max_header_kb", low=1, unit=KB)
    max_header_line_bytes: int = setting(key="max_header_line_kb", low=1, unit=KB)
    max_multiparts: int = setting(low=1)
    max_parts: int = setting(low=1)
    parse_seconds: float = setting(low=0.01)
    message_seconds: float = setting(low=0.1)
    sweep_memory_bytes: int = setting(key="sweep_memory_mb", low=128, unit=MB)
    ack_max_files: int = setting(low=1, high=10000)
    max_attachment_bytes: int = setting(key="max_attachment_mb", low=0.01, unit=MB)
    check_seconds: float = setting(low=0.5)
    check_memory_bytes: int = setting(key="check_memory_mb", low=64, unit=MB)
    zip_max_entries: int = setting(low=1)
    zip_max_total_bytes: int = setting(key="zip_max_total_mb", low=0.1, unit=MB)
    zip_max_ratio: float = setting(low=1)
    answers_per_address_per_hour: int = setting(low=1)
    answers_per_hour: int = setting(low=1)
    first_acks_per_address_per_hour: int = setting(low=1)


@dataclass(frozen=True)
class Backup:
    path: Path = setting()
    days: tuple[str, ...] = setting(choices=WEEKDAYS)
    time: time = setting()
    keep: int = setting(low=1, high=1000)


@dataclass(frozen=True)
class Audit:
    key_file: Path = setting()


@dataclass(frozen=True)
class Lifecycle:
    default_time_limit_days: int = setting(low=1, high=365)
    opdc_email: str = setting()

    def check(self, r: Reader) -> None:
        if self.opdc_email and "@" not in self.opdc_email:
            raise r.fail("opdc_email", "expected an email address")


@dataclass(frozen=True)
class Log:
    level: str = setting(choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    format: str = setting(choices=("text", "json"))


@dataclass(frozen=True)
class User:
    login: str
    roles: frozenset[str]
    name: str
    position: str
    email: str = ""  # where the desk's own mail to this user goes (the s.10 reminder)


@dataclass(frozen=True)
class Config:
    """The whole configuration: one field per section of the TOML (built by
    ``build_section``), the users, and where it came from."""

    source: Path | None
    base_dir: Path
    agency: Agency
    mailbox: Mailbox
    smtp: Smtp
    storage: Storage
    hours: Hours
    ids: Ids
    checks: Checks
    daemon: Daemon
    deployment: Purpose
    limits: Limits
    backup: Backup
    audit: Audit
    payment: Payment
    permits: Permits
    retention: Retention
    lifecycle: Lifecycle
    book: Book
    reminders: Reminders
    appointments: Appointments
    publish: Publish
    trust: Trust
    log: Log
    users: dict[str, User]
    raw: dict[str, Any] = field(repr=False)

    @property
    def storage_path(self) -> Path:
        return self.storage.path

    @property
    def busy_timeout_seconds(self) -> float:
        return self.storage.busy_timeout_seconds

    @property
    def log_level(self) -> str:
        return self.log.level

    @property
    def default_time_limit_days(self) -> int:
        return self.lifecycle.default_time_limit_days

    @property
    def db_path(self) -> Path:
        return self.storage_path / "mailintake.db"

    @property
    def store_path(self) -> Path:
        return self.storage_path / "store"

    def search_path(self, kind: str) -> list[Path]:
        """Directories searched for ``rules`` or ``templates``: the agency's
        (``[agency] rules_dir``, ``templates_dir``) first, then the ones that came
        with the program (``shipped``)."""
        first = self.agency.rules_dir if kind == "rules" else self.agency.templates_dir
        seen: list[Path] = []
        for p in (first, shipped(kind)):
            if p is not None and p.is_dir() and p not in seen:
                seen.append(p)
        return seen

    def find(self, kind: str, name: str) -> Path:
        """The first file called ``name`` in the ``kind`` search path."""
        for d in self.search_path(kind):
            if (d / name).is_file():
                return d / name
        raise ConfigError(f"{kind}/{name}: not found in {', '.join(map(str, self.search_path(kind))) or 'any directory'}")


# Every section's repr (and so the Config's) shows its secrets as ``***``.
for _hint in typing.get_type_hints(Config).values():
    if is_section(_hint):
        setattr(_hint, "__repr__", masked_repr)  # noqa: B010 (mypy refuses assigning to a method)


# --- loading ---------------------------------------------------------------------------------
def load(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load and validate the configuration in ``path`` (``base.places.locate``
    finds the one a command reads).

    ``path`` None means the shipped defaults alone (storage under ``./var``),
    for tests and tools; commands always name a file found by ``locate``.
    """
    env = dict(os.environ if environ is None else environ)
    with DEFAULTS.open("rb") as fh:
        data = tomllib.load(fh)
    source: Path | None = None
    where = "defaults"
    if path is not None:
        source = Path(path).resolve()
        where = source.name
        try:
            with source.open("rb") as fh:
                user = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        data = merge(data, user, where, OPEN_TABLES)
    apply_env(data, env, ENV_PREFIX, fixed=FILE_ONLY)
    return build(data, source.parent if source else Path.cwd(), source, where)


def build(data: dict[str, Any], base: Path, source: Path | None, where: str) -> Config:
    """The configuration from merged TOML ``data``: every section dataclass
    field of ``Config`` built from the table of the same name."""
    sections = {
        name: build_section(hint, Reader(where, name, data.get(name, {}), base))
        for name, hint in typing.get_type_hints(Config).items()
        if is_section(hint)
    }
    if not str(data.get("publish", {}).get("path", "")).strip():  # empty: site/ in the data directory, always writable
        sections["publish"] = replace(sections["publish"], path=sections["storage"].path / "site")
    return Config(source=source, base_dir=base, users=_users(where, data.get("users", {})), raw=data, **sections)


def _users(where: str, table: dict[str, Any]) -> dict[str, User]:
    users: dict[str, User] = {}
    for login, value in table.items():
        spec = {"roles": value} if isinstance(value, list) else value
        unknown = sorted(set(spec) - set(USER_KEYS)) if isinstance(spec, dict) else []
        if unknown:
            raise ConfigError(f"{where}: [users] {login}.{unknown[0]}: unknown key{did_you_mean(unknown[0], USER_KEYS)}")
        if not isinstance(spec, dict):
            raise ConfigError(
                f"{where}: [users] {login}: expected a list of roles or {{ roles = [...], name = ..., position = ... }}"
            )
        roles = spec.get("roles")
        if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
            raise ConfigError(f"{where}: [users] {login}: roles must be a list of {', '.join(ROLES)}, got {roles!r}")
        email = str(spec.get("email", ""))
        if email and "@" not in email:
            raise ConfigError(f"{where}: [users] {login}.email: expected an email address, got {email!r}")
        users[login] = User(login, frozenset(roles), str(spec.get("name", login)), str(spec.get("position", "")), email)
    return users
