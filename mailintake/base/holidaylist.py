"""The office's own list of holidays (R2): the days the Cabinet declares year by
year and the agency's own, kept as data in ``[hours] holidays_file`` (TOML,
beside config.toml), one entry per day with its Thai and English name and where
it came from. ``mailintake calendar import FILE.ics`` adds to it; an office can
also edit it by hand::

    [[holiday]]
    date = 2026-07-27
    name_th = "วันหยุดพิเศษ"
    name_en = "Special holiday"
    source = "import cabinet-2569.ics"

    [[working_day]]          # a day the office works although it would be closed
    date = 2026-11-07
    name_en = "Saturday in exchange for 27 July"

Every ``WorkCalendar`` reads the file through ``read``, cached by path and
modification time, so a change is seen without a restart.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mailintake.base.errors import ConfigError, UserError

KINDS = ("holiday", "working_day")
KEYS = ("date", "name_th", "name_en", "source")
LONGEST_EVENT_DAYS = 31  # a longer "holiday" in an .ics is a mistake, not a closure
_THAI = re.compile(r"[\u0E00-\u0E7F]")
HEADER = """\
# The office's own holidays and working days (R2): the Cabinet's yearly
# announcements and the agency's own days, beyond the `holidays` package.
# One [[holiday]] (or [[working_day]]) per day: date, name_th, name_en, source.
# `mailintake calendar import FILE.ics` adds to this file; you can edit it by hand.
"""


@dataclass(frozen=True)
class Entry:
    day: date
    name_th: str
    name_en: str
    source: str


@dataclass(frozen=True)
class HolidayList:
    path: Path | None
    holidays: dict[date, Entry] = field(default_factory=dict)
    working_days: dict[date, Entry] = field(default_factory=dict)


_cache: dict[Path, tuple[tuple[int, int], HolidayList]] = {}


def read(path: Path | None) -> HolidayList:
    """The list in ``path`` (none when there is no such file), read again only
    when the file changed. A file that is not as described is a ``ConfigError``
    naming it and the entry."""
    if path is None:
        return HolidayList(None)
    try:
        st = path.stat()
    except FileNotFoundError:
        return HolidayList(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the holidays file: {exc.strerror}") from None
    key = (st.st_mtime_ns, st.st_size)
    cached = _cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    parsed = _parse(path)
    _cache[path] = (key, parsed)
    return parsed


def _parse(path: Path) -> HolidayList:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the holidays file: {exc.strerror}") from None
    unknown = sorted(set(data) - set(KINDS))
    if unknown:
        raise ConfigError(f"{path}: unknown table [[{unknown[0]}]] (expected [[holiday]] or [[working_day]])")
    out: dict[str, dict[date, Entry]] = {}
    for kind in KINDS:
        items = data.get(kind, [])
        if not isinstance(items, list):
            raise ConfigError(f"{path}: {kind} must be written [[{kind}]], one per day")
        days: dict[date, Entry] = {}
        for n, item in enumerate(items, 1):
            entry = _entry(path, kind, n, item)
            if entry.day in days:
                raise ConfigError(f"{path}: [[{kind}]] {entry.day} is listed twice (entries {n} and an earlier one)")
            days[entry.day] = entry
        out[kind] = days
    both = sorted(set(out["holiday"]) & set(out["working_day"]))
    if both:
        raise ConfigError(f"{path}: {both[0]} is both a [[holiday]] and a [[working_day]]")
    return HolidayList(path, out["holiday"], out["working_day"])


def _entry(path: Path, kind: str, n: int, item: Any) -> Entry:
    where = f"{path}: [[{kind}]] entry {n}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected date, name_th, name_en, source")
    unknown = sorted(set(item) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]} (expected {', '.join(KEYS)})")
    raw = item.get("date")
    try:
        day = raw if isinstance(raw, date) and not isinstance(raw, datetime) else date.fromisoformat(str(raw))
    except ValueError:
        raise ConfigError(f"{where}: date: expected YYYY-MM-DD, got {raw!r}") from None
    texts = {k: item.get(k, "") for k in ("name_th", "name_en", "source")}
    bad = [k for k, v in texts.items() if not isinstance(v, str)]
    if bad:
        raise ConfigError(f"{where}: {bad[0]}: expected text, got {texts[bad[0]]!r}")
    name_th, name_en = texts["name_th"].strip(), texts["name_en"].strip()
    if kind == "holiday" and not (name_th or name_en):
        raise ConfigError(f"{where}: {day} needs a name_th or a name_en")
    fallback = "วันทำการ" if kind == "working_day" else ""
    return Entry(day, name_th or name_en or fallback, name_en or name_th, texts["source"].strip() or path.name)


# --- adding to the list ------------------------------------------------------------------------
def add(path: Path, entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """Append each holiday whose date the list does not hold yet (as a holiday
    or a working day), keeping the file's own text; returns (added, already there)."""
    current = read(path)
    added: list[Entry] = []
    known: list[Entry] = []
    seen = set(current.holidays) | set(current.working_days)
    for e in sorted(entries, key=lambda e: e.day):
        if e.day in seen:
            known.append(e)
            continue
        seen.add(e.day)
        added.append(e)
    if not added:
        return added, known
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    except OSError as exc:
        raise UserError(f"{path}: cannot read the holidays file: {exc.strerror}") from None
    if not text.endswith("\n"):
        text += "\n"
    blocks = [
        f"\n[[holiday]]\ndate = {e.day.isoformat()}\nname_th = {_quoted(e.name_th)}\n"
        f"name_en = {_quoted(e.name_en)}\nsource = {_quoted(e.source)}\n"
        for e in added
    ]
    _write(path, text + "".join(blocks))
    read(path)  # the new text must read back; a failure here is a bug worth a loud error
    return added, known


