"""Months as the statistics name them (issue 14): ``parse_month`` reads
``YYYY-MM`` with a common-era or Buddhist-era year in any script's decimal
digits (Thai ``๒๕๖๙-๐๑``, full-width ``２０２６-０１``); ``begun`` refuses a
month that has not begun; ``days_of``, ``months_back`` and ``month_names``
name its days and its neighbours."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, tzinfo

from mailintake.base import thaitext
from mailintake.base.errors import UserError

FLOOR_YEAR = 1900  # no statistics before 1900 C.E. (2443 B.E.)


def ascii_digits(text: str) -> str:
    """``text`` with every Unicode decimal digit (Thai, full-width, ...) as its
    ASCII digit, after NFKC (a full-width hyphen becomes ``-``)."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(ch)) if unicodedata.category(ch) == "Nd" else ch for ch in text)


def parse_month(value: str | None) -> str:
    """``YYYY-MM``, the year in the common era or (over 2400) the Buddhist era,
    in any script's decimal digits; returns the common-era ``YYYY-MM``, the
    year converted exactly once, or raises ``UserError`` (a month before
    1900 C.E., 2443 B.E., too). Call it once, on what the user typed: what it
    returns is checked with ``ce_month``, never parsed again."""
    m = re.fullmatch(r"\s*([0-9]{4})-(0[1-9]|1[0-2])\s*", ascii_digits(value or ""))
    if m is None:
        raise UserError(f"--month: expected YYYY-MM (or a Buddhist-era year, e.g. 2569-01), got {value!r}")
    year = int(m.group(1))
    ce = thaitext.ce_year(year)
    if ce < FLOOR_YEAR:
        raise UserError(
            f"--month: no statistics before {FLOOR_YEAR}-01 ({thaitext.be_year(FLOOR_YEAR)}-01 in the Buddhist era), got {value!r}"
        )
    return f"{ce:04d}-{m.group(2)}"


def ce_month(month: str) -> str:
    """``month`` as given, a common-era ``YYYY-MM`` (what ``parse_month``
    returned: no year is converted here), or ``UserError``."""
    m = re.fullmatch(r"([0-9]{4})-(0[1-9]|1[0-2])", month)
    if m is None or int(m.group(1)) < FLOOR_YEAR:
        raise UserError(f"month: expected a common-era YYYY-MM from {FLOOR_YEAR}-01 on, got {month!r}")
    return month


def named(month: str, typed: str | None = None) -> str:
    """The month as the user typed it, and the common-era month it means when that differs."""
    if typed is None or typed.strip() == month:
        return month
    return f"{typed.strip()} ({month})"


def begun(month: str, now: datetime, tz: tzinfo | None, typed: str | None = None) -> None:
    """Refuse (``UserError``) a month that has not begun at ``now``; the
    message names the month as typed (``typed``) and the common-era month."""
    try:
        today = (now.astimezone(tz) if tz is not None and now.tzinfo is not None else now).date()
    except OverflowError:  # a moment at the edge of year 1 (or 9999): the agency's day is its own
        today = now.date()
    if days_of(month)[0] > today:
        raise UserError(f"--month {named(month, typed)} has not begun (it is {today.isoformat()}): nothing to report yet")


def days_of(month: str) -> tuple[date, date]:
    """The first and last day of ``month``."""
    year, mon = (int(x) for x in month.split("-"))
    first = date(year, mon, 1)
    return first, date(year + mon // 12, mon % 12 + 1, 1) - timedelta(days=1)


def months_back(month: str, n: int) -> list[str]:
    """The ``n`` months ending with ``month``, oldest first (none before 0001-01)."""
    year, mon = (int(x) for x in month.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{mon:02d}")
        if (year, mon) == (1, 1):  # never before January of year 1
            break
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


def month_names(month: str) -> dict[str, str]:
    """The month in Thai (Buddhist era) and English words."""
    year, mon = (int(x) for x in month.split("-"))
    day = datetime(year, mon, 1)
    return {
        "th": f"{thaitext.TH_MONTHS[mon - 1]} {thaitext.be_year(year)}",
        "en": day.strftime("%B %Y"),
        "be": f"{thaitext.be_year(year)}-{mon:02d}",
    }
