"""Sweep health: did the last sweep work, and if not, why.

One place for what ``mailintake status`` shows, what a sweep records when it
ends, what the daemon records for a sweep that could not record itself (killed,
timed out, registry unavailable), the streak of failed sweeps that alerts the
admin (kept in the registry's ``kv`` table, so it survives restarts), and the
full sweep a daemon started late has missed (R21).

Results: ``ok``; ``failed`` with a reason; ``running``; ``did not finish`` (a
sweep row that was started, never finished, and holds no lock now).
"""

from __future__ import annotations

import errno
import fcntl
import logging
from collections.abc import Mapping
from datetime import datetime, time
from pathlib import Path
from typing import Any

from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data import sweeps
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.sweeps import SweepRun

log = logging.getLogger(__name__)

OK, FAILED, RUNNING, UNFINISHED = "ok", "failed", "running", "did not finish"
STREAK = "sweep_health"  # kv: {"failed_in_row", "alerted", "first_failed_at", "last_reason", "alerts"}


def sweep_running(storage: Path) -> bool:
    """True while a sweep holds the lock. A shared, non-blocking probe: it never
    waits and is dropped at once."""
    path = storage / "sweep.lock"
    try:
        fh = open(path, "rb")
    except OSError:
        return False
    try:
        fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES)
    finally:
        fh.close()
    return False


def quota_warning(quota: dict[str, Any] | None) -> str | None:
    """R24: warn at 80 % and 95 % of the mailbox quota."""
    percent = (quota or {}).get("percent", 0)
    if percent >= 95:
        return f"mailbox quota {percent}% used: nearly full, new mail will bounce; archive or delete old mail now"
    if percent >= 80:
        return f"mailbox quota {percent}% used: plan to archive old mail"
    return None


# --- what a run was --------------------------------------------------------------------------
def run_record(
    *,
    sweep_id: int | None,
    full: bool | None,
    result: str,
    reason: str | None,
    clock: datetime | str | None,
    started_at: str | None,
    finished_at: str | None,
    counts: dict[str, int] | None = None,
    folders: dict[str, int] | None = None,
    errors: int = 0,
) -> SweepRun:
    return SweepRun(
        id=sweep_id,
        full=full,
        result=result,
        reason=reason,
        clock=to_iso(clock) if isinstance(clock, datetime) else clock,
        started_at=started_at,
        finished_at=finished_at,
        counts=counts or {},
        folders=folders or {},
        errors=errors,
    )


def last_run(reg: Registry, storage: Path) -> SweepRun | None:
    """The latest sweep of any kind (full or INBOX only) and how it ended."""
    recorded = sweeps.get_run(reg, "last_run")
    row = sweeps.latest(reg)
    if row is None:
        return recorded
    if recorded is not None and (recorded.id or 0) >= row.id:
        return recorded
    if row.finished_at is None:
        running = sweep_running(storage)
        return run_record(
            sweep_id=row.id,
            full=None,
            result=RUNNING if running else UNFINISHED,
            reason=None if running else "stopped before it finished (killed, timed out or out of memory)",
            clock=row.clock,
            started_at=row.started_at,
            finished_at=None,
        )
    # Finished before results were recorded (a registry from an older version).
    return run_record(
        sweep_id=row.id,
        full=None,
        result=OK,
        reason=None,
        clock=row.clock,
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=dict(row.counts),
        folders=dict(row.folders),
        errors=len(row.errors),
    )


def status(reg: Registry, storage: Path) -> dict[str, Any]:
    """The sweep part of ``mailintake status`` (as JSON: runs are dicts)."""
    streak = sweeps.get_json(reg, STREAK) or {}
    failed = int(streak.get("failed_in_row", 0))
    latest = last_run(reg, storage)
    if latest is not None and latest.result == UNFINISHED:
        failed += 1  # not in the streak yet: nobody saw it end
    warnings = []
    if latest is not None and latest.result in (FAILED, UNFINISHED):
        warnings.append(f"the last sweep {latest.result}: {latest.reason}" + (f" ({failed} in a row)" if failed > 1 else ""))
    full, poll = sweeps.get_run(reg, "last_sweep"), sweeps.get_run(reg, "last_poll")
    return {
        "last_sweep": latest and latest.as_dict(),
        "last_full_sweep": full and full.as_dict(),
        "last_poll": poll and poll.as_dict(),
        "failed_in_row": failed,
        "sweep_warnings": warnings,
    }


