"""Mail a clerk's step queued goes out at once, not at the next sweep: the
applicant hears of a review, a request or a permit while the clerk is still
at the desk. What cannot be sent now stays queued for the outbox's retries.
"""

from __future__ import annotations

from datetime import datetime

from mailintake.base.deployment import Deployment
from mailintake.intake.outbox import DrainResult, drain


def send_after_step(dep: Deployment, when: datetime) -> DrainResult:
    """Send what is due at ``when`` (without copying to the mailbox's Sent
    folder: the next sweep does that). The caller warns about what is left."""
    return drain(dep.cfg, dep.registry, when)


def unsent(result: DrainResult) -> int:
    """How many messages a drain left queued (to retry, failed or blocked)."""
    return result.retried + result.failed + result.blocked
