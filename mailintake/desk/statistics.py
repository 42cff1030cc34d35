"""The monthly service statistics (issue 14, R28; ITA item O10), recomputed
from the audit events each time, never kept as counters. A month is a
calendar month in the agency's time zone; an event counts in the month its
``at`` falls in, an application in the month of its deemed receipt.

What each figure counts (``ops.monthly.FIGURES`` gives its Thai and English label):

- **received**: applications (not inquiries) whose ``registered`` event gives
  a deemed receipt in the month, per working day and per service (the service
  and kind as the application has them now: a clerk's correction counts);
  **inquiries_received** the same for inquiries.
- **acks**: as ``desk.watchdog.on_time`` (R4): acknowledged by SMTP before
  ``ack_due_at``, of the applications deemed received in the month.
- **finished**: applications decided (the first move to ``approved`` or
  ``rejected``) in the month: the service clock stops there (``desk.clock``,
  R25). **within time**: decided by the due time the clock recorded on the
  application when it stopped (``applications.due_at`` and ``.clock``: the
  time limit that applied then, pauses for requested information added), so a
  later edit of ``rules/services/`` or a removed service changes no month
  already published. **days to finish**: the working days the clock counted
  (pauses left out); median, and the 90th percentile by nearest rank (the smallest
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

Only what happened up to ``now`` counts (an application from its deemed
receipt; an acknowledgement not yet due and not yet sent counts neither way).
A month that has not begun at ``now`` is refused; one not yet over is marked
``partial`` with ``up_to`` (its working days are those up to ``now``).
"""

from __future__ import annotations

import json
import math
import statistics as stats
from collections import Counter
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from mailintake.base.calendar import WorkCalendar
from mailintake.base.data import applications, deadline_mail
from mailintake.base.data import statistics as rows
from mailintake.base.data.db import to_iso
from mailintake.base.deployment import Deployment
from mailintake.desk import clock
from mailintake.desk.months import begun, ce_month, days_of, month_names, months_back

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
TREND_MONTHS = 12


# --- months ------------------------------------------------------------------------------------
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


def _upto(at: str | None, until: datetime) -> bool:
    return bool(at) and datetime.fromisoformat(str(at)) <= until


def recorded_clock(e: dict[str, Any]) -> tuple[str, int, int, bool] | None:
    """From the clock recorded on the application when it stopped: when it
    stopped, its time limit, the working days it counted and whether it
    stopped by its due time; None when no stopped clock was recorded."""
    try:
        kept = json.loads(e.get("clock") or "null")
    except ValueError:
        return None
    if not isinstance(kept, dict) or kept.get("state") != clock.STOPPED_STATE or not e.get("due_at"):
        return None
    stopped, used = kept.get("stopped_at"), kept.get("used_days")
    if not stopped or used is None or kept.get("limit_days") is None:
        return None
    within = datetime.fromisoformat(stopped) <= datetime.fromisoformat(e["due_at"])
    return stopped, int(kept["limit_days"]), int(used), within


class Statistics:
    """The events of one deployment up to ``until``, read once, cut into
    months; the service clock is read only for applications decided in
    ``window`` (months)."""

    def __init__(self, dep: Deployment, window: set[str], until: datetime):
        self.dep = dep
        self.cal: WorkCalendar = dep.calendar
        self.window = window
        self.until = until
        self.events = [e for e in rows.events_of_actions(dep.registry, COUNTED) if _upto(e["at"], until)]
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
            if self.month_of(deemed) != month or not _upto(deemed, self.until):
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
                if tid in seen or e["kind"] != "application" or not _upto(e["at"], self.until):
                    continue
                seen.add(tid)
                if self.month_of(e["at"]) not in self.window:
                    continue
                kept = recorded_clock(e)
                if kept is not None:
                    _stopped, limit, used, within = kept
                else:  # no stopped clock recorded (decided before the clock was kept): read it now
                    limit = clock.limit_of(self.dep.service(e["service"]), cfg.default_time_limit_days)
                    read = clock.read(
                        self.cal,
                        cfg.hours.close,
                        datetime.fromisoformat(e["deemed_received_at"]),
                        limit,
                        applications.events_of(reg, tid),
                    )
                    within = read.stopped_at is not None and read.due_at is not None and read.stopped_at <= read.due_at
                    used = read.used_days if read.used_days is not None else 0
                out.append(
                    {
                        "transaction_id": tid,
                        "month": self.month_of(e["at"]),
                        "service": e["service"] or "unassigned",
                        "status": e["status_after"],
                        "limit_days": limit,
                        "working_days": used,
                        "within_time": within,
                    }
                )
            self._finished = out
        return self._finished

    def working_days(self, month: str) -> list[str]:
        """The working days of ``month`` up to ``until``."""
        first, last = days_of(month)
        last = min(last, self.cal.local(self.until).date())
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        return [d.isoformat() for d in days if self.cal.is_working_day(d)]


