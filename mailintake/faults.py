"""Fault injection for crash tests.

``MAILINTAKE_FAULT="after_commit:2"`` makes the process kill itself with
SIGKILL the 2nd time it reaches the checkpoint ``after_commit``. Checkpoints:
``after_fetch``, ``after_parse``, ``after_commit``, ``after_smtp``,
``after_flag``. Unset (always, in production) it does nothing.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()


def checkpoint(name: str) -> None:
    spec = os.environ.get("MAILINTAKE_FAULT")
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
