"""Reminders to the applicant before a deadline falls (issue 12, R26), and the
withdrawal of an application whose requested documents never came.

- **fee**: an application in ``fee_due`` is reminded ``[reminders]
  fee_days_before`` calendar days before its ``fee_due_at`` (from opening time);
- **documents**: after ``request-info`` the documents are due at the close of
  the ``info_answer_days``-th working day; reminded ``info_days_before``
  working days before; with no answer by then the application is
  **withdrawn** (status ``withdrawn``, the applicant told);
- **permit expiry**: a delivered permit's holder is reminded
  ``permit_days_before`` days before ``valid_until``;
- **periodic reports** a service declares (``[[reminders]]`` in its rules
  file, e.g. TM.30's 90-day report): due every ``every_days`` days from the
  deemed receipt, ``times`` times, reminded ``days_before`` days ahead.

Each goes once: a ``deadline_mail`` row keyed by application, kind and due
date, written in the transaction that queues the mail (a second writer's
insert fails and its mail is rolled back with it). A reminder whose due date
has passed before any run saw it is not sent late.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from mailintake.base import thaitext
from mailintake.base.data import applications
from mailintake.base.data import deadline_mail as rows
from mailintake.base.data.records import Application
from mailintake.base.deployment import Deployment
from mailintake.desk.office import Office

log = logging.getLogger(__name__)

ENDED = ("rejected", "withdrawn", "fee_expired")


def _dates(office: Office, moment: datetime, timed: bool = False) -> dict[str, str]:
    local = office.cal.local(moment)
    return {"th": thaitext.thai_date(local, with_time=timed), "en": thaitext.english_date(local, with_time=timed)}


def _once(office: Office, work: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    """Run ``work`` in a transaction of its own; a row another run wrote first
    (``IntegrityError``) rolls this one's mail back: nothing goes twice."""
    try:
        with office.reg.transaction():
            return work()
    except sqlite3.IntegrityError:
        return None


def _send(
    office: Office, app: Application, kind: str, due: date, key: str, now: datetime, extra: dict[str, Any]
) -> dict[str, Any]:
    """Queue notice ``key`` to the applicant and record it (in the caller's transaction)."""
    tid = app.transaction_id
    mid = office.notify(app, key, now, {"remind": extra})
    rows.add(office.reg, tid, kind, due, now=now, recipient=app.reply_address if mid else None, message_id=mid, detail=extra)
    office.reg.add_event(
        at=now, actor="system", action=f"reminder_{kind.split(':')[0]}", transaction_id=tid, detail={"due_on": due.isoformat()}
    )
    return {"kind": kind, "transaction_id": tid, "due_on": due.isoformat(), "to": app.reply_address if mid else None}


# --- the applications' deadlines -----------------------------------------------------------
def docs_due(office: Office, app: Application) -> datetime | None:
    """When the documents asked for by the last request are due (close of day)."""
    asked = applications.last_event(office.reg, app.transaction_id, "request_info")
    if asked is None:
        return None
    day = office.cal.add_working_days(
        office.cal.local(datetime.fromisoformat(asked.at)).date(), office.cfg.reminders.info_answer_days
    )
    return office.cal.at(day, office.cfg.hours.close)


def _fee(office: Office, app: Application, now: datetime) -> dict[str, Any] | None:
    if app.status != "fee_due" or not app.fee_due_at:
        return None
    due = datetime.fromisoformat(app.fee_due_at)
    day = office.cal.local(due).date()
    start = office.cal.at(day - timedelta(days=office.cfg.reminders.fee_days_before), office.cfg.hours.open)
    if not start <= now < due or rows.has(office.reg, app.transaction_id, rows.FEE, day):
        return None
    extra = {"what": rows.FEE, "due": _dates(office, due, True), "amount": app.fee_amount}
    return _send(office, app, rows.FEE, day, "reminder_fee", now, extra)


def _docs(office: Office, app: Application, now: datetime) -> dict[str, Any] | None:
    if app.status != "info_requested":
        return None
    due = docs_due(office, app)
    if due is None:
        return None
    tid, day = app.transaction_id, office.cal.local(due).date()
    if now > due:
        if rows.has(office.reg, tid, rows.WITHDRAWN, day):
            return None
        return withdraw(office, app, due, now)
    before = office.cfg.reminders.info_days_before
    remind_day = _working_days_before(office, day, before)
    if now < office.cal.at(remind_day, office.cfg.hours.open) or rows.has(office.reg, tid, rows.DOCS, day):
        return None
    extra = {"what": rows.DOCS, "due": _dates(office, due, True)}
    return _send(office, app, rows.DOCS, day, "reminder_docs", now, extra)


