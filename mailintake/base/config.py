"""Configuration: shipped defaults, the agency's config.toml laid over them, then
the environment (``MAILINTAKE_<SECTION>_<KEY>``), validated once into typed objects.

Every error names the key, e.g. ``config.toml: [hours] open: expected HH:MM, got '8h'``.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailintake.base.errors import ConfigError

DEFAULTS = Path(__file__).with_name("defaults.toml")
ENV_PREFIX = "MAILINTAKE_"
SECRET_KEYS = {"password"}



@dataclass(frozen=True)
class Agency:
    name_th: str
    name_en: str
    phone: str
    mailbox_address: str
    address_th: str
    address_en: str
    templates_dir: Path
    rules_dir: Path


@dataclass(frozen=True)
class Mailbox:
    kind: str
    path: Path
    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False)
    ca_file: Path | None
    done_action: str
    done_keyword: str
    archive_folder: str
    skip_folders: tuple[str, ...]
    junk_names: tuple[str, ...]
    sent_folder: str
    timeout_seconds: float


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False)
    ca_file: Path | None
    outgoing_path: Path
    timeout_seconds: float
    retry_base_seconds: int
    retry_max_seconds: int
    give_up_hours: float
    bounce_block_days: int


@dataclass(frozen=True)
class Hours:
    timezone: ZoneInfo
    open: time
    close: time
    ack_by: time
    working_weekdays: frozenset[int]
    extra_holidays: dict[date, str]
    extra_working_days: frozenset[date]
    date_skew_hours: float


@dataclass(frozen=True)
class Ids:
    format: str
    prefix: str


@dataclass(frozen=True)
class Checks:
    allowed_types: tuple[str, ...]
    min_dpi: int
    dpi_tolerance_percent: float
    page_width_in: float
    page_height_in: float


@dataclass(frozen=True)
class Daemon:
    poll_seconds: int
    sweep_times: tuple[time, ...]
    outbox_seconds: int
    use_idle: bool
    sweep_timeout_seconds: int
    admin_email: str
    alert_after_failed_sweeps: int


ROLES = ("clerk", "approver", "finance", "admin")


@dataclass(frozen=True)
class Payment:
    bank_name: str
    bank_account: str
    account_name: str
    promptpay_id: str
    comp_code: str
    deadline_days: int


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int
    max_header_bytes: int
    max_header_line_bytes: int
    max_multiparts: int
    max_parts: int
    parse_seconds: float
    message_seconds: float
    sweep_memory_bytes: int
    ack_max_files: int
    max_attachment_bytes: int
    check_seconds: float
    check_memory_bytes: int
    zip_max_entries: int
    zip_max_total_bytes: int
    zip_max_ratio: float
    acks_per_sender_per_hour: int


@dataclass(frozen=True)
class Backup:
    path: Path
    days: tuple[str, ...]
    time: time
    keep: int


@dataclass(frozen=True)
class Permits:
    number_format: str
    valid_days: int
    password_policy: str
    password_length: int
    sign_pkcs12: Path | None
    sign_password: str = field(repr=False)
    verify_per_sender_per_day: int


@dataclass(frozen=True)
class User:
    login: str
    roles: frozenset[str]
    name: str
    position: str


@dataclass(frozen=True)
class Config:
    source: Path | None
    base_dir: Path
    agency: Agency
    mailbox: Mailbox
    smtp: Smtp
    storage_path: Path
    hours: Hours
    ids: Ids
    checks: Checks
    daemon: Daemon
    log_level: str
    busy_timeout_seconds: float
    limits: Limits
    backup: Backup
    users: dict[str, User]
    payment: Payment
    default_time_limit_days: int
    permits: Permits
    raw: dict[str, Any]

    @property
    def db_path(self) -> Path:
        return self.storage_path / "mailintake.db"

    @property
    def store_path(self) -> Path:
        return self.storage_path / "store"

    def search_path(self, kind: str) -> list[Path]:
        """Directories searched for ``rules`` or ``templates``: the agency's first,
        then a source checkout's top level, then what a wheel installed."""
        first = self.agency.rules_dir if kind == "rules" else self.agency.templates_dir
        shipped = Path(__file__).resolve().parents[2] / kind
        installed = Path(sys.prefix) / "share" / "mailintake" / kind
        seen: list[Path] = []
        for p in (first, shipped, installed):
            if p.is_dir() and p not in seen:
                seen.append(p)
        return seen

    def find(self, kind: str, name: str) -> Path:
        """The first file called ``name`` in the ``kind`` search path."""
        for d in self.search_path(kind):
            if (d / name).is_file():
                return d / name
        raise ConfigError(f"{kind}/{name}: not found in {', '.join(map(str, self.search_path(kind))) or 'any directory'}")


