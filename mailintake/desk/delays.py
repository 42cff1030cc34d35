"""s.10 delay notices (Licensing Facilitation Act B.E. 2558 s.10, R25), the
clerk's reminder before each, the delay register OPDC asks for, and closing
finished applications.

- Past its due date (``desk.clock``) and not finished, an application's
  applicant gets a bilingual delay notice with the reasons every 7 days:
  notice *n* is due on the *7n*-th calendar day after the due date (the same
  weekday *n* weeks later: the first on day 7 past due), from the opening time
  of that day, and goes at the first run of the job from then. A copy goes to
  ``[lifecycle] opdc_email`` each time, as a message of its own (see README).
  A run that finds several numbers due (the job did not run for weeks) sends
  one notice, numbered by the latest one due, so the schedule stays on its days.
- The working day before a notice is due, the assigned clerk (every clerk with
  an address when none is assigned; else the admin) is emailed to record the
  reason (``triage delay-reason``); a notice with no fresh reason goes with the
  last one, or a neutral wording.
- Each notice and reminder is one row of ``delay_notices`` keyed by
  application, kind and number, written with its mail: running the job twice at
  the same ``now`` sends nothing twice.
- ``close_finished``: a rejected application whose rejection SMTP accepted, and
  one whose permit was delivered (from the next working day: a permit bounce
  comes back first) is closed and the applicant told the result (R25: within
  7 days of finishing; R26).

The job runner calls ``send_due_delay_notices(dep, now)`` and ``close_finished(dep, now)``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from mailintake.base import thaitext
from mailintake.base.data import applications
from mailintake.base.data import delays as rows
from mailintake.base.data import permits as register
from mailintake.base.data.records import Application
from mailintake.base.deployment import Deployment
from mailintake.base.errors import StepRefused
from mailintake.base.headers import valid_address
from mailintake.base.outgoing import compose, queue
from mailintake.desk import clock
from mailintake.desk.office import Office

EVERY_DAYS = 7
REASON_ACTION = "delay_reason"


# --- the schedule ----------------------------------------------------------------------------
def notice_day(office: Office, due_at: datetime, number: int) -> date:
    """The day notice ``number`` is due: ``7 * number`` days after the due date."""
    return office.cal.local(due_at).date() + timedelta(days=EVERY_DAYS * number)


def notice_moment(office: Office, due_at: datetime, number: int) -> datetime:
    return office.cal.at(notice_day(office, due_at, number), office.cfg.hours.open)


def reminder_day(office: Office, due_at: datetime, number: int) -> date:
    """The working day before notice ``number`` is due."""
    d = notice_day(office, due_at, number) - timedelta(days=1)
    for _ in range(400):
        if office.cal.is_working_day(d):
            return d
        d -= timedelta(days=1)
    raise ValueError("no working day within 400 days: check [hours] in config")


def numbers_due(office: Office, due_at: datetime, now: datetime) -> int:
    """How many notices are due at ``now`` (0 before the first)."""
    if now <= due_at:
        return 0
    n = (office.cal.local(now).date() - office.cal.local(due_at).date()).days // EVERY_DAYS
    while n > 0 and notice_moment(office, due_at, n) > now:
        n -= 1
    return n


def late(app: Application) -> bool:
    """An application whose service clock runs (not paused, not finished)."""
    running = (app.clock or {}).get("state", clock.RUNNING_STATE) == clock.RUNNING_STATE
    return app.kind == "application" and app.status in clock.RUNNING and app.due_at is not None and running


# --- the reason -------------------------------------------------------------------------------
def record_reason(office: Office, tid: str, text: str, now: datetime) -> Application:
    """The clerk records why the application is late (audited); the next notice carries it."""
    reason = " ".join(text.split())[:1000]
    if not reason:
        raise StepRefused("the reason is empty: say why the application is late")
    _user, app = office.act(tid, now, ("clerk", "approver"), REASON_ACTION, {}, {"reason": reason})
    return app


def last_reason(office: Office, tid: str) -> tuple[str, str | None]:
    """The last reason recorded and when (``""``, None when none was)."""
    event = applications.last_event(office.reg, tid, REASON_ACTION)
    if event is None or not event.detail:
        return "", None
    try:
        detail = json.loads(event.detail)
    except ValueError:
        return event.detail, event.at
    return (str(detail.get("reason", "")) if isinstance(detail, dict) else str(detail)), event.at


# --- the job ----------------------------------------------------------------------------------
def send_due_delay_notices(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """Queue every delay notice (with its OPDC copy) and every clerk reminder
    due at ``now``; returns one dict per mail decided (``kind``: notice or
    reminder). Idempotent: what is recorded is never sent again."""
    office = Office(dep)
    done: list[dict[str, Any]] = []
    for found in applications.every(office.reg):
        # One transaction an application: the mail and its row commit together.
        with office.reg.transaction():
            done.extend(_due_for(office, office.app(found.transaction_id), now))
    return done


def _due_for(office: Office, app: Application, now: datetime) -> list[dict[str, Any]]:
    """What is due at ``now`` for one application: its notice, or the reminder before the next."""
    if app.status in clock.RUNNING + clock.PAUSED:
        # Read the clock again: the calendar may have changed (a day the Cabinet declared).
        app = office.refresh_clock(app)
    if not late(app):
        return []
    assert app.due_at is not None
    due, done = datetime.fromisoformat(app.due_at), []
    k = numbers_due(office, due, now)
    last = rows.last_number(office.reg, app.transaction_id, rows.NOTICE)
    if k > last:
        done.append(_notice(office, app, due, k, now))
    nxt = max(k, last) + 1
    remind = office.cal.at(reminder_day(office, due, nxt), office.cfg.hours.open)
    if now > due and remind <= now < notice_moment(office, due, nxt):
        if not rows.has(office.reg, app.transaction_id, rows.REMINDER, nxt):
            done.append(_reminder(office, app, due, nxt, now))
    return done


def _dates(office: Office, when: datetime | date) -> dict[str, str]:
    moment = when if isinstance(when, datetime) else office.cal.at(when, office.cfg.hours.open)
    local = office.cal.local(moment)
    timed = isinstance(when, datetime)
    return {"th": thaitext.thai_date(local, with_time=timed), "en": thaitext.english_date(local, with_time=timed)}


def _delay_context(office: Office, app: Application, due: datetime, number: int, now: datetime) -> dict[str, Any]:
    reason, reason_at = last_reason(office, app.transaction_id)
    limit = int((app.clock or {}).get("limit_days") or clock.limit_of(office.service_of(app), office.cfg.default_time_limit_days))
    due_d, next_d = _dates(office, due), _dates(office, notice_day(office, due, number + 1))
    received = _dates(office, datetime.fromisoformat(app.deemed_received_at))
    return {
        "reason": reason,
        "delay": {
            "number": number,
            "limit_days": limit,
            "due_th": due_d["th"],
            "due_en": due_d["en"],
            "next_th": next_d["th"],
            "next_en": next_d["en"],
            "received_th": received["th"],
            "received_en": received["en"],
            "days_late": (office.cal.local(now).date() - office.cal.local(due).date()).days,
            "reason_at": reason_at,
            "opdc": office.cfg.lifecycle.opdc_email,
        },
    }


def _notice(office: Office, app: Application, due: datetime, number: int, now: datetime) -> dict[str, Any]:
    tid = app.transaction_id
    extra = _delay_context(office, app, due, number, now)
    mid = office.notify(app, "delay", now, extra)
    opdc = valid_address(office.cfg.lifecycle.opdc_email) if office.cfg.lifecycle.opdc_email else None
    copy_id = None
    if opdc is not None:
        ctx: dict[str, Any] = {
            "tid": tid,
            "app": app,
            "service": office.service_of(app),
            "docs": [],
            "fee": None,
            "answer": "",
            "problems": [],
            **extra,
        }
        ctx["copy_of"] = office.renderer.notice("delay", ctx)
        ctx["sent_to"] = app.reply_address
        ctx["notice"] = office.renderer.notice("delay_opdc", ctx)
        composed = compose(
            office.cfg, office.renderer, template="notice", recipient=opdc, context=ctx, now=now, tid=tid, auto=False
        )
        queue(office.cfg, office.reg, composed, kind="delay_opdc", tid=tid, now=now)
        copy_id = composed.message_id
    rows.add(
        office.reg,
        tid,
        rows.NOTICE,
        number,
        due_on=notice_day(office, due, number),
        now=now,
        reason=extra["reason"],
        recipient=app.reply_address if mid else None,
        message_id=mid,
        opdc_recipient=opdc,
        opdc_message_id=copy_id,
    )
    office.reg.add_event(
        at=now,
        actor="system",
        action="delay_notice",
        transaction_id=tid,
        detail={"number": number, "to": app.reply_address if mid else None, "opdc": opdc, "reason": extra["reason"][:300]},
    )
    return {"kind": rows.NOTICE, "transaction_id": tid, "number": number, "to": app.reply_address, "opdc": opdc}


def clerk_addresses(office: Office, app: Application) -> list[str]:
    """Who is reminded: the assigned user's address; with none, every clerk's; else the admin's."""
    users = office.cfg.users
    assigned = users.get(app.assigned_to or "")
    if assigned is not None and assigned.email:
        return [assigned.email]
    clerks = sorted({u.email for u in users.values() if "clerk" in u.roles and u.email})
    if clerks:
        return clerks
    return [office.cfg.daemon.admin_email] if office.cfg.daemon.admin_email else []