def _working_days_before(office: Office, day: date, n: int) -> date:
    d, left = day, n
    while left > 0:
        d -= timedelta(days=1)
        if office.cal.is_working_day(d):
            left -= 1
    return d


def withdraw(office: Office, app: Application, due: datetime, now: datetime) -> dict[str, Any]:
    """No answer to the request by ``due``: the application is withdrawn and the applicant told."""
    tid, day = app.transaction_id, office.cal.local(due).date()
    days = office.cfg.reminders.info_answer_days
    moved = office.move(app, "withdrawn", "system", "withdrawn", now, {"no_answer_by": due.isoformat(), "working_days": days})
    extra = {"what": rows.WITHDRAWN, "due": _dates(office, due, True), "days": days}
    mid = office.notify(moved, "withdrawn", now, {"remind": extra})
    rows.add(office.reg, tid, rows.WITHDRAWN, day, now=now, recipient=app.reply_address if mid else None, message_id=mid)
    log.info("%s withdrawn: no answer to the request for information by %s", tid, due.isoformat())
    return {"kind": rows.WITHDRAWN, "transaction_id": tid, "due_on": day.isoformat(), "to": app.reply_address if mid else None}


def _periodic(office: Office, app: Application, now: datetime) -> list[dict[str, Any]]:
    service = office.service_of(app)
    if service is None or not service.reminders or app.status in ENDED:
        return []
    start = office.cal.local(datetime.fromisoformat(app.deemed_received_at)).date()
    today, out = office.cal.local(now).date(), []
    for p in service.reminders:
        for k in range(1, p.times + 1):
            due = start + timedelta(days=p.every_days * k)
            remind = office.cal.at(due - timedelta(days=p.days_before), office.cfg.hours.open)
            kind = f"{rows.REPORT}:{p.id}"
            if remind <= now and today <= due and not rows.has(office.reg, app.transaction_id, kind, due):
                extra = {
                    "what": kind,
                    "due": _dates(office, office.cal.at(due, office.cfg.hours.open)),
                    "name_th": p.name_th,
                    "name_en": p.name_en,
                    "number": k,
                }
                out.append(_send(office, app, kind, due, "reminder_report", now, extra))
    return out


def _permits(office: Office, now: datetime) -> list[dict[str, Any]]:
    out = []
    before = timedelta(days=office.cfg.reminders.permit_days_before)
    for p in rows.valid_permits(office.reg):
        until = datetime.fromisoformat(p["valid_until"])
        day = office.cal.local(until).date()
        if not until - before <= now < until or rows.has(office.reg, p["transaction_id"], rows.PERMIT_EXPIRY, day):
            continue

        def one(p: dict[str, Any] = p, until: datetime = until, day: date = day) -> dict[str, Any] | None:
            app = office.app(p["transaction_id"])
            extra = {"what": rows.PERMIT_EXPIRY, "due": _dates(office, until), "permit": p["number"]}
            return _send(office, app, rows.PERMIT_EXPIRY, day, "reminder_permit", now, extra)

        done = _once(office, one)
        if done:
            out.append(done)
    return out


def send_due_reminders(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """Queue every reminder due at ``now`` and withdraw the applications whose
    documents never came; returns one dict per mail. Idempotent."""
    office = Office(dep)
    done: list[dict[str, Any]] = []
    for found in applications.every(office.reg):
        if found.kind != "application" or found.status in ENDED:
            continue
        tid = found.transaction_id
        for job in (_fee, _docs):
            result = _once(office, lambda job=job, tid=tid: job(office, office.app(tid), now))  # type: ignore[misc]
            if result:
                done.append(result)
        listed = _once(office, lambda tid=tid: {"list": _periodic(office, office.app(tid), now)})  # type: ignore[misc]
        done += (listed or {}).get("list", [])
    return done + _permits(office, now)


def listing(dep: Deployment) -> list[dict[str, Any]]:
    """``reminders list``: every reminder and withdrawal sent, oldest first."""
    return [
        {k: r[k] for k in ("transaction_id", "kind", "due_on", "sent_at", "recipient", "message_id")}
        for r in rows.reminders(dep.registry)
    ]
