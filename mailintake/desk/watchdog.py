"""The acknowledgement watchdog (issue 12, R4): an application whose
acknowledgement SMTP has not accepted 30 minutes before its ``ack_due_at``
(the SMTP server down, the outbox stuck, sweeps failing) is an alert: in
``mailintake status`` (read live, ``late_acks``), in the log at ERROR, and by
email to ``[daemon] admin_email`` (the path of the failed-sweep alert: one
mail queued, sent at once by the daemon or when SMTP takes mail again).

Each application is alerted once (a ``deadline_mail`` row of kind
``ack_late``, written with the mail): running the job twice sends nothing
twice. Applications whose acknowledgement was withheld on purpose (DMARC
fail, a cap: flagged ``answer_withheld``) or had no address to go to are the
clerk's already and raise nothing. ``on_time`` gives ``report acks``.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from mailintake.base.data import applications
from mailintake.base.data import deadline_mail as rows
from mailintake.base.data.db import to_iso
from mailintake.base.deployment import Deployment
from mailintake.base.headers import valid_address
from mailintake.base.outgoing import compose, queue

log = logging.getLogger(__name__)

LEAD = timedelta(minutes=30)
WITHHELD = "answer_withheld"


def late_acks(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """Applications whose acknowledgement SMTP has not accepted and whose
    ``ack_due_at`` is 30 minutes away or past, each with why and whether the
    admin was alerted."""
    reg = dep.registry
    out = []
    for r in rows.unacknowledged_due_before(reg, now + LEAD):
        tid = r["transaction_id"]
        if WITHHELD in (r["flags"] or "") or applications.last_event(reg, tid, "ack_impossible") is not None:
            continue
        acks = [o for o in applications.outgoing_of(reg, tid) if o.kind == "ack"]
        if not acks:
            why = "no acknowledgement was queued"
        else:
            last = acks[-1]
            why = f"acknowledgement {last.status}" + (f": {last.last_error}" if last.last_error else " (not sent yet)")
        out.append(
            {
                "transaction_id": tid,
                "ack_due_at": r["ack_due_at"],
                "overdue": datetime.fromisoformat(r["ack_due_at"]) < now,
                "why": why,
                "alerted": rows.has_kind(reg, tid, rows.ACK_LATE),
            }
        )
    return out


def check_acks(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """Raise the alert for each application newly late (see the module): one
    ERROR line each and one mail to the admin listing them; returns them."""
    fresh = [a for a in late_acks(dep, now) if not a["alerted"]]
    if not fresh:
        return []
    cfg = dep.cfg
    for a in fresh:
        log.error(
            "acknowledgement of %s not accepted by SMTP 30 minutes before its deadline %s (R4): %s",
            a["transaction_id"],
            a["ack_due_at"],
            a["why"],
        )
    admin = valid_address(cfg.daemon.admin_email) if cfg.daemon.admin_email else None
    try:
        _raise(dep, fresh, admin, now)
    except sqlite3.IntegrityError:
        return []  # another run raised them first (its mail, not this one's, goes)
    return [{**a, "to": admin} for a in fresh]


def _raise(dep: Deployment, fresh: list[dict[str, Any]], admin: str | None, now: datetime) -> None:
    """One mail to the admin listing ``fresh`` and a row each, in one transaction."""
    cfg, reg = dep.cfg, dep.registry
    with reg.transaction():
        mid = None
        if admin is not None:
            ctx = {"late": fresh, "mailbox": cfg.agency.mailbox_address, "at": to_iso(now)}
            composed = compose(cfg, dep.renderer, template="ack_alert", recipient=admin, context=ctx, now=now, tid=None)
            queue(cfg, reg, composed, kind="ack_alert", tid=None, now=now)
            mid = composed.message_id
        for a in fresh:
            tid = a["transaction_id"]
            rows.add(reg, tid, rows.ACK_LATE, a["ack_due_at"][:10], now=now, recipient=admin, message_id=mid, detail=a)
            reg.add_event(
                at=now, actor="system", action="ack_late_alert", transaction_id=tid, detail={"why": a["why"], "to": admin}
            )


def on_time(dep: Deployment, month: str) -> dict[str, Any]:
    """``report acks``: of the applications deemed received in ``month``
    (``YYYY-MM``, local time), how many SMTP acknowledged before ``ack_due_at``,
    and the others listed."""
    cal = dep.calendar
    year, mon = (int(x) for x in month.split("-"))
    first = datetime(year, mon, 1, tzinfo=cal.tz)
    last = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=cal.tz)
    apps = rows.deemed_in(dep.registry, first, last)
    late = []
    for a in apps:
        acked = a["acknowledged_at"]
        if acked is None or datetime.fromisoformat(acked) > datetime.fromisoformat(a["ack_due_at"]):
            late.append(
                {
                    "transaction_id": a["transaction_id"],
                    "deemed_received_at": a["deemed_received_at"],
                    "ack_due_at": a["ack_due_at"],
                    "acknowledged_at": acked,
                    "withheld": WITHHELD in (a["flags"] or ""),
                }
            )
    total = len(apps)
    rate = round(100 * (total - len(late)) / total, 1) if total else None
    return {"month": month, "applications": total, "on_time": total - len(late), "rate_percent": rate, "late": late}