def describe(run: SweepRun | Mapping[str, Any] | None) -> str:
    """One line for the status table."""
    if run is None:
        return "never"
    if not isinstance(run, SweepRun):
        run = SweepRun.from_dict(dict(run))
    kind = {True: "full", False: "INBOX only", None: "sweep"}[run.full]
    when = run.clock or run.started_at or "?"
    if run.result == OK:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(run.counts.items())) or "nothing new"
        errors = f"; {run.errors} error(s)" if run.errors else ""
        return f"ok ({kind}, {when}): {counts}{errors}"
    if run.result == RUNNING:
        return f"running ({kind}, started {when})"
    return f"{run.result.upper()} ({kind}, {when}): {run.reason}"


# --- recording, the streak and the admin's alert ---------------------------------------------
def record(cfg: Config, reg: Registry, run: SweepRun, now: datetime) -> None:
    """Store how a run ended and keep the streak (call inside a transaction)."""
    sweeps.set_run(reg, "last_run", run)
    if run.full is not None:
        sweeps.set_run(reg, "last_sweep" if run.full else "last_poll", run)
    state = sweeps.get_json(reg, STREAK) or {"failed_in_row": 0, "alerted": False, "alerts": 0}
    if run.result == OK:
        if state.get("alerted"):
            _alert(cfg, reg, now, state, recovered=True)
        state.update(failed_in_row=0, alerted=False, first_failed_at=None, last_reason=None)
    else:
        state["failed_in_row"] = state.get("failed_in_row", 0) + 1
        state["first_failed_at"] = state.get("first_failed_at") or run.clock
        state["last_reason"] = run.reason
        if state["failed_in_row"] >= cfg.daemon.alert_after_failed_sweeps and not state.get("alerted"):
            _alert(cfg, reg, now, state, recovered=False)
            state["alerted"] = True
    sweeps.set_json(reg, STREAK, state)


def record_failure(cfg: Config, reg: Registry, reason: str, now: datetime, *, full: bool) -> None:
    """A run that could not record its own end (killed, timed out, the registry
    unavailable): the daemon records it for it."""
    run = run_record(
        sweep_id=sweeps.latest_id(reg),
        full=full,
        result=FAILED,
        reason=reason,
        clock=now,
        started_at=None,
        finished_at=to_iso(datetime.now().astimezone()),
    )
    with reg.transaction():
        record(cfg, reg, run, now)


def alerts_queued(reg: Registry) -> int:
    """How many alerts have been queued so far (the daemon sends at once when it grows)."""
    return int((sweeps.get_json(reg, STREAK) or {}).get("alerts", 0))


def _alert(cfg: Config, reg: Registry, now: datetime, state: dict[str, Any], *, recovered: bool) -> None:
    what = (
        f"sweeps work again after {state.get('failed_in_row', 0)} failed"
        if recovered
        else f"{state['failed_in_row']} sweeps failed in a row since {state.get('first_failed_at')}: {state.get('last_reason')}"
    )
    (log.warning if recovered else log.error)("%s", what)
    if not cfg.daemon.admin_email:
        return
    from mailintake.base.outgoing import compose, queue
    from mailintake.base.wording import Renderer

    context = {
        "recovered": recovered,
        "failed": state.get("failed_in_row", 0),
        "since": state.get("first_failed_at"),
        "reason": state.get("last_reason"),
        "mailbox": cfg.agency.mailbox_address,
        "at": to_iso(now),
    }
    composed = compose(
        cfg, Renderer(cfg), template="admin_alert", recipient=cfg.daemon.admin_email, context=context, now=now, tid=None
    )
    queue(cfg, reg, composed, kind="admin_alert", tid=None, now=now)
    state["alerts"] = state.get("alerts", 0) + 1


# --- the full sweep a late daemon missed ------------------------------------------------------
def missed_full_sweep(cfg: Config, reg: Registry, now: datetime) -> time | None:
    """The sweep time of today (a working day) that has passed with no
    successful full sweep since; None when nothing was missed."""
    if not WorkCalendar(cfg.hours).is_working_day(now.date()):
        return None
    passed = [t for t in cfg.daemon.sweep_times if t <= now.timetz().replace(tzinfo=None)]
    if not passed:
        return None
    slot = max(passed)
    due = datetime.combine(now.date(), slot, tzinfo=now.tzinfo)
    last = sweeps.get_run(reg, "last_sweep")
    if last and last.clock and last.result == OK and datetime.fromisoformat(last.clock) >= due:
        return None
    return slot