OPEN_TABLES = {"users"}  # tables whose keys are names chosen by the agency


def _merge(base: dict[str, Any], over: dict[str, Any], where: str) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if key in OPEN_TABLES and isinstance(value, dict):
            out[key] = {**base.get(key, {}), **value}
            continue
        if key not in base:
            raise ConfigError(f"{where}: unknown key [{key}]" if not where.endswith("]") else f"{where} {key}: unknown key")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            out[key] = _merge(base[key], value, f"{where}: [{key}]")
        else:
            out[key] = value
    return out


def _coerce_env(default: Any, text: str, key: str) -> Any:
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"environment {key}: expected true or false, got {text!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"environment {key}: expected a whole number, got {text!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"environment {key}: expected a number, got {text!r}") from None
    if isinstance(default, list):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> None:
    for section, table in data.items():
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            name = f"{ENV_PREFIX}{section}_{key}".upper()
            if name in environ:
                table[key] = _coerce_env(value, environ[name], name)


class _Reader:
    """Reads one section with errors that name the key."""

    def __init__(self, where: str, section: str, table: dict[str, Any]):
        self.where, self.section, self.table = where, section, table

    def fail(self, key: str, what: str) -> ConfigError:
        value = self.table.get(key)
        shown = "***" if key in SECRET_KEYS else repr(value)
        return ConfigError(f"{self.where}: [{self.section}] {key}: {what}, got {shown}")

    def text(self, key: str, *, choices: tuple[str, ...] = (), required: bool = False) -> str:
        value = self.table.get(key)
        if not isinstance(value, str):
            raise self.fail(key, "expected text")
        if required and not value.strip():
            raise self.fail(key, "must not be empty")
        if choices and value not in choices:
            raise self.fail(key, f"expected one of {', '.join(choices)}")
        return value

    def integer(self, key: str, *, minimum: int = 0, maximum: int = 2**31) -> int:
        value = self.table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self.fail(key, f"expected a whole number from {minimum} to {maximum}")
        return value

    def number(self, key: str, *, minimum: float = 0.0) -> float:
        value = self.table.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise self.fail(key, f"expected a number of at least {minimum}")
        return float(value)

    def boolean(self, key: str) -> bool:
        value = self.table.get(key)
        if not isinstance(value, bool):
            raise self.fail(key, "expected true or false")
        return value

    def clock(self, key: str, value: Any = None) -> time:
        value = self.table.get(key) if value is None else value
        try:
            hh, mm = str(value).split(":")
            return time(int(hh), int(mm))
        except (ValueError, TypeError):
            raise self.fail(key, "expected HH:MM") from None

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of text")
        return tuple(value)

    def path(self, key: str, base: Path) -> Path:
        p = Path(self.text(key)).expanduser()
        return p if p.is_absolute() else base / p


def _dates(reader: _Reader, key: str) -> dict[date, str]:
    out: dict[date, str] = {}
    value = reader.table.get(key)
    if not isinstance(value, list):
        raise reader.fail(key, "expected a list of dates")
    for item in value:
        text = item.isoformat() if isinstance(item, date) else str(item)
        day, _, name = text.partition(" ")
        try:
            out[date.fromisoformat(day)] = name.strip() or "agency holiday"
        except ValueError:
            raise ConfigError(f"{reader.where}: [{reader.section}] {key}: {item!r} is not a date (YYYY-MM-DD)") from None
    return out


