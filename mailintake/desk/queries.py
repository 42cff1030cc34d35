"""What the clerk reads: applications in first-come-first-served order (R12),
one application in full, the outbox, the quarantine and the system status.
Each function returns plain data, the stable JSON contract of the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry
from mailintake.base.errors import NotFound

OPEN_STATUSES = ("received", "info_requested", "under_review", "approved", "fee_due", "fee_submitted", "fee_confirmed",
                 "permit_issued")


def _file(row: dict[str, Any]) -> dict[str, Any]:
    details = json.loads(row["details"] or "{}")
    return {
        "name": row["name"], "content_type": row["content_type"], "kind": row["kind"], "size": row["size"],
        "sha256": row["sha256"], "accepted": bool(row["accepted"]), "dpi": row["dpi"], "problem": row["problem"],
        "problems": details.get("problems", []), "problem_th": row["problem_th"], "problem_en": row["problem_en"],
    }


UNREACHABLE = "unreachable_by_email"


def unreachable(reg: Registry, address: str | None, now: datetime) -> dict[str, Any] | None:
    """Why the applicant cannot be reached by email: their address hard-bounced
    and is blocked until ``until``; None when mail can go to it."""
    block = reg.block_on(address, now)
    if block is None:
        return None
    return {"address": block["address"], "reason": block["reason"], "since": block["since"], "until": block["until"],
            "text": f"cannot be reached by email: {block['address']} bounced ({block['reason'][:120]}); "
                    f"nothing is sent to it until {block['until']}"}


def _application(reg: Registry, row: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    files = reg.all("SELECT * FROM files WHERE transaction_id = ? ORDER BY id", (row["transaction_id"],))
    blocked = unreachable(reg, row["applicant_email"], now or datetime.now().astimezone())
    flags = json.loads(row["flags"]) + ([UNREACHABLE] if blocked else [])
    return {
        "transaction_id": row["transaction_id"], "kind": row["kind"], "status": row["status"], "service": row["service"],
        "applicant_email": row["applicant_email"], "applicant_name": row["applicant_name"], "subject": row["subject"],
        "received_at": row["received_at"], "deemed_received_at": row["deemed_received_at"],
        "ack_due_at": row["ack_due_at"], "ack_reason": row["ack_reason"], "acknowledged_at": row["acknowledged_at"],
        "problems": json.loads(row["problems"]), "flags": flags, "unreachable": blocked,
        "assigned_to": row["assigned_to"], "due_at": row["due_at"], "juristic": bool(row["juristic"]),
        "identity": json.loads(row["identity"]) if row["identity"] else None, "poa": row["poa"], "stamp": row["stamp"],
        "fee_amount": row["fee_amount"], "fee_due_at": row["fee_due_at"], "payment_ref": row["payment_ref"],
        "decision_reason": row["decision_reason"], "replied_at": row["replied_at"],
        "files": [_file(f) for f in files],
    }


def is_overdue(app: dict[str, Any], now: datetime) -> bool:
    """Not acknowledged by its deadline (R4), or open past its service's time limit."""
    if app["acknowledged_at"] is None and datetime.fromisoformat(app["ack_due_at"]) < now:
        return True
    return app["status"] in OPEN_STATUSES and app["due_at"] is not None and datetime.fromisoformat(app["due_at"]) < now


