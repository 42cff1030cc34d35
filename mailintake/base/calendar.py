"""Working time (R2), deemed receipt (R3) and the acknowledgement deadline (R4).

One calendar for the whole program. Which holidays an office keeps is
``[hours] calendar``: ``government`` (the default) is the ``holidays`` package's
public and government holidays (Royal Ploughing Day) less National Labour Day,
which is kept by banks and the private sector only; ``public`` is the package's
public set; ``bank`` adds its bank holidays. Then the office's own list
(``[hours] holidays_file``: the Cabinet's yearly announcements and the agency's
days, ``base.holidaylist``), the agency's ``extra_holidays`` and
``extra_working_days`` from config, and the opening hours. Every closed day has
a Thai and an English name and says where it came from. All arithmetic happens
in the agency's time zone; callers pass aware datetimes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

from mailintake.base import holidaylist
from mailintake.base.config import Hours

# Each calendar: the package's categories it keeps, and whether it leaves out
# National Labour Day (and its day in lieu), whatever category the package puts it in.
CALENDARS: dict[str, tuple[tuple[str, ...], bool]] = {
    "government": (("public", "government"), True),
    "public": (("public",), False),
    "bank": (("public", "bank"), False),
}
# National Labour Day by its identity: the package's own (Thai) label, which its
# day in lieu carries too ("ชดเชยวันแรงงานแห่งชาติ"), or its English name.
LABOUR_DAY_TH = "วันแรงงานแห่งชาติ"
_LABOUR_DAY_EN = re.compile(r"\bLabou?r Day\b", re.IGNORECASE)
PACKAGE = f"holidays {holidays.__version__}"


@dataclass(frozen=True)
class Deadline:
    """When a message counts as received, when it must be acknowledged, and why."""

    received_at: datetime
    deemed_received_at: datetime
    ack_due_at: datetime
    in_working_time: bool
    reason: str


@dataclass(frozen=True)
class Holiday:
    """A closed day (or, in ``WorkCalendar.left_out``, a day the calendar does
    not keep), its names, and where it came from: ``origin`` is ``package``,
    ``config`` ([hours] extra_holidays) or ``file`` ([hours] holidays_file);
    ``source`` says it in words."""

    day: date
    name_th: str
    name_en: str
    origin: str
    source: str


def short_holiday_name(name: str) -> str:
    # The package joins concurrent observances with "; " and the last one is
    # the name people use (e.g. "National Father's Day").
    parts = [p.strip() for p in name.split(";") if p.strip()]
    short = parts[-1] if parts else name
    return short.replace("National ", "") if short.startswith("National ") and "Day" in short else short


def is_labour_day(name_th: str, name_en: str) -> bool:
    return LABOUR_DAY_TH in name_th or bool(_LABOUR_DAY_EN.search(name_en))


def _parts(name: str) -> list[str]:
    return [p.strip() for p in name.split(";") if p.strip()]


def _in_english(part: str, th: holidays.HolidayBase, en: holidays.HolidayBase, day_en: list[str], alone: bool) -> str:
    """The English name of one Thai observance. The package joins a day's
    observances with "; " sorted in each language's own order, so a day's Thai
    and English lists do not pair by position: each Thai name (the package's
    own message id) is translated with the package's English catalogue, a day
    in lieu ("ชดเชย%s") by its label and the holiday's name."""
    translate = getattr(en, "tr", None) or (lambda text: text)
    english = str(translate(part))
    if english != part:
        return english
    label = str(getattr(th, "observed_label", "") or "")
    prefix, found, suffix = label.partition("%s")
    if found and part.startswith(prefix) and part.endswith(suffix) and len(part) > len(prefix) + len(suffix):
        inner = part[len(prefix) : len(part) - len(suffix)]
        if str(translate(inner)) != inner:
            return str(translate(label)) % translate(inner)
    return day_en[0] if alone and len(day_en) == 1 else part