def load(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load and validate the configuration.

    ``path`` None means ``$MAILINTAKE_CONFIG``, else ``./config.toml`` when it
    exists, else the shipped defaults alone (storage under ``./var``).
    """
    env = dict(os.environ if environ is None else environ)
    if path is None and env.get("MAILINTAKE_CONFIG"):
        path = env["MAILINTAKE_CONFIG"]
    if path is None and Path("config.toml").is_file():
        path = "config.toml"
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
        data = _merge(data, user, where)
    _apply_env(data, env)
    base = source.parent if source else Path.cwd()
    return _build(data, base, source, where)


def _build(data: dict[str, Any], base: Path, source: Path | None, where: str) -> Config:
    a = _Reader(where, "agency", data["agency"])
    agency = Agency(
        name_th=a.text("name_th", required=True),
        name_en=a.text("name_en", required=True),
        phone=a.text("phone", required=True),
        mailbox_address=a.text("mailbox_address", required=True),
        address_th=a.text("address_th"),
        address_en=a.text("address_en"),
        templates_dir=a.path("templates_dir", base),
        rules_dir=a.path("rules_dir", base),
    )
    if "@" not in agency.mailbox_address:
        raise a.fail("mailbox_address", "expected an email address")

    m = _Reader(where, "mailbox", data["mailbox"])
    kind = m.text("kind", choices=("imap", "maildir"))
    mailbox = Mailbox(
        kind=kind,
        path=m.path("path", base),
        host=m.text("host", required=kind == "imap"),
        port=m.integer("port", maximum=65535),
        security=m.text("security", choices=("ssl", "starttls", "none")),
        username=m.text("username", required=kind == "imap"),
        password=m.text("password"),
        ca_file=_ca_file(m, base),
        done_action=m.text("done_action", choices=("flag", "move")),
        done_keyword=m.text("done_keyword", required=True),
        archive_folder=m.text("archive_folder", required=True),
        skip_folders=m.strings("skip_folders"),
        junk_names=m.strings("junk_names"),
        sent_folder=m.text("sent_folder"),
        timeout_seconds=m.number("timeout_seconds", minimum=1),
    )
    if kind == "imap" and mailbox.security == "none" and not _is_loopback(mailbox.host):
        raise m.fail("security", "'none' (no TLS) is allowed only for a loopback host; use ssl or starttls")

    s = _Reader(where, "smtp", data["smtp"])
    smtp = Smtp(
        host=s.text("host"),
        port=s.integer("port", maximum=65535),
        security=s.text("security", choices=("ssl", "starttls", "none")),
        username=s.text("username"),
        password=s.text("password"),
        ca_file=_ca_file(s, base),
        outgoing_path=s.path("outgoing_path", base),
        timeout_seconds=s.number("timeout_seconds", minimum=1),
        retry_base_seconds=s.integer("retry_base_seconds", minimum=1),
        retry_max_seconds=s.integer("retry_max_seconds", minimum=1),
        give_up_hours=s.number("give_up_hours", minimum=0),
        bounce_block_days=s.integer("bounce_block_days", minimum=0, maximum=3650),
    )
    if smtp.host and smtp.security == "none" and not _is_loopback(smtp.host):
        raise s.fail("security", "'none' (no TLS) is allowed only for a loopback host; use ssl or starttls")

    st = _Reader(where, "storage", data["storage"])
    storage_path = st.path("path", base)
    if storage_path.exists() and not storage_path.is_dir():
        raise st.fail("path", f"{storage_path} is a file, not a directory")
    if not storage_path.exists() and not storage_path.parent.is_dir():
        raise st.fail("path", f"{storage_path.parent} does not exist (create it, or correct the path)")

    h = _Reader(where, "hours", data["hours"])
    try:
        tz = ZoneInfo(h.text("timezone", required=True))
    except (ZoneInfoNotFoundError, ValueError):
        raise h.fail("timezone", "expected an IANA time zone such as Asia/Bangkok") from None
    weekdays = h.table.get("working_weekdays")
    if not isinstance(weekdays, list) or not weekdays or not all(isinstance(d, int) and 1 <= d <= 7 for d in weekdays):
        raise h.fail("working_weekdays", "expected a list of weekday numbers 1 (Monday) to 7 (Sunday)")
    hours = Hours(
        timezone=tz,
        open=h.clock("open"),
        close=h.clock("close"),
        ack_by=h.clock("ack_by"),
        working_weekdays=frozenset(weekdays),
        extra_holidays=_dates(h, "extra_holidays"),
        extra_working_days=frozenset(_dates(h, "extra_working_days")),
        date_skew_hours=h.number("date_skew_hours"),
    )
    if hours.close <= hours.open:
        raise h.fail("close", f"must be later than open ({hours.open:%H:%M})")

    i = _Reader(where, "ids", data["ids"])
    ids = Ids(format=i.text("format", required=True), prefix=i.text("prefix"))
    try:
        sample = ids.format.format(prefix=ids.prefix, be_year=2568, year=2025, seq=1)
    except (KeyError, ValueError, IndexError) as exc:
        raise i.fail("format", f"bad format field {exc}; use {{prefix}} {{be_year}} {{year}} {{seq}}") from None
    if "{seq" not in ids.format or sample.strip() == "":
        raise i.fail("format", "must contain {seq}")

    c = _Reader(where, "checks", data["checks"])
    allowed = c.strings("allowed_types")
    from mailintake.base.rules import KNOWN_TYPES

    for t in allowed:
        if t not in KNOWN_TYPES:
            raise c.fail("allowed_types", f"unknown type {t!r}; known: {', '.join(sorted(KNOWN_TYPES))}")
    checks = Checks(
        allowed_types=allowed,
        min_dpi=c.integer("min_dpi", minimum=1, maximum=10000),
        dpi_tolerance_percent=c.number("dpi_tolerance_percent"),
        page_width_in=c.number("page_width_in", minimum=0.5),
        page_height_in=c.number("page_height_in", minimum=0.5),
    )

    d = _Reader(where, "daemon", data["daemon"])
    daemon = Daemon(
        poll_seconds=d.integer("poll_seconds", minimum=5),
        sweep_times=tuple(d.clock("sweep_times", v) for v in d.strings("sweep_times")),
        outbox_seconds=d.integer("outbox_seconds", minimum=5),
        use_idle=d.boolean("use_idle"),
        sweep_timeout_seconds=d.integer("sweep_timeout_seconds", minimum=10),
        admin_email=d.text("admin_email"),
        alert_after_failed_sweeps=d.integer("alert_after_failed_sweeps", minimum=1, maximum=100),
    )
    if daemon.admin_email and "@" not in daemon.admin_email:
        raise d.fail("admin_email", "expected an email address")
    lg = _Reader(where, "log", data["log"])
    return Config(
        source=source,
        base_dir=base,
        agency=agency,
        mailbox=mailbox,
        smtp=smtp,
        storage_path=storage_path,
        hours=hours,
        ids=ids,
        checks=checks,
        daemon=daemon,
        log_level=lg.text("level", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
        busy_timeout_seconds=st.number("busy_timeout_seconds", minimum=0.1),
        limits=_limits(_Reader(where, "limits", data["limits"])),
        backup=_backup(_Reader(where, "backup", data["backup"]), base),
        users=_users(where, data.get("users", {})),
        payment=_payment(_Reader(where, "payment", data["payment"])),
        permits=_permits(_Reader(where, "permits", data["permits"]), base),
        default_time_limit_days=_Reader(where, "lifecycle", data["lifecycle"]).integer(
            "default_time_limit_days", minimum=1, maximum=365),
        raw=data,
    )


def _limits(r: _Reader) -> Limits:
    mb, kb = 1024 * 1024, 1024
    return Limits(
        max_message_bytes=int(r.number("max_message_mb", minimum=0.01) * mb),
        max_header_bytes=int(r.number("max_header_kb", minimum=1) * kb),
        max_header_line_bytes=int(r.number("max_header_line_kb", minimum=1) * kb),
        max_multiparts=r.integer("max_multiparts", minimum=1),
        max_parts=r.integer("max_parts", minimum=1),
        parse_seconds=r.number("parse_seconds", minimum=0.01),
        message_seconds=r.number("message_seconds", minimum=0.1),
        sweep_memory_bytes=int(r.number("sweep_memory_mb", minimum=128) * mb),
        ack_max_files=r.integer("ack_max_files", minimum=1, maximum=10000),
        max_attachment_bytes=int(r.number("max_attachment_mb", minimum=0.01) * mb),
        check_seconds=r.number("check_seconds", minimum=0.5),
        check_memory_bytes=int(r.number("check_memory_mb", minimum=64) * mb),
        zip_max_entries=r.integer("zip_max_entries", minimum=1),
        zip_max_total_bytes=int(r.number("zip_max_total_mb", minimum=0.1) * mb),
        zip_max_ratio=r.number("zip_max_ratio", minimum=1),
        acks_per_sender_per_hour=r.integer("acks_per_sender_per_hour", minimum=1),
    )


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _backup(r: _Reader, base: Path) -> Backup:
    days = r.strings("days")
    if any(d not in WEEKDAYS for d in days):
        raise r.fail("days", f"expected a list of {', '.join(WEEKDAYS)}")
    return Backup(r.path("path", base), days, r.clock("time"), r.integer("keep", minimum=1, maximum=1000))


def _permits(p: _Reader, base: Path) -> Permits:
    fmt = p.text("number_format", required=True)
    try:
        fmt.format(code="EVT", be_year=2568, year=2025, seq=1)
    except (KeyError, ValueError, IndexError) as exc:
        raise p.fail("number_format", f"bad format field {exc}; use {{code}} {{be_year}} {{year}} {{seq}}") from None
    if "{seq" not in fmt:
        raise p.fail("number_format", "must contain {seq}")
    sign = None
    if p.text("sign_pkcs12"):
        sign = p.path("sign_pkcs12", base)
        if not sign.is_file():
            raise p.fail("sign_pkcs12", "no such file")
    return Permits(fmt, p.integer("valid_days", minimum=1, maximum=3650),
                   p.text("password_policy", choices=("random", "derived")),
                   p.integer("password_length", minimum=8, maximum=64), sign, p.text("sign_password"),
                   p.integer("verify_per_sender_per_day", minimum=1, maximum=1000))


def _payment(p: _Reader) -> Payment:
    pay = Payment(p.text("bank_name"), p.text("bank_account"), p.text("account_name"), p.text("promptpay_id"),
                  p.text("comp_code"), p.integer("deadline_days", minimum=1, maximum=90))
    if pay.promptpay_id:
        from mailintake.desk.promptpay import target

        try:
            target(pay.promptpay_id)
        except ValueError as exc:
            raise p.fail("promptpay_id", str(exc).split(":")[0]) from None
    return pay


def _users(where: str, table: dict[str, Any]) -> dict[str, User]:
    users: dict[str, User] = {}
    for login, value in table.items():
        spec = {"roles": value} if isinstance(value, list) else value
        if not isinstance(spec, dict) or set(spec) - {"roles", "name", "position"}:
            raise ConfigError(f"{where}: [users] {login}: expected a list of roles or {{ roles = [...], name = ..., position = ... }}")
        roles = spec.get("roles")
        if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
            raise ConfigError(f"{where}: [users] {login}: roles must be a list of {', '.join(ROLES)}, got {roles!r}")
        users[login] = User(login, frozenset(roles), str(spec.get("name", login)), str(spec.get("position", "")))
    return users


def _ca_file(reader: _Reader, base: Path) -> Path | None:
    if not reader.text("ca_file"):
        return None
    path = reader.path("ca_file", base)
    if not path.is_file():
        raise reader.fail("ca_file", "no such file")
    return path


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
