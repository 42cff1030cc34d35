"""The ``[reminders]`` section of ``base.config`` (issue 12, R26): how far
ahead the applicant is reminded of a deadline, and how long a request for
information waits before the application is withdrawn. Kept here so that the
configuration module stays within its size.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailintake.base.settings import Reader, setting


@dataclass(frozen=True)
class Reminders:
    fee_days_before: int = setting(low=0, high=60)
    info_answer_days: int = setting(low=1, high=365)
    info_days_before: int = setting(low=0, high=60)
    permit_days_before: int = setting(low=0, high=365)

    def check(self, r: Reader) -> None:
        if self.info_days_before >= self.info_answer_days:
            raise r.fail("info_days_before", "must be fewer than info_answer_days")
