"""One memory ceiling for the whole sweep: the sweep process and its check
worker together stay below ``[limits] sweep_memory_mb`` on bombs, and the bombs
are refused with a reason.

The peak is measured on the real process tree, two ways, and the higher of the
two is taken for each process: the test reads the high-water mark (VmHWM) of
the sweep process and of each of its children from /proc every few
milliseconds until the sweep exits, and the sweep reports its own and its
workers' (read before each worker is ended: ``memory`` in ``sweep --json``).
The sum of the sweep's peak and the workers' peak is at least the tree's true
peak, so a pass is not flattered. (``os.wait4``'s ru_maxrss is no use here: it
keeps the forking parent's peak across exec, the test runner's own.)"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import Env
from mails import at, mail
from test_hostile import reasons

from mailintake.base.config import load
from mailintake.base.data.db import Registry
from mailintake.intake.sandbox import memory_of

sys.path.insert(0, str(Path(__file__).parent / "data" / "hostile"))
from generate import ITEMS, raw_of

MB = 1024 * 1024
BOMBS = {
    "pdf-bomb": "unreadable",
    "docx-10000-entries": "10002 entries",
    "jpeg-30000x30000": "decompression limit",
    "docx-zip-bomb": "expands to 400 MB",
}


def children(pid: int) -> list[int]:
    try:
        return [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    except OSError:
        return []


def watch(proc: subprocess.Popen[bytes], peaks: dict[str, int]) -> None:
    """The highest VmHWM seen of the sweep and of any of its children, until it exits."""
    while proc.poll() is None:
        peaks["sweep"] = max(peaks["sweep"], memory_of(proc.pid, "VmHWM"))
        for child in children(proc.pid):
            peaks["checks"] = max(peaks["checks"], memory_of(child, "VmHWM"))
        threading.Event().wait(0.002)


def measured_sweep(env: Env, now: str) -> tuple[dict, int]:  # type: ignore[type-arg]
    """Run ``mailintake sweep --json`` as a process; its report and the peak
    resident memory (bytes) of the sweep plus its check workers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailintake", "--config", str(env.config), "sweep", "--now", now, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peaks = {"sweep": 0, "checks": 0}
    watcher = threading.Thread(target=watch, args=(proc, peaks))
    watcher.start()
    out, err = proc.communicate(timeout=300)
    watcher.join()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    report = json.loads(out)
    reported = report["memory"]
    assert peaks["sweep"] > 0 and reported["sweep"] > 0
    sweep_peak = max(peaks["sweep"], reported["sweep"])
    checks_peak = max(peaks["checks"], reported.get("checks", 0))
    print(
        f"peak {(sweep_peak + checks_peak) / MB:.0f} MB = sweep {sweep_peak / MB:.0f} MB "
        f"(seen {peaks['sweep'] / MB:.0f}, reported {reported['sweep'] / MB:.0f}) + checks {checks_peak / MB:.0f} MB "
        f"(seen {peaks['checks'] / MB:.0f}, reported {reported.get('checks', 0) / MB:.0f})"
    )
    return report, sweep_peak + checks_peak


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_is_refused_with_a_reason_below_the_ceiling(deploy: Env, name: str) -> None:
    assert deploy.mailbox is not None
    deploy.mailbox.append(raw_of(name), at("2025-12-09 09:00"))
    _report, peak = measured_sweep(deploy, "2025-12-09T09:30:00+07:00")
    ceiling = load(deploy.config).limits.sweep_memory_bytes
    assert peak < ceiling
    reg = Registry(load(deploy.config).db_path)
    [row] = reg.all("SELECT * FROM messages")
    assert row["kind"] == ITEMS[name].outcome
    assert BOMBS[name] in reasons(reg, row)
    assert reg.one("SELECT COUNT(*) AS n FROM files WHERE accepted = 1")["n"] == 0


def test_the_ceiling_binds_when_it_is_lower(deploy: Env) -> None:
    """At 200 MB the flate bomb is refused earlier, and the tree stays below 200 MB."""
    assert deploy.mailbox is not None
    deploy.config.write_text(deploy.config.read_text() + "\n[limits]\nsweep_memory_mb = 200\n", encoding="utf-8")
    deploy.mailbox.append(raw_of("pdf-bomb"), at("2025-12-09 09:00"))
    deploy.mailbox.append(mail("คำขอปกติ", sender="normal@example.com").as_bytes(), at("2025-12-09 09:01"))
    _report, peak = measured_sweep(deploy, "2025-12-09T09:30:00+07:00")
    assert peak < 200 * MB
    reg = Registry(load(deploy.config).db_path)
    assert "unreadable" in reasons(reg, reg.all("SELECT * FROM messages ORDER BY id")[0])
    assert [r["kind"] for r in reg.all("SELECT kind FROM messages ORDER BY id")] == ["application", "application"]


def test_the_whole_hostile_corpus_in_one_sweep_stays_below_the_ceiling(deploy: Env) -> None:
    assert deploy.mailbox is not None
    for i, name in enumerate(ITEMS):
        deploy.mailbox.append(raw_of(name), at(f"2025-12-09 08:{i:02d}"))
    report, peak = measured_sweep(deploy, "2025-12-09T09:30:00+07:00")
    assert peak < load(deploy.config).limits.sweep_memory_bytes
    assert sum(report["counts"].values()) == len(ITEMS)
    assert "left pending" not in report["counts"]
