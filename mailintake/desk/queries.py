"""What the clerk reads: applications in first-come-first-served order (R12),
one application in full, the outbox, the quarantine and the system status.
Each function returns plain data, the stable JSON contract of the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mailintake.base.calendar import WorkCalendar
from mailintake.base.data import applications, receipts
from mailintake.base.data import delays as delay_rows
from mailintake.base.data.db import Registry
from mailintake.base.data.records import Application, Event, Message, OutgoingMail, StoredFile
from mailintake.base.errors import NotFound
from mailintake.desk import appointment_days, clock
from mailintake.desk.held import held

OPEN_STATUSES = (
    "received",
    "info_requested",
    "under_review",
    "approved",
    "fee_due",
    "fee_submitted",
    "fee_confirmed",
    "permit_issued",
)


def _file(f: StoredFile) -> dict[str, Any]:
    return {
        "name": f.name,
        "content_type": f.content_type,
        "kind": f.kind,
        "size": f.size,
        "sha256": f.sha256,
        "accepted": bool(f.accepted),
        "dpi": f.dpi,
        "problem": f.problem,
        "problems": f.details.get("problems", []),
        "problem_th": f.problem_th,
        "problem_en": f.problem_en,
    }


UNREACHABLE = "unreachable_by_email"


def unreachable(reg: Registry, address: str | None, now: datetime) -> dict[str, Any] | None:
    """Why the applicant cannot be reached by email: their address hard-bounced
    and is blocked until ``until``; None when mail can go to it."""
    block = reg.block_on(address, now)
    if block is None:
        return None
    return {
        "address": block["address"],
        "reason": block["reason"],
        "since": block["since"],
        "until": block["until"],
        "text": f"cannot be reached by email: {block['address']} bounced ({block['reason'][:120]}); "
        f"nothing is sent to it until {block['until']}",
    }


def _notices(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The s.10 delay notices sent (``desk.delays``): number, date, recipient and the OPDC copy's."""
    return [
        {"number": n["number"], "sent_at": n["sent_at"], "due_on": n["due_on"], "to": n["recipient"], "opdc": n["opdc_recipient"]}
        for n in rows
    ]


def _application(
    reg: Registry,
    app: Application,
    now: datetime | None = None,
    cal: WorkCalendar | None = None,
    notices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    files = applications.files_of(reg, app.transaction_id)
    blocked = unreachable(reg, app.reply_address, now or datetime.now().astimezone())
    sent = delay_rows.of(reg, app.transaction_id) if notices is None else notices
    return {
        "transaction_id": app.transaction_id,
        "kind": app.kind,
        "status": app.status,
        "service": app.service,
        "applicant_email": app.applicant_email,
        "applicant_name": app.applicant_name,
        "reply_to": app.reply_to,  # the reply address the applicant named: all mail goes there (R5)
        "subject": app.subject,
        "received_at": app.received_at,
        "deemed_received_at": app.deemed_received_at,
        "ack_due_at": app.ack_due_at,
        "ack_reason": app.ack_reason,
        "acknowledged_at": app.acknowledged_at,
        "problems": list(app.problems),
        "flags": list(app.flags) + ([UNREACHABLE] if blocked else []),
        "unreachable": blocked,
        "assigned_to": app.assigned_to,
        "due_at": app.due_at,
        "working_days_left": None if cal is None else clock.working_days_left(cal, app, now or datetime.now().astimezone()),
        "clock": app.clock,
        "delay_notices": _notices(sent),
        "juristic": bool(app.juristic),
        "identity": app.identity or None,
        "poa": app.poa,
        "stamp": app.stamp,
        "fee_amount": app.fee_amount,
        "fee_due_at": app.fee_due_at,
        "payment_ref": app.payment_ref,
        "decision_reason": app.decision_reason,
        "replied_at": app.replied_at,
        "files": [_file(f) for f in files],
    }


def is_overdue(app: Application, now: datetime) -> bool:
    """Not acknowledged by its deadline (R4), or past its service's time limit
    with its clock running (not paused for information, not decided: ``desk.clock``)."""
    if app.acknowledged_at is None and datetime.fromisoformat(app.ack_due_at) < now:
        return True
    running = (app.clock or {}).get("state", clock.RUNNING_STATE) == clock.RUNNING_STATE
    return app.status in OPEN_STATUSES and running and app.due_at is not None and datetime.fromisoformat(app.due_at) < now


def list_applications(
    reg: Registry,
    *,
    status: str | None = None,
    include_closed: bool = False,
    mine: str | None = None,
    service: str | None = None,
    overdue_at: datetime | None = None,
    now: datetime | None = None,
    cal: WorkCalendar | None = None,
) -> list[dict[str, Any]]:
    """The clerk's list, first come first served (R12), as JSON-ready rows."""
    apps = applications.every(reg)
    if mine:
        apps = [a for a in apps if a.assigned_to == mine]
    if service:
        apps = [a for a in apps if (a.service or "unassigned") == service]
    if overdue_at is not None:
        apps = [a for a in apps if is_overdue(a, overdue_at)]
    if status:
        apps = [a for a in apps if a.status == status]
    elif not include_closed:
        apps = [a for a in apps if a.status in OPEN_STATUSES]
    # First come, first served: by deemed receipt as an instant, then by ID.
    apps.sort(key=lambda a: (datetime.fromisoformat(a.deemed_received_at), a.transaction_id))
    sent = delay_rows.by_application(reg, [a.transaction_id for a in apps])
    return [_application(reg, a, now, cal, sent.get(a.transaction_id, [])) for a in apps]


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "message_id": m.message_id,
        "from": m.from_addr,
        "subject": m.subject,
        "received_at": m.received_at,
        "receipt_source": m.receipt_source,
        "trusted_received_at": m.trusted_received_at,
        "internaldate": m.internaldate,
        "date_header": m.date_header,
        "fetched_at": m.fetched_at,
        "folder": m.folder,
        "size": m.size,
        "sha256": m.sha256,
        "received_chain": list(m.received_chain),
        "defects": list(m.defects),
        "flags": list(m.flags),
    }


