"""The monthly publication (R28, issue 14): on the first working day of each
month (the government calendar, ``base.calendar``), after that morning's
acknowledgement deadline (``[hours] ack_by``, so mail of the month's last
evening is answered and counted), the daemon builds the previous month's
report and the whole public site (``ops.publish.build_site``) into
``[publish] path``.

It runs once per month: what it did is kept in the registry (the ``kv`` row
``monthly_publish`` and a ``site_published`` audit event), so a restarted
daemon neither repeats it nor forgets it; a daemon that was down on that day
does it on the next day it runs. A failed build is recorded with its reason
and tried again after ``RETRY_MINUTES``. A build by hand (``mailintake
publish``) is kept too (the ``kv`` row ``manual_publish`` and a ``site_built``
audit event: who, when, where), apart from the daemon's, so it neither
satisfies nor delays the monthly run. ``mailintake status`` says which build
was the last, of either kind, when and where (``status``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.deployment import Deployment, open_registry

log = logging.getLogger(__name__)

KEY = "monthly_publish"
MANUAL_KEY = "manual_publish"
RETRY_MINUTES = 60


def first_working_day(cal: WorkCalendar, year: int, month: int) -> date:
    """The first working day of ``month`` in the office's calendar."""
    day = date(year, month, 1)
    return day if cal.is_working_day(day) else cal.next_working_day(day)


def previous_month(day: date) -> str:
    """``YYYY-MM`` of the month before ``day``'s."""
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


def last_publish(reg: Registry, key: str = KEY) -> dict[str, Any] | None:
    """What the last monthly run recorded: month, at, out, pages, ok, error
    (with ``MANUAL_KEY``: the last build by hand: at, out, pages, by)."""
    raw = reg.get_kv(key)
    if not raw:
        return None
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def monthly_publish_due(cfg: Config, reg: Registry, now: datetime, cal: WorkCalendar | None = None) -> str | None:
    """The month (``YYYY-MM``) whose report and site are due at ``now``, or
    None: publishing enabled, on or after this month's first working day
    (on that day from ``ack_by``), and the previous month not yet published
    (nor failed within the last ``RETRY_MINUTES``)."""
    if not cfg.publish.enabled:
        return None
    cal = cal or WorkCalendar(cfg.hours)
    local = cal.local(now)
    first = first_working_day(cal, local.year, local.month)
    if local.date() < first or (local.date() == first and local.time() < cfg.hours.ack_by):
        return None
    month = previous_month(local.date())
    last = last_publish(reg)
    if last is not None and last.get("month", "") >= month:
        if last.get("ok"):
            return None
        tried = datetime.fromisoformat(str(last.get("at")))
        if now - tried < timedelta(minutes=RETRY_MINUTES):
            return None
    return month


def record(reg: Registry, now: datetime, entry: dict[str, Any]) -> None:
    """Keep what a run did (the ``kv`` row) and, when it published, the audit event."""
    with reg.transaction():
        reg.set_kv(KEY, json.dumps(entry, ensure_ascii=False, sort_keys=True))
        if entry["ok"]:
            reg.add_event(
                at=now,
                actor="system",
                action="site_published",
                detail={k: entry[k] for k in ("month", "out", "pages")},
            )


def record_manual(cfg: Config, now: datetime, by: str, out: str, pages: int, month: str | None = None) -> dict[str, Any]:
    """Keep a build by hand (``mailintake publish``): who, when, where and
    the latest month of statistics it published (``month``, None when none),
    as the ``kv`` row ``manual_publish`` and a ``site_built`` audit event."""
    entry: dict[str, Any] = {"at": to_iso(now), "by": by, "out": out, "pages": pages, "month": month, "ok": True}
    reg = open_registry(cfg)
    try:
        with reg.transaction():
            reg.set_kv(MANUAL_KEY, json.dumps(entry, ensure_ascii=False, sort_keys=True))
            reg.add_event(at=now, actor=by, action="site_built", detail={"out": out, "pages": pages, "month": month})
    finally:
        reg.close()
    return entry


def run_monthly_publish(cfg: Config, now: datetime) -> dict[str, Any] | None:
    """For the daemon: when ``monthly_publish_due``, build the site (the
    previous month's report included) into ``[publish] path`` and record
    it; returns what was recorded, or None when nothing was due. Never
    raises: a failure is logged and recorded."""
    from mailintake.ops.publish import build_site

    if not cfg.publish.enabled:
        return None
    reg = open_registry(cfg)
    try:
        month = monthly_publish_due(cfg, reg, now)
    finally:
        reg.close()
    if month is None:
        return None
    out = cfg.publish.path
    entry: dict[str, Any] = {"month": month, "at": to_iso(now), "out": str(out), "pages": 0, "ok": False, "error": None}
    dep = Deployment.build(cfg)
    try:
        try:
            site = build_site(dep, out, now, include=month)
            entry.update(ok=True, pages=len(site.pages), months=site.months)
            log.info("monthly publication of %s: %s", month, site.describe())
        except Exception as exc:  # recorded and retried; the daemon goes on
            log.exception("monthly publication of %s failed", month)
            entry["error"] = f"{type(exc).__name__}: {exc}"
        record(dep.registry, now, entry)
    finally:
        dep.close()
    return entry


def run_in(cfg: Config, now: datetime) -> dict[str, Any] | None:
    """``run_monthly_publish`` for the daemon's loop: an error opening the
    deployment is logged, never raised."""
    try:
        return run_monthly_publish(cfg, now)
    except Exception:
        log.exception("monthly publication: cannot open the deployment")
        return None


def _when(entry: dict[str, Any]) -> datetime:
    try:
        at = datetime.fromisoformat(str(entry.get("at")))
    except ValueError:
        at = datetime.min
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def status(cfg: Config, reg: Registry) -> dict[str, Any]:
    """For ``mailintake status``: whether the daemon publishes, its last run
    (``last``), the last build by hand (``manual``), and the later of the two
    (``latest``, with ``kind``: ``daemon`` or ``manual``)."""
    last, manual = last_publish(reg), last_publish(reg, MANUAL_KEY)
    builds = [{**b, "kind": kind} for kind, b in (("daemon", last), ("manual", manual)) if b is not None]
    latest = max(builds, key=_when) if builds else None
    return {"enabled": cfg.publish.enabled, "path": str(cfg.publish.path), "last": last, "manual": manual, "latest": latest}


def describe(data: dict[str, Any]) -> str:
    """The status line: the last build of either kind, which, when, where."""
    latest = data.get("latest", data.get("last"))
    if latest is None:
        what = "not built yet"
    elif latest.get("kind") == "manual":
        month = f"statistics to {latest['month']}" if latest.get("month") else "no month of statistics"
        what = f"built by hand by {latest['by']} {latest['at'][:16].replace('T', ' ')} into {latest['out']} ({latest['pages']} pages, {month})"
    elif latest.get("ok"):
        what = f"{latest['month']} published {latest['at'][:16].replace('T', ' ')} into {latest['out']} ({latest['pages']} pages) by the daemon"
    else:
        what = f"{latest['month']} FAILED at {latest['at'][:16].replace('T', ' ')}: {latest.get('error')}"
    return what if data.get("enabled") else f"off ([publish] enabled = false); {what}"
