"""Working time (R2), deemed receipt (R3) and the acknowledgement deadline (R4).

One calendar for the whole program: Thai public holidays from the ``holidays``
package (substitution and bridge days included), the agency's extra holidays and
extra working days from config, and the opening hours. All arithmetic happens in
the agency's time zone; callers pass aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

from mailintake.base.config import Hours


@dataclass(frozen=True)
class Deadline:
    """When a message counts as received, when it must be acknowledged, and why."""

    received_at: datetime
    deemed_received_at: datetime
    ack_due_at: datetime
    in_working_time: bool
    reason: str


def short_holiday_name(name: str) -> str:
    # The package joins concurrent observances with "; " and the last one is
    # the name people use (e.g. "National Father's Day").
    parts = [p.strip() for p in name.split(";") if p.strip()]
    short = parts[-1] if parts else name
    return short.replace("National ", "") if short.startswith("National ") and "Day" in short else short


@lru_cache(maxsize=64)
def thai_public_holidays(year: int) -> dict[date, str]:
    """Thai public holidays of a year, substitution and bridge days included."""
    th = holidays.country_holidays("TH", years=[year])
    return {d: str(n) for d, n in th.items()}


class WorkCalendar:
    def __init__(self, hours: Hours):
        self.hours = hours
        self.tz = hours.timezone

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name when ``day`` is a public or agency holiday."""
        if day in self.hours.extra_working_days:
            return None
        if day in self.hours.extra_holidays:
            return self.hours.extra_holidays[day]
        return thai_public_holidays(day.year).get(day)

    def is_working_day(self, day: date) -> bool:
        if day in self.hours.extra_working_days:
            return True
        if day.isoweekday() not in self.hours.working_weekdays:
            return False
        return self.holiday_name(day) is None

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
                    notes.append(
                        f"{d.day} {d:%b} is a public holiday ({short_holiday_name(name)})"
                        if d not in h.extra_holidays
                        else f"{d.day} {d:%b} is an agency holiday ({name})"
                    )
                d += timedelta(days=1)
        deemed = self.at(first, h.open)
        due = self.at(first, max(h.ack_by, h.open))
        notes.append(f"deemed received {deemed:%a %-d %b %H:%M}")
        return Deadline(received, deemed, due, False, "; ".join(notes))

    def _why_closed(self, day: date) -> str:
        name = self.holiday_name(day)
        if name is not None:
            kind = "an agency holiday" if day in self.hours.extra_holidays else "a public holiday"
            return f"{day.day} {day:%b} is {kind} ({short_holiday_name(name)})"
        return f"{day:%A} is not a working day"
