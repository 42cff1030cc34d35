"""How the system is: what the registry holds (``desk.queries.status``), how
the sweeps went (``intake.health``), and, asked live, the mailbox's backlog
and quota. ``mailintake status`` prints it; the daemon can log it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base.calendar import WorkCalendar
from mailintake.base.deployment import Deployment
from mailintake.desk import watchdog
from mailintake.desk.queries import status as registry_status
from mailintake.intake import health
from mailintake.intake.source import open_source
from mailintake.ops import publishing


def system_status(dep: Deployment, *, live: bool = True, now: datetime | None = None) -> dict[str, Any]:
    """The status as data (the JSON of ``mailintake status``) at ``now`` (the
    clock when None). With ``live`` the mailbox is asked for its backlog per
    folder and its quota; a mailbox that cannot be reached is a warning, never
    a failure."""
    data = registry_status(dep.registry)
    sweeps = health.status(dep.registry, dep.cfg.storage_path)
    data["warnings"][:0] = sweeps.pop("sweep_warnings")
    data.update(sweeps)
    data["calendar"] = calendar_status(WorkCalendar(dep.cfg.hours), now or datetime.now(dep.cfg.hours.timezone))
    # The acknowledgement watchdog (R4), read live: SMTP has not accepted these 30 minutes before their deadline.
    data["late_acks"] = watchdog.late_acks(dep, now or datetime.now(dep.cfg.hours.timezone))
    if data["late_acks"]:
        tids = ", ".join(a["transaction_id"] for a in data["late_acks"][:10]) + (" ..." if len(data["late_acks"]) > 10 else "")
        data["warnings"].insert(
            0,
            f"{len(data['late_acks'])} acknowledgement(s) not accepted by SMTP within 30 minutes of their deadline (R4): {tids}",
        )
    if data["calendar"]["warning"]:
        data["warnings"].append(data["calendar"]["warning"])
    data["publish"] = publishing.status(dep.cfg, dep.registry)  # the monthly public site (R28)
    if (data["publish"]["last"] or {}).get("ok") is False:
        data["warnings"].append(f"public site: {publishing.describe(data['publish'])}")
    data["backlog"] = None
    if live:
        src = open_source(dep.cfg.mailbox)
        try:
            data["backlog"] = {f.name: len(src.pending(f.name)) for f in src.folders(full=True)}
            quota = src.quota()
            if quota is not None:
                data["quota"] = {"used_kb": quota.used_kb, "limit_kb": quota.limit_kb, "percent": round(quota.percent, 1)}
        except Exception as exc:  # noqa: BLE001 - status must still say what the registry knows
            data["warnings"].append(f"mailbox not reachable: {exc}")
        finally:
            src.close()
    warning = health.quota_warning(data["quota"])
    if warning:
        data["warnings"].insert(0, warning)
    return data


def calendar_status(cal: WorkCalendar, now: datetime) -> dict[str, Any]:
    """Whether next year's holidays are confirmed by a list of the office's own
    (R2): the package knows only what the Cabinet had announced when it was
    released, so in December a missing list is a warning."""
    next_year = cal.local(now).year + 1
    confirmed = cal.agency_list_for(next_year)
    warning = None
    if cal.local(now).month == 12 and not confirmed:
        warning = (
            f"no confirmed holidays for {next_year} yet: import the Cabinet's list with "
            f"`mailintake calendar import FILE.ics` (into {cal.hours.holidays_file.name})"
        )
    return {"calendar": cal.calendar, "next_year": next_year, "next_year_confirmed": confirmed, "warning": warning}


# How a count of each kind reads: the singular and the plural. A kind not named
# here reads as its name with spaces, the same in both.
_WORDS = {
    "application": ("application", "applications"),
    "reply": ("reply", "replies"),
    "autoreply": ("auto-reply", "auto-replies"),
    "bounce": ("delivery report", "delivery reports"),
    "read_receipt": ("read receipt", "read receipts"),
    "verify": ("permit check", "permit checks"),
    "spam": ("spam", "spam"),
    "oversized": ("too large", "too large"),
    "duplicate": ("duplicate", "duplicates"),
    "quarantined": ("in quarantine", "in quarantine"),
    "own": ("own mail", "own mails"),
    "info_requested": ("information requested", "information requested"),
    "under_review": ("under review", "under review"),
    "fee_due": ("fee due", "fee due"),
    "fee_submitted": ("fee submitted", "fee submitted"),
    "fee_confirmed": ("fee confirmed", "fee confirmed"),
    "fee_expired": ("fee expired", "fee expired"),
    "permit_issued": ("permit issued", "permit issued"),
}


def counted(counts: dict[str, int] | None, *, empty: str = "none") -> str:
    """Counts in words, the largest first: ``4 applications, 1 auto-reply, 1 spam``."""
    items = sorted((counts or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    words = []
    for kind, n in items:
        one, many = _WORDS.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
        words.append(f"{n} {one if n == 1 else many}")
    return ", ".join(words) or empty


def _kb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB" if kb >= 10 * 1024 else f"{kb:,} KB"


LABEL = 14  # "Applications: " and the values under one another


def status_lines(data: dict[str, Any]) -> list[str]:
    """The status as the admin reads it: a label and words with numbers a
    line, the warnings last (the JSON is ``data`` itself)."""
    rows = [("Last sweep", health.describe(data["last_sweep"]))]
    if (data["last_sweep"] or {}).get("full") is not True and data["last_full_sweep"]:
        rows.append(("Full sweep", health.describe(data["last_full_sweep"])))
    if data["backlog"] is not None:
        pending = {k: v for k, v in data["backlog"].items() if v}
        rows.append(("Backlog", ", ".join(f"{v} in {k}" for k, v in pending.items()) or "nothing waiting"))
    rows.append(("Messages", counted(data["messages"])))
    apps = data["applications"] or {}
    total = sum(apps.values())
    if total:
        waiting = f"; {data['unacknowledged']} not yet acknowledged" if data["unacknowledged"] else "; all acknowledged"
        rows.append(("Applications", f"{total} ({counted(apps)}){waiting}"))
    else:
        rows.append(("Applications", "none"))
    rows.append(("Outbox", counted(data["outbox"], empty="empty")))
    if "publish" in data:
        rows.append(("Public site", publishing.describe(data["publish"])))
    q = data["quota"]
    quota = f"{q['percent']}% used ({_kb(q['used_kb'])} of {_kb(q['limit_kb'])})" if q else "not reported by the server"
    rows.append(("Quota", quota))
    lines = [f"{label + ':':{LABEL}}{value}" for label, value in rows]
    return lines + [f"WARNING: {w}" for w in data["warnings"]]
