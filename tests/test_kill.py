"""A killed sweep never blocks the next: ``mailintake sweep`` runs as a real
process against Dovecot and aiosmtpd and is killed with SIGKILL at 20 moments
chosen by a seeded random generator: at the pipeline's checkpoints, while its
check worker holds a file, while the SMTP server is answering, and after a
random delay. After each kill a new sweep starts at once and exits 0, and no
worker of the killed sweep is left alive. At the end every message is
registered once and acknowledged once, with one Message-ID each."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from conftest import Env
from mails import at, mail

from mailintake.base.config import load
from mailintake.base.data.db import Registry
from samples.make_samples import scanned_pdf

SEED = 9
KILLS = 20
POINTS = ["after_fetch", "after_parse", "after_commit", "after_smtp", "after_flag"]
PDF = scanned_pdf(620, 877)


def moments() -> list[str]:
    """20 kinds of moment: at least four each while checking and while SMTP answers."""
    rng = random.Random(SEED)
    kinds = ["in_check"] * 4 + ["smtp"] * 4 + [rng.choice(["checkpoint", "timer", "in_check", "smtp"]) for _ in range(12)]
    rng.shuffle(kinds)
    return kinds


def start(env: Env, now: str, extra: dict[str, str] | None = None, *, output: bool = True) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_FAULT")}
    environ.update(extra or {})
    pipe = subprocess.PIPE if output else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "mailintake", "--config", str(env.config), "sweep", "--now", now],
        stdout=pipe,
        stderr=pipe,
        text=True,
        env=environ,
    )


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def workers_of(sweep_pid: int) -> list[int]:
    """Live check workers started by the sweep ``sweep_pid`` (their argv names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mailintake.intake.sandbox" in argv and argv[argv.index(b"mailintake.intake.sandbox") + 1] == str(sweep_pid).encode():
            if alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def gone_soon(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.01)
    return False


def killed_sweep(env: Env, kind: str, rng: random.Random, now: str) -> None:
    assert env.smtp is not None
    mark = env.tmp / "worker.pid"
    mark.unlink(missing_ok=True)
    worker = None
    if kind == "checkpoint":
        point = rng.choice(POINTS)
        # Flags and SMTP go out in batches: their checkpoints are reached once a sweep.
        nth = 1 if point in ("after_smtp", "after_flag") else rng.randint(1, 2)
        proc = start(env, now, {"MAILINTAKE_FAULT": f"{point}:{nth}"}, output=False)
    elif kind == "in_check":
        proc = start(env, now, {"MAILINTAKE_FAULT": "in_check:1:stall", "MAILINTAKE_FAULT_MARK": str(mark)}, output=False)
        deadline = time.monotonic() + 20
        while not mark.exists() or not mark.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, "the worker never received a file"
            time.sleep(0.01)
        worker = int(mark.read_text())
        os.kill(proc.pid, signal.SIGKILL)
    elif kind == "smtp":
        proc = start(env, now, output=False)
        env.smtp.kill_on_data = proc.pid  # type: ignore[attr-defined]
    else:
        proc = start(env, now, output=False)
        time.sleep(rng.uniform(0.1, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    env.smtp.kill_on_data = None  # type: ignore[attr-defined]
    if kind != "timer":
        # Checkpoint and SMTP kills happen where the test put them; a timer may miss a short sweep.
        assert proc.returncode == -signal.SIGKILL, (kind, proc.returncode)
    if worker is not None:
        assert gone_soon(worker), f"worker {worker} outlived its sweep"
    deadline = time.monotonic() + 3
    while workers_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert workers_of(proc.pid) == [], "a worker outlived its sweep"


def slow_smtp(env: Env) -> None:
    """The sink answers DATA after a moment; armed with a pid, it kills that
    sweep while the message is being answered (the message was received)."""
    sink: Any = env.smtp
    sink.kill_on_data = None
    original = sink.handle_DATA

    async def answering(server: Any, session: Any, envelope: Any) -> str:
        answer = await original(server, session, envelope)
        if sink.kill_on_data:
            os.kill(sink.kill_on_data, signal.SIGKILL)
            sink.kill_on_data = None
        await asyncio.sleep(0.02)
        return str(answer)

    sink.handle_DATA = answering


def test_a_sweep_killed_at_20_moments_never_blocks_the_next(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    slow_smtp(deploy)
    rng = random.Random(SEED)
    started = time.monotonic()
    n = 0
    for round_, kind in enumerate(moments()):
        for _ in range(2):
            attachments = [("scan.pdf", PDF + b"%% %d\n" % n, "application/pdf")] if n % 2 == 0 else []
            deploy.mailbox.append(
                mail(f"คำขอ {n}", sender=f"p{n}@example.com", attachments=attachments).as_bytes(),
                at(f"2025-12-09 08:{n % 60:02d}"),
            )
            n += 1
        now = f"2025-12-09T{9 + round_ // 6:02d}:{(round_ % 6) * 10:02d}:00+07:00"
        killed_sweep(deploy, kind, rng, now)
        after = start(deploy, now.replace(":00+07:00", ":05+07:00"))
        out, err = after.communicate(timeout=60)
        assert after.returncode == 0, (kind, err)
        assert "another sweep is running" not in err
    runtime = time.monotonic() - started
    print(f"{KILLS} kills in {runtime:.1f} s")
    ledger(deploy, on_server=n)


def ledger(env: Env, on_server: int) -> None:
    assert env.mailbox is not None and env.smtp is not None
    reg = Registry(load(env.config).db_path)
    kinds = Counter(r["kind"] for r in reg.all("SELECT kind FROM messages"))
    assert kinds == {"application": on_server}, kinds
    apps = [a["transaction_id"] for a in reg.all("SELECT transaction_id FROM applications")]
    assert len(apps) == len(set(apps)) == on_server
    acks = reg.all("SELECT transaction_id, message_id, status FROM outbox WHERE kind = 'ack'")
    assert Counter(a["transaction_id"] for a in acks) == Counter(apps)
    assert {a["status"] for a in acks} == {"sent"}
    # What the SMTP server got: one Message-ID per application (a copy resent
    # after a kill during SMTP carries the same Message-ID).
    delivered = env.smtp.messages()
    assert {m["Message-ID"] for m in delivered} == {a["message_id"] for a in acks}
    by_id = {a["message_id"]: a["transaction_id"] for a in acks}
    assert all(by_id[m["Message-ID"]] == m["X-Mailintake-ID"] for m in delivered)
    assert all(b"$MailintakeDone" in v[b"FLAGS"] for v in env.mailbox.folder("INBOX").values())
    assert reg.all("SELECT * FROM attempts") == []
