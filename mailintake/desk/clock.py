"""The service clock (R25, Licensing Facilitation Act s.10), read from the
events already written: it starts at deemed receipt, counts the service's
time limit (``time_limit_days``, working days of ``base.calendar``), pauses
while information is requested (status ``info_requested``) and stops when the
application is decided (approved or rejected; an inquiry when answered).

How days are counted: as the due date always was, the day the clock starts is
day 0 and the due date is the close of the ``time_limit_days``-th working day
after it. A pause from day P to day R (the day the requested documents
arrive) holds the working days after P up to and including R: the due date
moves by that many working days. While paused there is no due date; the
working days left stay as they were when it paused.

``refresh`` writes the result (``applications.due_at`` and ``.clock``) after
every status move and service change, so listings read it instead of replaying
the events; ``working_days_left`` is computed at the time asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mailintake.base.calendar import WorkCalendar
from mailintake.base.data import applications
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import Application, Event
from mailintake.base.rules import Service

RUNNING = ("received", "under_review")
PAUSED = ("info_requested",)
RUNNING_STATE, PAUSED_STATE, STOPPED_STATE = "running", "paused", "stopped"


@dataclass(frozen=True)
class Pause:
    since: datetime
    until: datetime | None
    working_days: int


@dataclass(frozen=True)
class Clock:
    state: str  # running | paused | stopped
    limit_days: int
    started_at: datetime
    pauses: tuple[Pause, ...]
    due_at: datetime | None
    stopped_at: datetime | None
    used_days: int | None  # working days the clock had counted when it paused or stopped

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "limit_days": self.limit_days,
            "started_at": to_iso(self.started_at),
            "paused_days": sum(p.working_days for p in self.pauses if p.until is not None),
            "pauses": [{"since": to_iso(p.since), "until": to_iso(p.until), "working_days": p.working_days} for p in self.pauses],
            "stopped_at": to_iso(self.stopped_at),
            "used_days": self.used_days,
        }


def working_days_between(cal: WorkCalendar, first: date, last: date) -> int:
    """Working days after ``first`` up to and including ``last`` (0 when ``last`` is not after ``first``)."""
    n, d = 0, first
    while d < last:
        d = cal.next_working_day(d)
        if d <= last:
            n += 1
    return n


def limit_of(service: Service | None, default_days: int) -> int:
    return service.time_limit_days if service else default_days


def read(cal: WorkCalendar, close: object, start: datetime, limit: int, events: Sequence[Event]) -> Clock:
    """The clock of an application deemed received at ``start`` with ``limit``
    working days, after ``events`` (its audit events, in order)."""
    state, since = RUNNING_STATE, None
    pauses: list[Pause] = []
    stopped: datetime | None = None
    local = cal.local

    def held(a: datetime, b: datetime) -> int:
        return working_days_between(cal, local(a).date(), local(b).date())

    for e in events:
        new = e.status_after
        if new is None or new == e.status_before or state == STOPPED_STATE:
            continue
        at = datetime.fromisoformat(e.at)
        if new in PAUSED:
            if state == RUNNING_STATE:
                state, since = PAUSED_STATE, at
        elif new in RUNNING:
            if state == PAUSED_STATE and since is not None:
                pauses.append(Pause(since, at, held(since, at)))
                state, since = RUNNING_STATE, None
        else:
            if state == PAUSED_STATE and since is not None:
                pauses.append(Pause(since, at, held(since, at)))
            state, stopped, since = STOPPED_STATE, at, None
    held_days = sum(p.working_days for p in pauses)
    start_day = local(start).date()
    used: int | None = None
    if state == PAUSED_STATE and since is not None:
        pauses.append(Pause(since, None, 0))
        used = held(start, since) - held_days
        due = None
    else:
        due = cal.at(cal.add_working_days(start_day, limit + held_days), close)
        if stopped is not None:
            used = held(start, stopped) - held_days
    return Clock(state, limit, local(start), tuple(pauses), due, stopped, used)


def of(cal: WorkCalendar, close: object, app: Application, limit: int, events: Sequence[Event]) -> Clock:
    return read(cal, close, datetime.fromisoformat(app.deemed_received_at), limit, events)


def refresh(reg: Registry, cal: WorkCalendar, close: object, app: Application, limit: int) -> Clock:
    """Read the clock of ``app`` from its events and store it (inside the caller's transaction)."""
    clock = of(cal, close, app, limit, applications.events_of(reg, app.transaction_id))
    applications.update(reg, app.transaction_id, due_at=to_iso(clock.due_at), clock=clock.as_json())
    return clock


def working_days_left(cal: WorkCalendar, app: Application, now: datetime) -> int | None:
    """Working days until the due date at ``now``: negative when overdue (the
    working days past it, at least 1 once the due time has passed), the days
    left when it paused while paused, None once stopped (or with no clock)."""
    state = (app.clock or {}).get("state", RUNNING_STATE if app.due_at else None)
    if state == PAUSED_STATE:
        used = (app.clock or {}).get("used_days") or 0
        return int((app.clock or {}).get("limit_days", 0)) - int(used)
    if state != RUNNING_STATE or app.due_at is None:
        return None
    due = datetime.fromisoformat(app.due_at)
    today, due_day = cal.local(now).date(), cal.local(due).date()
    if now <= due:
        return working_days_between(cal, today, due_day)
    return -max(1, working_days_between(cal, due_day, today))
