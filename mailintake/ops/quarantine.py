"""Quarantined messages run through the road again, under the sweep's lock
(one process at a time changes the registry from the mailbox), and what they
queue is sent at once.
"""

from __future__ import annotations

from datetime import datetime

from mailintake.base.deployment import Deployment
from mailintake.base.errors import NotFound
from mailintake.intake.record import Outcome
from mailintake.intake.sweep import Intake, sweep_lock


def retry_quarantined(dep: Deployment, when: datetime, message_id: int | None = None) -> list[Outcome]:
    """Retry every quarantined message, or the one with ``message_id``
    (``NotFound`` when there is no such quarantined message)."""
    with sweep_lock(dep.cfg.storage_path, wait=True):
        intake = Intake(dep)
        try:
            outcomes = intake.retry_quarantined(when, message_id)
            intake.drain(when)
        finally:
            intake.close()
    if message_id is not None and not outcomes:
        raise NotFound(f"no quarantined message {message_id}")
    return outcomes