def _reminder(office: Office, app: Application, due: datetime, number: int, now: datetime) -> dict[str, Any]:
    tid = app.transaction_id
    to = [a for a in (valid_address(x) for x in clerk_addresses(office, app)) if a]
    ctx = {"tid": tid, "app": app, "service": office.service_of(app), **_delay_context(office, app, due, number, now)}
    ctx["notice_on"] = _dates(office, notice_day(office, due, number))
    ids = []
    for address in to:
        composed = compose(
            office.cfg, office.renderer, template="delay_reminder", recipient=address, context=ctx, now=now, tid=tid
        )
        queue(office.cfg, office.reg, composed, kind="delay_reminder", tid=tid, now=now)
        ids.append(composed.message_id)
    rows.add(
        office.reg,
        tid,
        rows.REMINDER,
        number,
        due_on=reminder_day(office, due, number),
        now=now,
        reason=ctx["reason"],
        recipient=", ".join(to) or None,
        message_id=" ".join(ids) or None,
    )
    office.reg.add_event(
        at=now,
        actor="system",
        action="delay_reminder" if to else "delay_reminder_not_sent",
        transaction_id=tid,
        detail={"number": number, "to": to} if to else {"number": number, "why": "no clerk or admin address in config"},
    )
    return {"kind": rows.REMINDER, "transaction_id": tid, "number": number, "to": to}