def _quoted(text: str) -> str:
    # A JSON string is a TOML basic string (the same escapes).
    return json.dumps(text, ensure_ascii=False)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write the holidays file: {exc.strerror}") from None


# --- reading an iCalendar file -----------------------------------------------------------------
def from_ics(path: Path, tz: ZoneInfo) -> list[Entry]:
    """The holidays in an iCalendar file: every VEVENT not cancelled, each day
    from DTSTART up to DTEND (exclusive, as RFC 5545 has it for all-day events)
    or DURATION. A file that cannot be read as iCalendar is a ``UserError`` in
    one line."""
    import icalendar  # only this command needs it

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        cal = icalendar.Calendar.from_ical(data)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise UserError(f"{path.name}: not an iCalendar file: {_one_line(exc)}") from None
    if not isinstance(cal, icalendar.Calendar) or cal.name != "VCALENDAR":
        raise UserError(f"{path.name}: not an iCalendar file: no VCALENDAR")
    out: list[Entry] = []
    for n, event in enumerate(cal.walk("VEVENT"), 1):
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        first, last = _span(path, n, event, tz)
        name_th, name_en = _names(event)
        if not (name_th or name_en):
            raise UserError(f"{path.name}: event {n} ({first}) has no SUMMARY")
        day = first
        while day <= last:
            out.append(Entry(day, name_th or name_en, name_en or name_th, f"import {path.name}"))
            day += timedelta(days=1)
    if not out:
        raise UserError(f"{path.name}: no events (VEVENT with DTSTART) in this iCalendar file")
    return out


def _as_day(value: Any, tz: ZoneInfo) -> date | None:
    try:
        moment = getattr(value, "dt", None)
    except ValueError:  # icalendar keeps a value it could not parse, and says so when it is read
        return None
    if isinstance(moment, datetime):
        return (moment.astimezone(tz) if moment.tzinfo else moment).date()
    return moment if isinstance(moment, date) else None


def _span(path: Path, n: int, event: Any, tz: ZoneInfo) -> tuple[date, date]:
    """The first and last day an event covers."""
    first = _as_day(event.get("DTSTART"), tz)
    if first is None:
        raw = event.get("DTSTART")
        shown = "missing" if raw is None else repr(str(raw))
        raise UserError(f"{path.name}: event {n}: DTSTART is not a date: {shown}")
    last = first
    if event.get("DTEND") is not None:
        end = _as_day(event.get("DTEND"), tz)
        if end is None:
            raise UserError(f"{path.name}: event {n} ({first}): DTEND is not a date")
        # DTEND is exclusive: an all-day event's last day is the day before it, a
        # timed event's the day of its last moment (midnight ends the day before).
        stop = event.get("DTEND").dt
        if isinstance(stop, datetime):
            stop = stop.astimezone(tz) if stop.tzinfo else stop
            last = max(first, (stop - timedelta(microseconds=1)).date())
        else:
            last = max(first, end - timedelta(days=1))
    elif event.get("DURATION") is not None:
        try:
            length = event.get("DURATION").dt
        except ValueError:
            length = None
        if not isinstance(length, timedelta):
            raise UserError(f"{path.name}: event {n} ({first}): DURATION is not a duration")
        last = max(first, first + timedelta(days=max(length.days, 1) - 1))
    if (last - first).days >= LONGEST_EVENT_DAYS:
        raise UserError(f"{path.name}: event {n} runs {first} to {last}: longer than {LONGEST_EVENT_DAYS} days, not a holiday")
    return first, last


def _names(event: Any) -> tuple[str, str]:
    """(Thai, English) from SUMMARY: two SUMMARY lines with LANGUAGE, or one
    written "ไทย / English" (or with " | "), or one in either language."""
    summaries = event.get("SUMMARY")
    items = summaries if isinstance(summaries, list) else [summaries] if summaries is not None else []
    th = en = ""
    for item in items:
        text = " ".join(str(item).split())
        lang = str(getattr(item, "params", {}).get("LANGUAGE", "")).lower()
        parts = [p.strip() for p in re.split(r"\s+[/|]\s+", text) if p.strip()]
        if len(parts) == 2 and bool(_THAI.search(parts[0])) != bool(_THAI.search(parts[1])):
            a, b = parts if _THAI.search(parts[0]) else parts[::-1]
            th, en = th or a, en or b
        elif lang.startswith("th") or (not lang and _THAI.search(text)):
            th = th or text
        else:
            en = en or text
    return th, en


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:157] + "..."
