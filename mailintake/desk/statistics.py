"""The monthly service statistics (issue 14, R28; ITA item O10), recomputed
from the audit events each time, never kept as counters. A month is a
calendar month in the agency's time zone; an event counts in the month its
``at`` falls in, an application in the month of its deemed receipt.

What each figure counts (``ops.monthly.FIGURES`` gives its Thai and English label):

- **received**: applications (not inquiries) whose ``registered`` event gives
  a deemed receipt in the month, per working day and per service (the service
  and kind as the application has them now: a clerk's correction counts);
  **inquiries_received** the same for inquiries.
- **acks**: ``desk.watchdog.on_time`` (R4): acknowledged by SMTP before
  ``ack_due_at``, of the applications deemed received in the month.
- **finished**: applications decided (the first move to ``approved`` or
  ``rejected``) in the month: the service clock stops there (``desk.clock``,
  R25). **within time**: decided by the clock's due time (the service's
  ``time_limit_days`` in working days, pauses for requested information
  added). **days to finish**: the working days the clock counted (pauses
  left out); median, and the 90th percentile by nearest rank (the smallest
  value at least 90% of the values do not exceed).
- **info_requests** (``request_info``), **delay_notices** (``delay_notice``)
  and **opdc_copies** (those with a copy to OPDC), events in the month.
- **fees_confirmed** (``confirm_payment``) and their total in baht (the amount
  finance recorded, else the application's fee).
- **permits_issued** (``permit_issued``), **permits_revoked**
  (``permit_revoked``), **permits_verified** (``verify_answered`` about a
  permit in the register).
- **satisfaction**: ``desk.satisfaction.counted`` (R26).
- **inquiries_answered** (``answered``).

``on_time_trend`` is the acknowledgement and within-time shares for the 12
months ending with the report month (the trend chart).
"""

from __future__ import annotations

import json
import math
import re
import statistics as stats
from collections import Counter
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from mailintake.base import thaitext
from mailintake.base.calendar import WorkCalendar
from mailintake.base.data import applications
from mailintake.base.data import statistics as rows
from mailintake.base.data.db import to_iso
from mailintake.base.deployment import Deployment
from mailintake.base.errors import UserError
from mailintake.desk import clock
from mailintake.desk.satisfaction import counted
from mailintake.desk.watchdog import on_time

DECIDED = ("approved", "rejected")
COUNTED = (
    "registered",
    "request_info",
    "delay_notice",
    "confirm_payment",
    "permit_issued",
    "permit_revoked",
    "verify_answered",
    "answered",
    "satisfaction",
)
BE_OFFSET = 543
TREND_MONTHS = 12


# --- months ------------------------------------------------------------------------------------
def parse_month(value: str | None) -> str:
    """``YYYY-MM``, the year in the common era or (over 2400) the Buddhist era;
    returns the common-era ``YYYY-MM``, or raises ``UserError``."""
    m = re.fullmatch(r"\s*(\d{4})-(0[1-9]|1[0-2])\s*", value or "")
    if m is None:
        raise UserError(f"--month: expected YYYY-MM (or a Buddhist-era year, e.g. 2569-01), got {value!r}")
    year = int(m.group(1))
    return f"{year - BE_OFFSET if year > 2400 else year:04d}-{m.group(2)}"