# --- finishing --------------------------------------------------------------------------------
def close_finished(dep: Deployment, now: datetime) -> list[str]:
    """Close each rejected application whose rejection SMTP accepted and each
    whose permit was delivered, telling the applicant the result (the
    ``closed`` notice); returns their IDs."""
    office = Office(dep)
    closed: list[str] = []
    for status in ("rejected", "delivered"):
        for found in applications.in_status(office.reg, status):
            with office.reg.transaction():
                app = office.app(found.transaction_id)
                if app.status == status and _close(office, app, now):
                    closed.append(app.transaction_id)
    return closed


def _close(office: Office, app: Application, now: datetime) -> bool:
    """Close ``app``: rejected, once SMTP accepted the rejection; delivered,
    from the working day after the permit was delivered, so that a bounce of
    the permit mail comes back first and hands delivery back to the clerk
    (``desk.reactions``)."""
    status = app.status
    permit = register.current_of(office.reg, app.transaction_id)
    if status == "rejected":
        sent = [o.sent_at for o in applications.outgoing_of(office.reg, app.transaction_id) if o.kind == status]
        told = min((t for t in sent if t), default=None)
    else:
        told = permit.delivered_at if permit else app.updated_at
    if told is None:
        return False
    told_at = datetime.fromisoformat(told)
    next_day = office.cal.at(office.cal.next_working_day(office.cal.local(told_at).date()), office.cfg.hours.open)
    if status == "delivered" and now < next_day:
        return False
    finished = (app.clock or {}).get("stopped_at") or app.updated_at
    extra = {
        "reason": app.decision_reason or "",
        "result": {
            "approved": status == "delivered",
            "permit": permit.number if permit and status == "delivered" else None,
            **{f"finished_{k}": v for k, v in _dates(office, datetime.fromisoformat(finished)).items()},
        },
    }
    # The result goes within s.10's 7 days; an application told long before (a
    # registry from before this version) is closed without a late letter.
    fresh = now - told_at <= timedelta(days=EVERY_DAYS)
    moved = office.move(app, "closed", "system", "closed", now, {"after": status, "result_notice": fresh})
    if fresh:
        office.notify(moved, "closed", now, extra)
    return True