@lru_cache(maxsize=64)
def package_holidays(calendar: str, year: int) -> tuple[dict[date, Holiday], tuple[Holiday, ...]]:
    """The package's holidays that ``calendar`` keeps in ``year`` (substitution
    and bridge days included), by date, and the ones it leaves out."""
    categories, without_labour_day = CALENDARS[calendar]
    kept: dict[date, list[tuple[str, str, str]]] = {}
    left: list[Holiday] = []
    for category in categories:
        th = holidays.country_holidays("TH", years=year, categories=(category,), language="th")
        en = holidays.country_holidays("TH", years=year, categories=(category,), language="en_US")
        source = f"{PACKAGE} ({category})"
        for day in sorted(th):
            parts = _parts(str(th[day]))
            for name_th in parts:
                name_en = _in_english(name_th, th, en, _parts(str(en.get(day, ""))), len(parts) == 1)
                if without_labour_day and is_labour_day(name_th, name_en):
                    left.append(Holiday(day, name_th, name_en, "package", f"{source}; kept by banks and the private sector"))
                elif (name_th, name_en, source) not in kept.get(day, []):
                    kept.setdefault(day, []).append((name_th, name_en, source))
    out = {
        day: Holiday(
            day,
            "; ".join(n[0] for n in names),
            "; ".join(n[1] for n in names),
            "package",
            ", ".join(dict.fromkeys(n[2] for n in names)),
        )
        for day, names in sorted(kept.items())
    }
    return out, tuple(left)