def _finished_figures(done: list[dict[str, Any]]) -> dict[str, Any]:
    days = [d["working_days"] for d in done]
    within = sum(1 for d in done if d["within_time"])
    return {
        "limit_days": sorted({d["limit_days"] for d in done}),
        "finished": len(done),
        "within_time": within,
        "within_time_percent": percent(within, len(done)),
        "days_median": median(days),
        "days_p90": p90(days),
    }


def acks_of(dep: Deployment, month: str, until: datetime) -> dict[str, Any]:
    """``desk.watchdog.on_time`` as it stood at ``until``: of the applications
    deemed received in ``month`` by then, those acknowledged before their
    ``ack_due_at``; one neither acknowledged nor due yet counts neither way."""
    first, last = (dep.calendar.at(d, time(0)) for d in (days_of(month)[0], days_of(month)[1] + timedelta(days=1)))
    apps = [a for a in deadline_mail.deemed_in(dep.registry, first, last) if _upto(a["deemed_received_at"], until)]
    known = on = 0
    for a in apps:
        acked = a["acknowledged_at"] if _upto(a["acknowledged_at"], until) else None
        due = datetime.fromisoformat(a["ack_due_at"])
        if acked is None and due > until:
            continue
        known += 1
        on += acked is not None and datetime.fromisoformat(acked) <= due
    return {"applications": known, "on_time": on, "rate_percent": percent(on, known)}


def satisfaction_of(reg: Any, month: str, until: datetime) -> dict[str, Any]:
    """``desk.satisfaction.counted`` of ``month`` for the scores given by ``until``."""
    scores = [
        r["satisfaction"]
        for r in deadline_mail.satisfaction_scores(reg)
        if (r["satisfaction_at"] or "").startswith(month) and _upto(r["satisfaction_at"], until)
    ]
    mean = round(sum(scores) / len(scores), 2) if scores else None
    return {"month": month, "answers": len(scores), "scores": {str(n): scores.count(n) for n in range(1, 6)}, "mean": mean}


def _service_names(dep: Deployment) -> dict[str, dict[str, Any]]:
    return {
        s.id: {"code": s.code, "name_th": s.name_th, "name_en": s.name_en, "time_limit_days": s.time_limit_days}
        for s in dep.services
    }


def _gone(sid: str) -> dict[str, Any]:
    """A service no longer in ``rules/services/`` (or none named): its id, no time limit."""
    if sid == "unassigned":
        return {"code": "-", "name_th": "ไม่ระบุบริการ", "name_en": "No service named", "time_limit_days": None}
    return {"code": sid, "name_th": sid, "name_en": sid, "time_limit_days": None}


def monthly(dep: Deployment, month: str, now: datetime) -> dict[str, Any]:
    """The figures of ``month`` (a common-era ``YYYY-MM``: ``desk.months.parse_month``
    converts what a user typed, once) as they stood at ``now``, as a plain,
    JSON-ready dict (see the module for what each counts); ``UserError`` for
    a month that has not begun."""
    month = ce_month(month)
    begun(month, now, dep.calendar.tz)
    st = Statistics(dep, set(months_back(month, TREND_MONTHS)), now)
    partial = dep.calendar.local(now).date() <= days_of(month)[1]
    services = _service_names(dep)
    received = st.received(month)
    working = st.working_days(month)
    per_day: dict[str, Counter[str]] = {d: Counter() for d in working}
    for r in received:
        per_day.setdefault(r["day"], Counter())[r["service"]] += 1
    by_service = Counter(r["service"] for r in received)
    for sid in by_service:
        services.setdefault(sid, _gone(sid))

    acks = acks_of(dep, month, now)
    done = [d for d in st.finished() if d["month"] == month]
    finished = _finished_figures(done)
    finished["by_service"] = {
        sid: _finished_figures([d for d in done if d["service"] == sid]) for sid in sorted({d["service"] for d in done})
    }
    for sid in finished["by_service"]:
        services.setdefault(sid, _gone(sid))

    notices = st.of(month, "delay_notice")
    confirmed = st.of(month, "confirm_payment")
    amounts = [int(_detail(e).get("amount") or e["fee_amount"] or 0) for e in confirmed]
    verified = [e for e in st.of(month, "verify_answered") if _detail(e).get("status") not in (None, "unknown")]
    satisfaction = satisfaction_of(dep.registry, month, now)

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
        "partial": partial,
        "up_to": to_iso(now) if partial else None,
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
        acks = acks_of(dep, m, st.until)
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
