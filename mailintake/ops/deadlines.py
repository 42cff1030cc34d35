"""The deadline jobs (issue 12), run by the daemon after each sweep, by
``mailintake sweep`` after its pass and alone by ``mailintake deadlines run
--now T`` (a day replayed): the acknowledgement watchdog (R4), the s.10 delay
notices and the closing of finished applications (``desk.delays``, R25), the
reminders and withdrawals (R26), and the clerks' daily digest, in that order
(the digest lists the watchdog's alerts of the same run).

Every job is idempotent: what it sent is recorded with the mail, so a second
run at the same ``now`` sends nothing twice. A job that fails is logged and
reported; the others still run. The mail is queued; the caller sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mailintake.base.deployment import Deployment
from mailintake.base.errors import ConfigError
from mailintake.desk import appointment_days, delays, digest, payments, reminders, watchdog

log = logging.getLogger(__name__)

JOBS: tuple[tuple[str, Callable[[Deployment, datetime], list[Any]]], ...] = (
    ("watchdog", watchdog.check_acks),
    ("delay_notices", delays.send_due_delay_notices),
    ("closed", delays.close_finished),
    ("reminders", reminders.send_due_reminders),
    ("fee_expired", payments.lapse_unpaid),
    ("appointments_closed", appointment_days.release_closed_days),
    ("appointment_reminders", appointment_days.send_reminders),
    ("appointments_missed", appointment_days.mark_missed),
    ("digest", digest.send_digest),
)


def run_deadlines(dep: Deployment, now: datetime) -> dict[str, Any]:
    """Run every job at ``now``; returns what each did and the errors."""
    out: dict[str, Any] = {"now": now.isoformat(), "errors": []}
    for name, job in JOBS:
        try:
            out[name] = job(dep, now)
        except ConfigError:
            raise
        except Exception as exc:
            log.exception("deadline job %s failed", name)
            out[name] = []
            out["errors"].append(f"{name}: {exc}")
    return out


def summary(result: dict[str, Any]) -> str:
    """One line: how many mails each job queued."""
    kinds = [r.get("kind") for r in result.get("reminders", [])]
    parts = [
        f"{len(result.get('watchdog', []))} acknowledgement alert(s)",
        f"{sum(1 for d in result.get('delay_notices', []) if d.get('kind') == 'notice')} delay notice(s)",
        f"{len(result.get('closed', []))} closed",
        f"{sum(1 for k in kinds if k != 'withdrawn')} reminder(s)",
        f"{kinds.count('withdrawn')} withdrawn",
        f"{len(result.get('fee_expired', []))} fee expired",
        f"{len(result.get('appointment_reminders', []))} appointment reminder(s)",
        f"{len(result.get('appointments_missed', []))} appointment(s) missed",
        f"{len(result.get('appointments_closed', []))} on a day since closed",
        f"{len(result.get('digest', []))} digest mail(s)",
    ]
    return "deadlines: " + ", ".join(parts)


def run_in(dep_of: Callable[[], Deployment], now: datetime) -> dict[str, Any] | None:
    """For the daemon: build a deployment, run the jobs, close it; any error is
    logged (never raised) and gives None."""
    try:
        dep = dep_of()
    except Exception:
        log.exception("deadline jobs: cannot open the deployment")
        return None
    try:
        result = run_deadlines(dep, now)
    except Exception:
        log.exception("deadline jobs failed")
        return None
    finally:
        dep.close()
    if any(result.get(name) for name, _job in JOBS):
        log.info("%s", summary(result))
    return result
