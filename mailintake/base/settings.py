"""How a configuration key is read: the generic builder behind ``base.config``.

A section of the TOML is a frozen dataclass; each field is one key. The field's
type hint says how the value is read (text, whole number, number, true/false,
HH:MM, a path, ``Path | None``: an optional file that must exist when set, a
list of text), ``setting(...)`` says its bounds, and
``build_section`` reads every field in order, runs the section's ``check`` (the
rules that relate keys), and refuses a key no field declares. Every error names
the file, the section and the key: ``config.toml: [hours] open: expected HH:MM, got '8h'``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailintake.base.errors import ConfigError

SECRET_KEYS = frozenset({"password"})  # never shown in a message (nor a field declared secret)
# A key whose name says it holds a secret is masked too, even when no field
# declares it so: ``password``, ``sign_password``, ``api_secret``, ``token``.
_SECRET_NAME = re.compile(r"(?i)(password|passwd|passphrase|token)$|secret")
MASK = "***"
T = typing.TypeVar("T")


def setting(
    *,
    low: float | None = None,
    high: int | None = None,
    choices: tuple[str, ...] = (),
    required: bool | tuple[str, str] = False,
    unit: int | None = None,
    key: str | None = None,
    read: Callable[[Reader, str], Any] | None = None,
    secret: bool = False,
) -> Any:
    """Declare how one key is read. ``low``/``high``: bounds of a number;
    ``choices``: the allowed texts (of a text, or of each item of a list);
    ``required``: text that must not be empty (or only when another key has a
    value: ``("kind", "imap")``); ``unit``: a number in MB or KB kept in bytes,
    read from ``key`` (the TOML name when it differs from the field's);
    ``read``: a reader of its own for a value of a special shape."""
    meta = {"low": low, "high": high, "choices": choices, "required": required, "unit": unit, "key": key, "read": read}
    return field(metadata={**meta, "secret": secret}, repr=not secret)


def is_secret(key: str, declared: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether the value of ``key`` must never be shown: declared secret, or
    named like one."""
    return key in declared or key in SECRET_KEYS or bool(_SECRET_NAME.search(key))


def masked_repr(self: Any) -> str:
    """The ``repr`` of a section dataclass with every secret field shown as
    ``***``, so a logged or printed configuration never carries a password."""
    shown = []
    for f in dataclasses.fields(self):
        value = getattr(self, f.name)
        secret = f.metadata.get("secret") or is_secret(f.metadata.get("key") or f.name)
        shown.append(f"{f.name}={MASK!s}" if secret and value else f"{f.name}={value!r}")
    return f"{type(self).__name__}({', '.join(shown)})"


class Reader:
    """Reads one section with errors that name the key."""

    def __init__(self, where: str, section: str, table: dict[str, Any], base: Path, secrets: frozenset[str] = frozenset()):
        self.where, self.section, self.table, self.base = where, section, table, base
        self.secrets = SECRET_KEYS | secrets

    def fail(self, key: str, what: str) -> ConfigError:
        value = self.table.get(key)
        shown = MASK if is_secret(key, self.secrets) else repr(value)
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

    def integer(self, key: str, *, low: int = 0, high: int = 2**31) -> int:
        value = self.table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"expected a whole number from {low} to {high}")
        return value

    def number(self, key: str, *, low: float = 0.0) -> float:
        value = self.table.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
            raise self.fail(key, f"expected a number of at least {low}")
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

    def strings(self, key: str, *, choices: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.table.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of text")
        if choices and any(v not in choices for v in value):
            raise self.fail(key, f"expected a list of {', '.join(choices)}")
        return tuple(value)

    def path(self, key: str) -> Path:
        p = Path(self.text(key)).expanduser()
        return p if p.is_absolute() else self.base / p

    def existing_file(self, key: str) -> Path | None:
        """An optional file: empty means none; set, it must exist."""
        if not self.text(key):
            return None
        path = self.path(key)
        if not path.is_file():
            raise self.fail(key, "no such file")
        return path

    def zone(self, key: str) -> ZoneInfo:
        try:
            return ZoneInfo(self.text(key, required=True))
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(key, "expected an IANA time zone such as Asia/Bangkok") from None

    def weekdays(self, key: str) -> frozenset[int]:
        days = self.table.get(key)
        if not isinstance(days, list) or not days or not all(isinstance(d, int) and 1 <= d <= 7 for d in days):
            raise self.fail(key, "expected a list of weekday numbers 1 (Monday) to 7 (Sunday)")
        return frozenset(days)

    def dates(self, key: str) -> dict[date, str]:
        """ISO dates, each optionally followed by a name: ``"2025-12-31 New Year's Eve"``."""
        value = self.table.get(key)
        if not isinstance(value, list):
            raise self.fail(key, "expected a list of dates")
        out: dict[date, str] = {}
        for item in value:
            text = item.isoformat() if isinstance(item, date) else str(item)
            day, _, name = text.partition(" ")
            try:
                out[date.fromisoformat(day)] = name.strip() or "agency holiday"
            except ValueError:
                raise ConfigError(f"{self.where}: [{self.section}] {key}: {item!r} is not a date (YYYY-MM-DD)") from None
        return out

    def date_set(self, key: str) -> frozenset[date]:
        return frozenset(self.dates(key))

    def clocks(self, key: str) -> tuple[time, ...]:
        return tuple(self.clock(key, v) for v in self.strings(key))


def did_you_mean(word: str, known: Iterable[str], shown: str = "{}") -> str:
    """`` (did you mean templates_dir?)`` for a misspelled key, or nothing when
    no known name is close; ``shown`` frames the suggestion (``"[{}]"`` for a section)."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {shown.format(close[0])}?)" if close else ""


# --- layers: defaults, the agency's file, the environment ----------------------------------
def merge(base: dict[str, Any], over: dict[str, Any], where: str, open_tables: set[str]) -> dict[str, Any]:
    """``over`` laid over ``base`` key by key; a key ``base`` lacks is refused,
    with the nearest known name, except in ``open_tables`` (whose keys are names
    chosen by the agency)."""
    out = dict(base)
    for key, value in over.items():
        if key in open_tables and isinstance(value, dict):
            out[key] = {**base.get(key, {}), **value}
            continue
        if key not in base:
            if where.endswith("]"):  # a key of a section
                raise ConfigError(f"{where} {key}: unknown key{did_you_mean(key, base)}")
            sections = [k for k, v in base.items() if isinstance(v, dict)]
            home = [k for k in sections if key in base[k]]  # a key written above its section's header
            hint = f" (it belongs in [{home[0]}])" if len(home) == 1 else did_you_mean(key, sections, "[{}]")
            raise ConfigError(f"{where}: unknown key [{key}]{hint}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            out[key] = merge(base[key], value, f"{where}: [{key}]", set())
        else:
            out[key] = value
    return out


def _coerce_env(default: Any, text: str, key: str) -> Any:
    """An environment variable's text as the type of the key's default."""
    if isinstance(default, bool):
        words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
        if text.lower() not in words:
            shown = MASK if is_secret(key) else repr(text)
            raise ConfigError(f"environment {key}: expected true or false, got {shown}")
        return words[text.lower()]
    if isinstance(default, (int, float)):
        try:
            return type(default)(text)
        except ValueError:
            what = "a whole number" if isinstance(default, int) else "a number"
            shown = MASK if is_secret(key) else repr(text)
            raise ConfigError(f"environment {key}: expected {what}, got {shown}") from None
    if isinstance(default, list):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def apply_env(data: dict[str, Any], environ: dict[str, str], prefix: str, *, fixed: tuple[str, ...] = ()) -> None:
    """Set each scalar key from ``<prefix><SECTION>_<KEY>`` in ``environ`` when
    it is there, except in the ``fixed`` sections, which only the file sets."""
    for section, table in data.items():
        if not isinstance(table, dict) or section in fixed:
            continue
        for key, value in table.items():
            name = f"{prefix}{section}_{key}".upper()
            if name in environ:
                table[key] = _coerce_env(value, environ[name], name)


# --- the builder -----------------------------------------------------------------------------
def _read(r: Reader, name: str, hint: Any, meta: dict[str, Any], done: dict[str, Any]) -> Any:
    """One field's value, read by its type hint and its ``setting``."""
    key = meta.get("key") or name
    if meta.get("read"):
        return meta["read"](r, key)
    if meta.get("unit"):  # a size in MB or KB, kept in bytes
        return int(r.number(key, low=meta["low"]) * meta["unit"])
    if hint is str:
        required = meta.get("required", False)
        if isinstance(required, tuple):
            other, value = required
            required = done.get(other) == value
        return r.text(key, choices=meta.get("choices", ()), required=bool(required))
    if hint is bool:
        return r.boolean(key)
    if hint is int:
        bounds = {k: v for k, v in (("low", meta.get("low")), ("high", meta.get("high"))) if v is not None}
        return r.integer(key, **bounds)
    if hint is float:
        return r.number(key, low=meta["low"]) if meta.get("low") is not None else r.number(key)
    if hint is time:
        return r.clock(key)
    if hint is Path:
        return r.path(key)
    if hint == Path | None:
        return r.existing_file(key)
    if hint == tuple[str, ...]:
        return r.strings(key, choices=meta.get("choices", ()))
    raise TypeError(f"config: no reader for [{r.section}] {key} ({hint})")  # a mistake in this module


def build_section(cls: type[T], r: Reader) -> T:
    """Build the section dataclass ``cls`` from ``r.table``: every field read
    and validated, then the section's ``check``; a key no field declares is refused."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    r.secrets = r.secrets | {f.metadata.get("key") or f.name for f in fields if f.metadata.get("secret")}
    values: dict[str, Any] = {}
    known = set()
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        known.add(f.metadata.get("key") or f.name)
        values[f.name] = _read(r, f.name, hints[f.name], dict(f.metadata), values)
    for key in r.table:
        if key not in known:
            raise ConfigError(f"{r.where}: [{r.section}] {key}: unknown key{did_you_mean(key, known)}")
    section = cls(**values)
    check = getattr(section, "check", None)
    if check is not None:
        check(r)
    return section


def is_section(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)