def days_of(month: str) -> tuple[date, date]:
    """The first and last day of ``month``."""
    year, mon = (int(x) for x in month.split("-"))
    first = date(year, mon, 1)
    return first, date(year + mon // 12, mon % 12 + 1, 1) - timedelta(days=1)


def months_back(month: str, n: int) -> list[str]:
    """The ``n`` months ending with ``month``, oldest first."""
    year, mon = (int(x) for x in month.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{mon:02d}")
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


def _month_of(at: str | None, tz: tzinfo | None) -> str | None:
    if not at:
        return None
    moment = datetime.fromisoformat(at)
    if tz is not None and moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return moment.strftime("%Y-%m")


def months_with_data(reg: Any, tz: tzinfo | None = None) -> list[str]:
    """Every month (``YYYY-MM``, oldest first) in which an event the
    statistics count happened, in ``tz`` (default: each time's own offset,
    which is the agency's for all but the clock's own UTC times)."""
    found = {_month_of(at, tz) for at in rows.event_times(reg, COUNTED)}
    return sorted(m for m in found if m)


# --- the figures -------------------------------------------------------------------------------
def _detail(row: dict[str, Any]) -> dict[str, Any]:
    try:
        found = json.loads(row.get("detail") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def p90(values: list[int]) -> int | None:
    """The 90th percentile by nearest rank."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None


def median(values: list[int]) -> float | None:
    return float(stats.median(values)) if values else None


class Statistics:
    """The events of one deployment, read once, cut into months; the service
    clock is read only for applications decided in ``window`` (months)."""

    def __init__(self, dep: Deployment, window: set[str]):
        self.dep = dep
        self.cal: WorkCalendar = dep.calendar
        self.window = window
        self.events = rows.events_of_actions(dep.registry, COUNTED)
        self._finished: list[dict[str, Any]] | None = None

    def month_of(self, at: str | None) -> str | None:
        return _month_of(at, self.cal.tz)

    def of(self, month: str, *actions: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["action"] in actions and self.month_of(e["at"]) == month]

    def received(self, month: str, kind: str = "application") -> list[dict[str, Any]]:
        """The registered applications (or inquiries) deemed received in ``month``: tid, day, service."""
        out, seen = [], set()
        for e in self.events:
            if e["action"] != "registered" or e["transaction_id"] in seen:
                continue
            detail = _detail(e)
            if (e["kind"] or detail.get("kind") or "application") != kind:
                continue
            deemed = detail.get("deemed") or e["deemed_received_at"]
            if self.month_of(deemed) != month:
                continue
            seen.add(e["transaction_id"])
            day = self.cal.local(datetime.fromisoformat(deemed)).date()
            out.append({"transaction_id": e["transaction_id"], "day": day.isoformat(), "service": e["service"] or "unassigned"})
        return out

    def finished(self) -> list[dict[str, Any]]:
        """Every application decided in the window: month, service, working days used, within time."""
        if self._finished is None:
            cfg, reg = self.dep.cfg, self.dep.registry
            out, seen = [], set()
            for e in rows.status_moves_to(reg, DECIDED):
                tid = e["transaction_id"]
                if tid in seen or e["kind"] != "application":
                    continue
                seen.add(tid)
                if self.month_of(e["at"]) not in self.window:
                    continue
                limit = clock.limit_of(self.dep.service(e["service"]), cfg.default_time_limit_days)
                read = clock.read(
                    self.cal,
                    cfg.hours.close,
                    datetime.fromisoformat(e["deemed_received_at"]),
                    limit,
                    applications.events_of(reg, tid),
                )
                within = read.stopped_at is not None and read.due_at is not None and read.stopped_at <= read.due_at
                out.append(
                    {
                        "transaction_id": tid,
                        "month": self.month_of(e["at"]),
                        "service": e["service"] or "unassigned",
                        "status": e["status_after"],
                        "limit_days": limit,
                        "working_days": read.used_days if read.used_days is not None else 0,
                        "within_time": within,
                    }
                )
            self._finished = out
        return self._finished

    def working_days(self, month: str) -> list[str]:
        first, last = days_of(month)
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        return [d.isoformat() for d in days if self.cal.is_working_day(d)]


def _finished_figures(done: list[dict[str, Any]]) -> dict[str, Any]:
    days = [d["working_days"] for d in done]
    within = sum(1 for d in done if d["within_time"])
    return {
        "finished": len(done),
        "within_time": within,
        "within_time_percent": percent(within, len(done)),
        "days_median": median(days),
        "days_p90": p90(days),
    }


def monthly(dep: Deployment, month: str, now: datetime) -> dict[str, Any]:
    """The figures of ``month`` (``YYYY-MM``, or Buddhist era) as a plain,
    JSON-ready dict (see the module for what each counts)."""
    month = parse_month(month)
    st = Statistics(dep, set(months_back(month, TREND_MONTHS)))
    services = {
        s.id: {"code": s.code, "name_th": s.name_th, "name_en": s.name_en, "time_limit_days": s.time_limit_days}
        for s in dep.services
    }

    unnamed = {
        "code": "-",
        "name_th": "ไม่ระบุบริการ",
        "name_en": "No service named",
        "time_limit_days": dep.cfg.default_time_limit_days,
    }
    received = st.received(month)
    working = st.working_days(month)
    per_day: dict[str, Counter[str]] = {d: Counter() for d in working}
    for r in received:
        per_day.setdefault(r["day"], Counter())[r["service"]] += 1
    by_service = Counter(r["service"] for r in received)
    for sid in by_service:
        services.setdefault(sid, unnamed)

    acks = on_time(dep, month)
    done = [d for d in st.finished() if d["month"] == month]
    finished = _finished_figures(done)
    finished["by_service"] = {
        sid: _finished_figures([d for d in done if d["service"] == sid]) for sid in sorted({d["service"] for d in done})
    }
    for sid in finished["by_service"]:
        services.setdefault(sid, unnamed)

    notices = st.of(month, "delay_notice")
    confirmed = st.of(month, "confirm_payment")
    amounts = [int(_detail(e).get("amount") or e["fee_amount"] or 0) for e in confirmed]
    verified = [e for e in st.of(month, "verify_answered") if _detail(e).get("status") not in (None, "unknown")]
    satisfaction = counted(dep.registry, month)

    figures: dict[str, Any] = {
        "working_days": len(working),
        "received": len(received),
        "acks_on_time": acks["on_time"],
        "acks_on_time_percent": acks["rate_percent"],
        "finished": finished["finished"],
        "finished_within_time": finished["within_time"],
        "finished_within_time_percent": finished["within_time_percent"],
        "days_to_finish_median": finished["days_median"],
        "days_to_finish_p90": finished["days_p90"],
        "info_requests": len(st.of(month, "request_info")),
        "delay_notices": len(notices),
        "opdc_copies": sum(1 for e in notices if _detail(e).get("opdc")),
        "fees_confirmed": len(confirmed),
        "fees_total_baht": sum(amounts),
        "permits_issued": len(st.of(month, "permit_issued")),
        "permits_revoked": len(st.of(month, "permit_revoked")),
        "permits_verified": len(verified),
        "satisfaction_answers": satisfaction["answers"],
        "satisfaction_mean": satisfaction["mean"],
        "inquiries_received": len(st.received(month, "inquiry")),
        "inquiries_answered": len(st.of(month, "answered")),
    }
    return {
        "month": month,
        "month_names": month_names(month),
        "generated_at": to_iso(now),
        "figures": figures,
        "services": services,
        "received": {
            "total": len(received),
            "by_service": dict(sorted(by_service.items())),
            "by_day": [
                {"day": d, "by_service": dict(sorted(c.items())), "total": sum(c.values())} for d, c in sorted(per_day.items())
            ],
        },
        "acks": {k: acks[k] for k in ("applications", "on_time", "rate_percent")},
        "finished": finished,
        "satisfaction": satisfaction,
        "trend": on_time_trend(dep, st, month),
    }


def on_time_trend(dep: Deployment, st: Statistics, month: str) -> list[dict[str, Any]]:
    """For each of the 12 months ending with ``month``: the share acknowledged
    on time and the share finished within time (None with nothing to share)."""
    out = []
    done = st.finished()
    for m in months_back(month, TREND_MONTHS):
        acks = on_time(dep, m)
        mine = [d for d in done if d["month"] == m]
        within = sum(1 for d in mine if d["within_time"])
        out.append(
            {
                "month": m,
                "applications": acks["applications"],
                "acks_on_time_percent": acks["rate_percent"],
                "finished": len(mine),
                "finished_within_time_percent": percent(within, len(mine)),
            }
        )
    return out
