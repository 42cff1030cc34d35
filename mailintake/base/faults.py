"""Fault injection for crash tests.

``MAILINTAKE_FAULT="after_commit:2"`` makes the process kill itself with
SIGKILL the 2nd time it reaches the checkpoint ``after_commit``;
``MAILINTAKE_FAULT="in_check:1:stall"`` makes it stop there instead (sleep), so
a test can kill it from outside at that exact moment; with
``MAILINTAKE_FAULT_MARK=/some/file`` it writes its pid to that file first.
Checkpoints: ``after_fetch``, ``after_parse``, ``in_check`` (the check worker,
holding a file), ``after_commit``, ``after_smtp``, ``after_flag``. Unset
(always, in production) it does nothing.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

_reached: Counter[str] = Counter()


def checkpoint(name: str) -> None:
    spec = os.environ.get("MAILINTAKE_FAULT")
    if not spec:
        return
    point, _, rest = spec.partition(":")
    if point != name:
        return
    nth, _, action = rest.partition(":")
    _reached[name] += 1
    if _reached[name] != int(nth or 1):
        return
    if action == "stall":
        mark = os.environ.get("MAILINTAKE_FAULT_MARK")
        if mark:
            with open(mark, "w") as fh:
                fh.write(str(os.getpid()))
        time.sleep(3600)
    os.kill(os.getpid(), signal.SIGKILL)
