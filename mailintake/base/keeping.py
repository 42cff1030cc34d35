"""Two sections of ``base.config`` about what is kept, and how: ``[permits]``
(numbers, the password and the ways it travels, signing) and ``[retention]``
(how long personal data is kept before ``mailintake purge``, PDPA B.E. 2562
s. 37(3)). Kept here so that the configuration module stays within its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailintake.base.settings import Reader, setting


@dataclass(frozen=True)
class Permits:
    number_format: str = setting(required=True)
    valid_days: int = setting(low=1, high=3650)
    password_policy: str = setting(read=lambda r, key: _password_policy(r, key))
    password_length: int = setting(low=8, high=64)
    password_delay_minutes: int = setting(low=0, high=1440)
    sms_command: tuple[str, ...] = setting()
    sign_pkcs12: Path | None = setting()
    sign_password: str = setting(secret=True)
    verify_per_sender_per_day: int = setting(low=1, high=1000)

    def check(self, r: Reader) -> None:
        try:
            self.number_format.format(code="EVT", be_year=2568, year=2025, seq=1)
        except (KeyError, ValueError, IndexError) as exc:
            raise r.fail("number_format", f"bad format field {exc}; use {{code}} {{be_year}} {{year}} {{seq}}") from None
        if "{seq" not in self.number_format:
            raise r.fail("number_format", "must contain {seq}")
        if self.sms_command and not any("{phone}" in a for a in self.sms_command[1:]):
            raise r.fail("sms_command", "expected a command and its arguments, one of them containing {phone}")


def _password_policy(r: Reader, key: str) -> str:
    if r.table.get(key) == "derived":  # the national ID: known to many, about 10^10 values (issue 11)
        raise r.fail(key, '"derived" was removed (an ID is no secret): delete the line or set "random"')
    return r.text(key, choices=("random",))


@dataclass(frozen=True)
class Retention:
    finished_days: int = setting(low=0, high=36500)
    spam_days: int = setting(low=0, high=36500)
    quarantine_days: int = setting(low=0, high=36500)
    daily: bool = setting()
