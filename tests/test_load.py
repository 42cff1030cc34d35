"""Load with faults: concurrent IMAP clients append while the daemon runs and is
killed with SIGKILL twice; nothing is lost, nothing registered or answered twice."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import pytest
from load import run_load


@pytest.mark.slow
def test_load_with_daemon_killed_twice_loses_nothing() -> None:
    result = run_load(messages=1200, clients=4, kills=2, timeout=300)
    assert result.kills == 2
    assert result.registered == result.messages == 1200
    assert result.duplicates == 0 and result.lost == 0
    assert result.acknowledged == 1200