def _outgoing(o: OutgoingMail) -> dict[str, Any]:
    return {
        "id": o.id,
        "message_id": o.message_id,
        "kind": o.kind,
        "to": o.recipient,
        "subject": o.subject,
        "status": o.status,
        "attempts": o.attempts,
        "sent_at": o.sent_at,
        "last_error": o.last_error,
        "read_at": o.read_at,
        "delivery_notes": list(o.delivery_notes),
    }


def _event(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "status_before": e.status_before,
        "status_after": e.status_after,
        "detail": e.detail,
    }


def show_application(reg: Registry, tid: str, now: datetime | None = None, cal: WorkCalendar | None = None) -> dict[str, Any]:
    """One application in full: its files, messages, outgoing mail and events."""
    app = applications.get(reg, tid)
    if app is None:
        raise NotFound(f"no application {tid}")
    out = _application(reg, app, now, cal)
    found = applications.messages_of(reg, app.transaction_id)
    # The receipt time's source (R1) is the first message's: the one that opened it.
    first = next((m for m in found if m.kind == "application"), None)
    out["receipt_source"] = first.receipt_source if first else None
    out["trusted_received_at"] = first.trusted_received_at if first else None
    out["internaldate"] = first.internaldate if first else None
    out["messages"] = [_message(m) for m in found]
    out["outgoing"] = [_outgoing(o) for o in applications.outgoing_of(reg, app.transaction_id)]
    out["events"] = [_event(e) for e in applications.events_of(reg, app.transaction_id)]
    out["held"] = held(reg, app.transaction_id)  # mail quoting it from someone else (desk.held)
    out["receipts"] = receipts.of(reg, app.transaction_id)  # the official e-receipts (R17; `payments receipt`)
    out.update(appointment_days.shown(reg, app.transaction_id, now, cal))  # the booking and the last offer (R10)
    return out


def payments_waiting(reg: Registry) -> list[dict[str, Any]]:
    """Slips waiting for finance, oldest first (R17)."""
    out: list[dict[str, Any]] = []
    for app in applications.in_status(reg, "fee_submitted"):
        event = applications.last_event(reg, app.transaction_id, "slip_received")
        slips = applications.last_files(reg, app.transaction_id)
        out.append(
            {
                "transaction_id": app.transaction_id,
                "applicant_email": app.applicant_email,
                "service": app.service,
                "fee_amount": app.fee_amount,
                "fee_due_at": app.fee_due_at,
                "slip_received_at": event.at if event else None,
                "slips": [
                    {
                        "name": f.name,
                        "content_type": f.content_type,
                        "accepted": bool(f.accepted),
                        "problem": f.problem,
                        "sha256": f.sha256,
                    }
                    for f in slips
                ],
            }
        )
    # Oldest slip first; a slip without its event (an old registry) last.
    out.sort(key=lambda r: datetime.fromisoformat(r["slip_received_at"]) if r["slip_received_at"] else datetime.max)
    return out


_OUTBOX_COLUMNS = (
    "id",
    "message_id",
    "transaction_id",
    "kind",
    "recipient",
    "subject",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
    "read_at",
    "delivery_notes",
)
_QUARANTINE_COLUMNS = ("id", "folder", "uid", "received_at", "size", "sha256", "stage", "error", "attempts")


def list_outbox(reg: Registry, *, status: str | None = None) -> list[dict[str, Any]]:
    """Outgoing mail; ``read_at`` from a read receipt, ``delivery_notes`` from
    delay and delivery reports, ``blocked`` rows were never sent (hard bounce)."""
    return [{k: d[k] for k in _OUTBOX_COLUMNS} for d in (o.as_dict() for o in applications.outbox(reg, status))]


def list_quarantine(reg: Registry) -> list[dict[str, Any]]:
    return [{k: getattr(m, k) for k in _QUARANTINE_COLUMNS} for m in applications.quarantined(reg)]


def status(reg: Registry) -> dict[str, Any]:
    """The registry part of ``mailintake status``; how the sweeps went is
    ``health.status``."""
    raw_quota = reg.get_kv("quota")
    quota = None if raw_quota is None else json.loads(raw_quota)
    counts = applications.counts(reg, "messages", "kind")
    apps = applications.counts(reg, "applications", "status")
    ob = applications.counts(reg, "outbox", "status")
    warnings = []
    if ob.get("failed"):
        warnings.append(f"{ob['failed']} outgoing message(s) failed: see `mailintake outbox list --status failed`")
    if ob.get("blocked"):
        warnings.append(
            f"{ob['blocked']} outgoing message(s) not sent to addresses that hard-bounced: "
            "see `mailintake outbox list --status blocked`"
        )
    if counts.get("quarantined"):
        warnings.append(f"{counts['quarantined']} message(s) in quarantine: see `mailintake quarantine list`")
    return {
        "messages": counts,
        "applications": apps,
        "unacknowledged": applications.unacknowledged(reg),
        "outbox": ob,
        "quota": quota,
        "warnings": warnings,
    }
