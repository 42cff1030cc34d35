"""The day side of appointments at the counter (issue 13, R10;
``desk.appointments`` books them): the counter's queue of a day (or one
application's bookings) for ``appointments list``, the booking and last offer
``triage show`` gives, and the deadline jobs: the reminder the working day
before, once (``appointment_reminded``), and a booking whose day has gone by
with no visit marked ``missed``, once (``appointment_missed``). A booking still
``booked`` on a day gone by shows as missed before the job has run.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from mailintake.base.calendar import WorkCalendar
from mailintake.base.data import applications
from mailintake.base.data import appointments as rows
from mailintake.base.data.appointments import Appointment
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.deployment import Deployment
from mailintake.desk import appointment_mail as mail
from mailintake.desk.appointments import cancel, offer, today
from mailintake.desk.office import Office


def day_queue(dep: Deployment, now: datetime, day: str | None = None, tid: str | None = None) -> list[dict[str, Any]]:
    """The day's queue for the counter (or, with ``tid``, every booking of one
    application): queue number, time, application, kind, status; a booking
    whose day has gone by with no visit shows as ``missed``."""
    office = Office(dep)
    day_of = today(office, now)
    if tid:
        office.app(tid)  # an unknown ID is one line, as everywhere: "no application ..."
    found = rows.of_application(office.reg, tid) if tid else rows.on_day(office.reg, day or day_of, dep.cfg.appointments.office)
    out = []
    for a in found:
        app = applications.get(office.reg, a.transaction_id)
        out.append(
            {
                "queue_number": a.queue_number,
                "time": a.slot,
                "ends": a.ends_at[11:16],
                "transaction_id": a.transaction_id,
                "kind": a.kind,
                "status": status_of(a, day_of),
                "applicant_name": app.applicant_name if app else None,
                "appointment_id": a.id,
                "day": a.day,
                "office": a.office,
            }
        )
    return sorted(out, key=lambda r: (r["day"], r["time"], r["queue_number"]))


def status_of(appt: Appointment, on: str) -> str:
    """The booking's status on day ``on``: one still ``booked`` on a day gone by is missed."""
    return "missed" if appt.status == "booked" and appt.day < on else appt.status


def shown(reg: Registry, tid: str, now: datetime | None, cal: WorkCalendar | None) -> dict[str, Any]:
    """For ``triage show``: the application's latest booking (kind, day, time,
    queue, status: missed once its day has gone by, when ``now`` is given) and
    its last offer (when, why, the slots listed, whether a booking came of it)."""
    on = cal.local(now).date().isoformat() if now is not None and cal is not None else ""
    booked = rows.of_application(reg, tid)
    last = rows.last_offer(reg, tid)
    appt = booked[-1] if booked else None
    return {
        "appointment": None
        if appt is None
        else {
            "id": appt.id,
            "kind": appt.kind,
            "day": appt.day,
            "time": appt.slot,
            "queue_number": appt.queue_number,
            "status": status_of(appt, on),
            "office": appt.office,
        },
        "appointment_offer": None
        if last is None
        else {
            "id": last.id,
            "kind": last.kind,
            "offered_at": last.offered_at,
            "why": last.why,
            "slots": [f"{d} {t}" for d, t in last.slots],
            "used": rows.offer_used(reg, last.id),
        },
    }


def send_reminders(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """The deadline job: the working day before a booking (from opening time),
    its applicant is reminded, once (``reminded_at`` is set with the mail);
    not a booking made that same day, whose confirmation has just gone."""
    office = Office(dep)
    cal = office.cal
    local = cal.local(now)
    if not cal.is_working_day(local.date()) or local.time() < office.cfg.hours.open:
        return []
    day = cal.next_working_day(local.date()).isoformat()
    done: list[dict[str, Any]] = []
    for appt in rows.booked_on_day(office.reg, day):
        if cal.local(datetime.fromisoformat(appt.booked_at)).date() >= local.date():
            continue  # booked today: the confirmation has just said it all
        with office.reg.transaction():
            if not rows.mark_reminded(office.reg, appt.id, to_iso(now) or ""):
                continue
            app = office.app(appt.transaction_id)
            mid = mail.send(office, app, "reminder", mail.context(office, appt), now)
            _event(office, appt, "appointment_reminded", now)
        done.append({"kind": "appointment_reminder", "transaction_id": appt.transaction_id, "day": day, "sent": bool(mid)})
    return done


# Thai then English: the reason goes into both halves of the cancellation.
CLOSED = "สำนักงานปิดทำการในวันดังกล่าว / The office is closed that day"


def release_closed_days(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """The deadline job: a booking still to come on a day the calendar has since
    closed (a holiday added after it was booked) is cancelled, the applicant
    told (METHOD:CANCEL) and offered the next free slots of the same kind; once
    (the booking is no longer ``booked``)."""
    office = Office(dep)
    done: list[dict[str, Any]] = []
    for appt in rows.booked_from(office.reg, today(office, now)):
        if office.cal.is_working_day(date.fromisoformat(appt.day)):
            continue
        with office.reg.transaction():
            app = office.app(appt.transaction_id)
            cancel(office, app, now, actor="system", reason=CLOSED)
            kind = office.cfg.appointments.kind(appt.kind)
            if kind is not None:
                offer(office, app, kind, now, actor="system", why="closed")
        done.append({"kind": "appointment_closed_day", "transaction_id": appt.transaction_id, "day": appt.day, "time": appt.slot})
    return done


def mark_missed(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """The deadline job: a booking whose day has gone by (the office's local
    date) with no visit and no cancellation is marked ``missed``, once, with an
    ``appointment_missed`` event; it no longer holds the applicant."""
    office = Office(dep)
    done: list[dict[str, Any]] = []
    for appt in rows.gone_by(office.reg, today(office, now)):
        if not office.cal.is_working_day(date.fromisoformat(appt.day)):
            # Closed after all (a holiday added late, the daemon down meanwhile): not missed.
            with office.reg.transaction():
                if rows.mark_cancelled(office.reg, appt.id, to_iso(now) or "", "system", CLOSED, None):
                    _event(office, appt, "appointment_cancelled", now, reason=CLOSED)
            continue
        with office.reg.transaction():
            if not rows.mark_missed(office.reg, appt.id):
                continue
            _event(office, appt, "appointment_missed", now)
        done.append({"kind": "appointment_missed", "transaction_id": appt.transaction_id, "day": appt.day, "time": appt.slot})
    return done


def _event(office: Office, appt: Appointment, action: str, now: datetime, **more: str) -> None:
    """The system's audit event on a booking: its id, queue number, day and time."""
    detail = {"appointment": appt.id, "queue": appt.queue_number, "day": appt.day, "time": appt.slot, **more}
    office.reg.add_event(at=now, actor="system", action=action, transaction_id=appt.transaction_id, detail=detail)