def result_times(office: Office, app: Application) -> dict[str, Any]:
    """When the applicant must have the result (R25: 7 days after the decision;
    R26: the service's ``result_within_days`` working days, where it promises
    it) and when SMTP accepted the decision's notice."""
    stopped = (app.clock or {}).get("stopped_at")
    if stopped is None or app.kind != "application":
        return {"result_due_at": None, "result_told_at": None}
    at = datetime.fromisoformat(stopped)
    due = at + timedelta(days=7)
    service = office.service_of(app)
    if service is not None and service.result_within_days:
        day = office.cal.add_working_days(office.cal.local(at).date(), service.result_within_days)
        due = min(due, office.cal.at(day, office.cfg.hours.close))
    told = [o.sent_at for o in applications.outgoing_of(office.reg, app.transaction_id) if o.kind in ("approved", "rejected")]
    sent = sorted(t for t in told if t)
    return {"result_due_at": due.isoformat(), "result_told_at": sent[0] if sent else None}


# --- the register -----------------------------------------------------------------------------
def register_rows(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """The delay register of the OPDC form: every application past its due
    date at ``now`` or with a notice sent, with each notice's date."""
    office = Office(dep)
    sent = rows.by_application(office.reg)
    out = []
    for app in applications.by_deemed_receipt(office.reg):
        notices = sent.get(app.transaction_id, [])
        overdue = app.due_at is not None and datetime.fromisoformat(app.due_at) < now and late(app)
        if app.kind != "application" or not (notices or overdue):
            continue
        service = office.service_of(app)
        limit = (app.clock or {}).get("limit_days") or clock.limit_of(service, office.cfg.default_time_limit_days)
        out.append(
            {
                "request_number": app.transaction_id,
                "agency_th": office.cfg.agency.name_th,
                "agency_en": office.cfg.agency.name_en,
                "process": service.id if service else None,
                "process_th": service.name_th if service else None,
                "process_en": service.name_en if service else None,
                "date_of_application": app.received_at,
                "citizen_manual": service.source.name if service else None,
                "time_per_manual_days": limit,
                "due_at": app.due_at,
                "status": app.status,
                "working_days_left": clock.working_days_left(office.cal, app, now),
                "notices": [
                    {"number": n["number"], "sent_at": n["sent_at"], "due_on": n["due_on"], "opdc": n["opdc_recipient"]}
                    for n in notices
                ],
                "opdc_email": office.cfg.lifecycle.opdc_email or None,
            }
        )
    return out


__all__ = ["close_finished", "record_reason", "register_rows", "send_due_delay_notices"]