class WorkCalendar:
    def __init__(self, hours: Hours):
        self.hours = hours
        self.tz = hours.timezone
        self.calendar = hours.calendar

    @property
    def own_list(self) -> holidaylist.HolidayList:
        """The office's list in ``[hours] holidays_file``, as it is now on disk."""
        return holidaylist.read(self.hours.holidays_file)

    def holiday(self, day: date) -> Holiday | None:
        """The closed day ``day`` is, with its names and source, or None (an
        extra working day is never one). The agency's config comes first, then
        its list, then the package."""
        if self.working_day_entry(day) is not None:
            return None
        if day in self.hours.extra_holidays:
            name = self.hours.extra_holidays[day]
            return Holiday(day, name, name, "config", "config [hours] extra_holidays")
        own = self.own_list.holidays.get(day)
        if own is not None:
            return Holiday(day, own.name_th, own.name_en, "file", f"{self.hours.holidays_file.name}: {own.source}")
        return package_holidays(self.calendar, day.year)[0].get(day)

    def working_day_entry(self, day: date) -> Holiday | None:
        """Why ``day`` is an extra working day, or None when it is not one."""
        if day in self.hours.extra_working_days:
            return Holiday(day, "วันทำการ", "working day", "config", "config [hours] extra_working_days")
        own = self.own_list.working_days.get(day)
        if own is not None:
            return Holiday(day, own.name_th, own.name_en, "file", f"{self.hours.holidays_file.name}: {own.source}")
        return None

    def holiday_name(self, day: date) -> str | None:
        """The holiday's (English) name when ``day`` is a closed day by name."""
        found = self.holiday(day)
        return None if found is None else found.name_en

    def is_working_day(self, day: date) -> bool:
        if self.working_day_entry(day) is not None:
            return True
        if day.isoweekday() not in self.hours.working_weekdays:
            return False
        return self.holiday(day) is None

    def holidays_in(self, year: int) -> list[Holiday]:
        """Every named closed day of ``year``, weekends included when a holiday falls on one."""
        days = set(package_holidays(self.calendar, year)[0]) | set(self.hours.extra_holidays)
        days |= set(self.own_list.holidays)
        found = (self.holiday(d) for d in sorted(d for d in days if d.year == year))
        return [h for h in found if h is not None]

    def working_days_in(self, year: int) -> list[Holiday]:
        days = set(self.hours.extra_working_days) | set(self.own_list.working_days)
        found = (self.working_day_entry(d) for d in sorted(d for d in days if d.year == year))
        return [h for h in found if h is not None]

    def left_out(self, year: int) -> tuple[Holiday, ...]:
        """The package's holidays this calendar does not keep (National Labour
        Day under ``government``)."""
        return package_holidays(self.calendar, year)[1]

    def agency_list_for(self, year: int) -> bool:
        """Whether the office has confirmed days of its own for ``year``: in its
        list (imported or written) or in config's extra holidays."""
        own = self.own_list
        return any(d.year == year for d in (*own.holidays, *own.working_days, *self.hours.extra_holidays))

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: every time must carry its offset")
        return moment.astimezone(self.tz)

    def at(self, day: date, clock: object) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.tz)  # type: ignore[arg-type]

    def in_working_time(self, moment: datetime) -> bool:
        t = self.local(moment)
        return self.is_working_day(t.date()) and self.hours.open <= t.time() < self.hours.close

    def next_working_day(self, day: date) -> date:
        d = day + timedelta(days=1)
        for _ in range(400):
            if self.is_working_day(d):
                return d
            d += timedelta(days=1)
        raise ValueError("no working day within 400 days: check [hours] in config")

    def add_working_days(self, day: date, n: int) -> date:
        d = day
        for _ in range(n):
            d = self.next_working_day(d)
        return d

    def deadline(self, received: datetime) -> Deadline:
        """Deemed receipt and acknowledgement due for a receipt time, with the
        reason in words, e.g. ``after hours; 5 Dec is a public holiday (Father's
        Day); deemed received Mon 8 Dec 08:30``."""
        t = self.local(received)
        day = t.date()
        h = self.hours
        if self.in_working_time(t):
            due = self.at(day, h.close)
            reason = f"in working time; acknowledge by {due:%a %-d %b %H:%M}"
            return Deadline(received, t, due, True, reason)

        notes: list[str] = []
        if self.is_working_day(day) and t.time() < h.open:
            first = day
            notes.append("before opening")
        else:
            if self.is_working_day(day):
                notes.append("after hours")
            else:
                notes.append(self._why_closed(day))
            first = self.next_working_day(day)
            # Name every holiday skipped between receipt and the next working day.
            d = day + timedelta(days=1)
            while d < first:
                name = self.holiday_name(d)
                if name is not None:
                    notes.append(self._named_holiday(d))
                d += timedelta(days=1)
        deemed = self.at(first, h.open)
        due = self.at(first, max(h.ack_by, h.open))
        notes.append(f"deemed received {deemed:%a %-d %b %H:%M}")
        return Deadline(received, deemed, due, False, "; ".join(notes))

    def _why_closed(self, day: date) -> str:
        if self.holiday(day) is not None:
            return self._named_holiday(day)
        return f"{day:%A} is not a working day"

    def _named_holiday(self, day: date) -> str:
        # The agency's own config days are "agency" holidays; the package's and
        # the announced ones (its list) are public ones (intake.respond reads this).
        found = self.holiday(day)
        assert found is not None
        if found.origin == "config":
            return f"{day.day} {day:%b} is an agency holiday ({found.name_en})"
        return f"{day.day} {day:%b} is a public holiday ({short_holiday_name(found.name_en)})"


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def year_view(cal: WorkCalendar, year: int) -> dict[str, object]:
    """The working-day calendar of ``year`` as data (``mailintake calendar show
    --json``): the weekend summarised, each named closed day with its Thai and
    English name and source, the package's days this calendar leaves out, and
    the extra working days."""

    def row(h: Holiday) -> dict[str, object]:
        return {
            "date": h.day.isoformat(),
            "weekday": WEEKDAY_NAMES[h.day.weekday()],
            "name_th": h.name_th,
            "name_en": h.name_en,
            "origin": h.origin,
            "source": h.source,
        }

    closed_weekdays = [n for i, n in enumerate(WEEKDAY_NAMES, 1) if i not in cal.hours.working_weekdays]
    first, days = date(year, 1, 1), (date(year + 1, 1, 1) - date(year, 1, 1)).days
    every = [first + timedelta(days=i) for i in range(days)]
    named = cal.holidays_in(year)
    return {
        "year": year,
        "calendar": cal.calendar,
        "categories": list(CALENDARS[cal.calendar][0]),
        "package": PACKAGE,
        "holidays_file": str(cal.hours.holidays_file),
        "agency_list": cal.agency_list_for(year),
        "weekend": {
            "weekdays": closed_weekdays,
            "days": sum(1 for d in every if d.isoweekday() not in cal.hours.working_weekdays),
        },
        "holidays": [{**row(h), "on_weekend": h.day.isoweekday() not in cal.hours.working_weekdays} for h in named],
        "not_kept": [row(h) for h in cal.left_out(year)],
        "working_days": [row(h) for h in cal.working_days_in(year)],
        "working_days_total": sum(1 for d in every if cal.is_working_day(d)),
    }
