"""How the system is: what the registry holds (``desk.queries.status``), how
the sweeps went (``intake.health``), and, asked live, the mailbox's backlog
and quota. ``mailintake status`` prints it; the daemon can log it.
"""

from __future__ import annotations

from typing import Any

from mailintake.base.deployment import Deployment
from mailintake.desk.queries import status as registry_status
from mailintake.intake import health
from mailintake.intake.source import open_source


def system_status(dep: Deployment, *, live: bool = True) -> dict[str, Any]:
    """The status as data (the JSON of ``mailintake status``). With ``live``
    the mailbox is asked for its backlog per folder and its quota; a mailbox
    that cannot be reached is a warning, never a failure."""
    data = registry_status(dep.registry)
    sweeps = health.status(dep.registry, dep.cfg.storage_path)
    data["warnings"][:0] = sweeps.pop("sweep_warnings")
    data.update(sweeps)
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


def status_lines(data: dict[str, Any]) -> list[str]:
    """The status as the admin reads it."""
    lines = [f"Last sweep:   {health.describe(data['last_sweep'])}"]
    if (data["last_sweep"] or {}).get("full") is not True and data["last_full_sweep"]:
        lines.append(f"Full sweep:   {health.describe(data['last_full_sweep'])}")
    if data["backlog"] is not None:
        lines.append("Backlog:      " + (", ".join(f"{k} {v}" for k, v in data["backlog"].items()) or "none"))
    lines.append(f"Messages:     {data['messages']}")
    lines.append(f"Applications: {data['applications']} ({data['unacknowledged']} not yet acknowledged)")
    lines.append(f"Outbox:       {data['outbox']}")
    q = data["quota"]
    lines.append(f"Quota:        {q['percent']}% of {q['limit_kb']} KB" if q else "Quota:        not reported by the server")
    lines += [f"WARNING: {w}" for w in data["warnings"]]
    return lines
