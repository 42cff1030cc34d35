"""The clerks' daily digest (issue 12, R26: every submission checked daily).

At the morning sweep (the first of ``[daemon] sweep_times``) of a working day,
every ``[users]`` login with the clerk role and an ``email`` (none: ``[daemon]
admin_email``) gets one bilingual email: the applications new since the last
digest, those due today, those overdue, those assigned to that clerk, the mail
held for a clerk, and the acknowledgement watchdog's alerts (a day with none
of these sends no mail). Once a day: a
``deadline_mail`` row (no application, kind ``digest``, the day) written with
the mails; a run before the morning sweep time, or on a day off, sends none.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from mailintake.base import thaitext
from mailintake.base.data import applications, senders
from mailintake.base.data import deadline_mail as rows
from mailintake.base.data.records import Application
from mailintake.base.deployment import Deployment
from mailintake.base.headers import valid_address
from mailintake.base.outgoing import compose, queue
from mailintake.desk import watchdog
from mailintake.desk.queries import OPEN_STATUSES, is_overdue


def recipients(dep: Deployment) -> list[tuple[str | None, str]]:
    """(login, address) of each clerk with an address; else the admin's (login None)."""
    users = dep.cfg.users
    found: list[tuple[str | None, str]] = [
        (u.login, u.email) for u in sorted(users.values(), key=lambda u: u.login) if "clerk" in u.roles and u.email
    ]
    if found:
        return found
    return [(None, dep.cfg.daemon.admin_email)] if dep.cfg.daemon.admin_email else []


def _line(app: Application) -> dict[str, Any]:
    return {
        "tid": app.transaction_id,
        "service": app.service or "-",
        "status": app.status,
        "due_at": (app.due_at or "")[:16].replace("T", " "),
        "assigned_to": app.assigned_to,
    }


def contents(dep: Deployment, now: datetime, since: datetime) -> dict[str, Any]:
    """What the digest at ``now`` lists (``since``: when the last one went)."""
    cal, reg = dep.calendar, dep.registry
    today = cal.local(now).date()
    apps = [a for a in applications.by_deemed_receipt(reg) if a.kind == "application"]
    open_ = [a for a in apps if a.status in OPEN_STATUSES]
    return {
        "new": [_line(a) for a in apps if datetime.fromisoformat(a.created_at) > since],
        "due_today": [_line(a) for a in open_ if a.due_at and cal.local(datetime.fromisoformat(a.due_at)).date() == today],
        "overdue": [_line(a) for a in open_ if is_overdue(a, now)],
        "assigned": {
            login: [_line(a) for a in open_ if a.assigned_to == login]
            for login in sorted({a.assigned_to for a in open_ if a.assigned_to})
        },
        "held": [{"id": m.id, "held_for": m.held_for, "reason": m.held_reason} for m in senders.held(reg)],
        "ack_alerts": watchdog.late_acks(dep, now),
    }


def send_digest(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """Send today's digest when it is due and not sent yet; returns one dict per mail."""
    cfg, cal, reg = dep.cfg, dep.calendar, dep.registry
    local = cal.local(now)
    day = local.date()
    if not cfg.daemon.sweep_times or not cal.is_working_day(day):
        return []
    if local.time() < min(cfg.daemon.sweep_times) or rows.has(reg, "", rows.DIGEST, day):
        return []
    earlier = rows.of_kind(reg, rows.DIGEST)
    since = datetime.fromisoformat(earlier[-1]["sent_at"]) if earlier else now - timedelta(days=1)
    data = contents(dep, now, since)
    dates = {"th": thaitext.thai_date(local, with_time=False), "en": thaitext.english_date(local, with_time=False)}
    out: list[dict[str, Any]] = []
    empty = not any(data.values())  # nothing to tell: the day is marked, no mail
    try:
        with reg.transaction():
            for login, address in [] if empty else recipients(dep):
                to = valid_address(address)
                if to is None:
                    continue
                mine = data["assigned"].get(login, []) if login else [a for v in data["assigned"].values() for a in v]
                ctx = {**data, "mine": mine, "login": login, "day": dates, "mailbox": cfg.agency.mailbox_address}
                composed = compose(cfg, dep.renderer, template="digest", recipient=to, context=ctx, now=now, tid=None)
                queue(cfg, reg, composed, kind="digest", tid=None, now=now)
                out.append({"kind": rows.DIGEST, "to": to, "message_id": composed.message_id})
            counts = {k: len(v) for k, v in data.items()}
            rows.add(reg, "", rows.DIGEST, day, now=now, recipient=", ".join(o["to"] for o in out) or None, detail=counts)
    except sqlite3.IntegrityError:
        return []  # another run sent it
    return out