def list_applications(reg: Registry, *, status: str | None = None, include_closed: bool = False,
                      mine: str | None = None, service: str | None = None,
                      overdue_at: datetime | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    rows = reg.all("SELECT * FROM applications")
    if mine:
        rows = [r for r in rows if r["assigned_to"] == mine]
    if service:
        rows = [r for r in rows if (r["service"] or "unassigned") == service]
    if overdue_at is not None:
        rows = [r for r in rows if is_overdue(r, overdue_at)]
    if status:
        rows = [r for r in rows if r["status"] == status]
    elif not include_closed:
        rows = [r for r in rows if r["status"] in OPEN_STATUSES]
    # First come, first served: by deemed receipt as an instant, then by ID.
    rows.sort(key=lambda r: (datetime.fromisoformat(r["deemed_received_at"]), r["transaction_id"]))
    return [_application(reg, r, now) for r in rows]


def show_application(reg: Registry, tid: str, now: datetime | None = None) -> dict[str, Any]:
    row = reg.one("SELECT * FROM applications WHERE transaction_id = ?", (tid.upper(),))
    if row is None:
        raise NotFound(f"no application {tid}")
    out = _application(reg, row, now)
    out["messages"] = [
        {"id": m["id"], "kind": m["kind"], "message_id": m["message_id"], "from": m["from_addr"], "subject": m["subject"],
         "received_at": m["received_at"], "internaldate": m["internaldate"], "date_header": m["date_header"],
         "fetched_at": m["fetched_at"], "folder": m["folder"], "size": m["size"], "sha256": m["sha256"],
         "received_chain": json.loads(m["received_chain"] or "[]"), "defects": json.loads(m["defects"] or "[]"),
         "flags": json.loads(m["flags"] or "[]")}
        for m in reg.all("SELECT * FROM messages WHERE transaction_id = ? ORDER BY id", (row["transaction_id"],))
    ]
    out["outgoing"] = [
        {"message_id": o["message_id"], "kind": o["kind"], "to": o["recipient"], "subject": o["subject"],
         "status": o["status"], "attempts": o["attempts"], "sent_at": o["sent_at"], "last_error": o["last_error"],
         "read_at": o["read_at"], "delivery_notes": json.loads(o["delivery_notes"] or "[]")}
        for o in reg.all("SELECT * FROM outbox WHERE transaction_id = ? ORDER BY id", (row["transaction_id"],))
    ]
    out["events"] = [
        {"id": e["id"], "at": e["at"], "actor": e["actor"], "action": e["action"], "status_before": e["status_before"],
         "status_after": e["status_after"], "detail": e["detail"]}
        for e in reg.all("SELECT * FROM events WHERE transaction_id = ? ORDER BY id", (row["transaction_id"],))
    ]
    return out


def payments_waiting(reg: Registry) -> list[dict[str, Any]]:
    """Slips waiting for finance, oldest first (R17)."""
    out = []
    for app in reg.all("SELECT * FROM applications WHERE status = 'fee_submitted'"):
        event = reg.one("SELECT at FROM events WHERE transaction_id = ? AND action = 'slip_received' ORDER BY id DESC LIMIT 1",
                        (app["transaction_id"],))
        last = reg.one("SELECT message_row FROM files WHERE transaction_id = ? ORDER BY id DESC LIMIT 1", (app["transaction_id"],))
        slips = reg.all("SELECT name, content_type, accepted, problem, sha256 FROM files WHERE message_row = ?",
                        (last["message_row"],)) if last else []
        out.append({"transaction_id": app["transaction_id"], "applicant_email": app["applicant_email"],
                    "service": app["service"], "fee_amount": app["fee_amount"], "fee_due_at": app["fee_due_at"],
                    "slip_received_at": event["at"] if event else None,
                    "slips": [{**f, "accepted": bool(f["accepted"])} for f in slips]})
    out.sort(key=lambda r: datetime.fromisoformat(r["slip_received_at"]) if r["slip_received_at"] else datetime.max)
    return out


def list_outbox(reg: Registry, *, status: str | None = None) -> list[dict[str, Any]]:
    """Outgoing mail; ``read_at`` from a read receipt, ``delivery_notes`` from
    delay and delivery reports, ``blocked`` rows were never sent (hard bounce)."""
    sql = "SELECT id, message_id, transaction_id, kind, recipient, subject, status, attempts, next_attempt_at, " \
          "last_error, created_at, sent_at, read_at, delivery_notes FROM outbox" + \
          (" WHERE status = ?" if status else "") + " ORDER BY id"
    rows = reg.all(sql, (status,) if status else ())
    return [{**r, "delivery_notes": json.loads(r["delivery_notes"] or "[]")} for r in rows]


def list_quarantine(reg: Registry) -> list[dict[str, Any]]:
    return reg.all("SELECT id, folder, uid, received_at, size, sha256, stage, error, attempts FROM messages "
                   "WHERE kind = 'quarantined' ORDER BY id")


def quota_warning(quota: dict[str, Any] | None) -> str | None:
    """R24: warn at 80 % and 95 % of the mailbox quota."""
    percent = (quota or {}).get("percent", 0)
    if percent >= 95:
        return f"mailbox quota {percent}% used: nearly full, new mail will bounce; archive or delete old mail now"
    if percent >= 80:
        return f"mailbox quota {percent}% used: plan to archive old mail"
    return None


def status(reg: Registry) -> dict[str, Any]:
    """The registry part of ``mailintake status``; how the sweeps went is
    ``health.status``."""

    def kv(key: str) -> Any:
        v = reg.get_kv(key)
        return None if v is None else json.loads(v)

    counts = {r["kind"]: r["n"] for r in reg.all("SELECT kind, COUNT(*) AS n FROM messages GROUP BY kind")}
    apps = {r["status"]: r["n"] for r in reg.all("SELECT status, COUNT(*) AS n FROM applications GROUP BY status")}
    ob = {r["status"]: r["n"] for r in reg.all("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")}
    unacked = reg.one("SELECT COUNT(*) AS n FROM applications WHERE acknowledged_at IS NULL")
    quota = kv("quota")
    warnings = []
    if ob.get("failed"):
        warnings.append(f"{ob['failed']} outgoing message(s) failed: see `mailintake outbox list --status failed`")
    if ob.get("blocked"):
        warnings.append(f"{ob['blocked']} outgoing message(s) not sent to addresses that hard-bounced: "
                        "see `mailintake outbox list --status blocked`")
    if counts.get("quarantined"):
        warnings.append(f"{counts['quarantined']} message(s) in quarantine: see `mailintake quarantine list`")
    return {
        "messages": counts, "applications": apps,
        "unacknowledged": unacked["n"] if unacked else 0, "outbox": ob, "quota": quota, "warnings": warnings,
        "quota_warning": quota_warning(quota),
    }
