"""kill -9 at each step of a sweep, then a re-run: every message registered once,
acknowledged once (one Message-ID per acknowledgement), nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from mails import at, mail

from mailintake.base.config import load
from mailintake.base.data.db import Registry
from samples.make_samples import scanned_pdf


def sweep_process(env: Env, now: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ)
    environ.pop("MAILINTAKE_FAULT", None)
    if fault:
        environ["MAILINTAKE_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "mailintake", "--config", str(env.config), "sweep", "--now", now],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def ledger(env: Env, on_server: int) -> Registry:
    """Messages on the server = registered + recorded + quarantined; no
    duplicates; one acknowledgement Message-ID per application."""
    assert env.mailbox is not None and env.smtp is not None
    reg = Registry(load(env.config).db_path)
    kinds = Counter(r["kind"] for r in reg.all("SELECT kind FROM messages"))
    assert sum(kinds.values()) == on_server, kinds
    assert kinds["duplicate"] == 0
    apps = reg.all("SELECT transaction_id FROM applications")
    assert len(apps) == len({a["transaction_id"] for a in apps})
    acks = reg.all("SELECT transaction_id, message_id, status FROM outbox WHERE kind = 'ack'")
    assert Counter(a["transaction_id"] for a in acks) == Counter(a["transaction_id"] for a in apps)
    delivered_ids = {m["Message-ID"] for m in env.smtp.messages()}
    assert delivered_ids == {a["message_id"] for a in acks}
    # Every message on the server is marked done.
    inbox = env.mailbox.folder("INBOX")
    assert all(b"$MailintakeDone" in v[b"FLAGS"] for v in inbox.values())
    return reg


@pytest.mark.parametrize("point", ["after_fetch", "after_parse", "after_commit", "after_smtp", "after_flag"])
def test_kill_9_at_each_step_then_rerun_registers_and_answers_once(deploy: Env, point: str) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    for i in range(3):
        deploy.mailbox.append(mail(f"คำขอที่ {i}", sender=f"p{i}@example.com").as_bytes(), at(f"2025-12-09 09:0{i}"))
    # Flags and SMTP go out in batches: their checkpoints are reached once.
    nth = 1 if point in ("after_smtp", "after_flag") else 2
    crashed = sweep_process(deploy, "2025-12-09T09:30:00+07:00", fault=f"{point}:{nth}")
    assert crashed.returncode == -9, crashed.stderr
    rerun = sweep_process(deploy, "2025-12-09T09:35:00+07:00")
    assert rerun.returncode == 0, rerun.stderr
    reg = ledger(deploy, on_server=3)
    assert len(reg.all("SELECT 1 FROM applications")) == 3
    assert {r["status"] for r in reg.all("SELECT status FROM outbox")} == {"sent"}
    if point == "after_smtp":
        # Accepted by SMTP but not recorded: resent with the same Message-ID.
        assert len(deploy.smtp.received) > len({m["Message-ID"] for m in deploy.smtp.messages()})


def test_a_message_that_kills_its_sweep_three_times_is_quarantined(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.mailbox.append(mail("poison", sender="a@example.com").as_bytes(), at("2025-12-09 09:00"))
    deploy.mailbox.append(mail("ปกติ", sender="b@example.com").as_bytes(), at("2025-12-09 09:05"))
    for _ in range(3):
        # The first message processed (the oldest) kills the sweep every time.
        assert sweep_process(deploy, "2025-12-09T09:30:00+07:00", fault="after_parse:1").returncode == -9
    final = sweep_process(deploy, "2025-12-09T09:40:00+07:00")
    assert final.returncode == 0, final.stderr
    q = deploy.json("quarantine", "list")
    assert [(r["stage"], r["error"]) for r in q] == [
        ("crash", "the sweep stopped 3 times while processing this message (killed, out of time or out of memory)")
    ]
    assert [a["subject"] for a in deploy.json("triage", "list")] == ["ปกติ"]
    ledger(deploy, on_server=2)


def test_a_second_sweep_waits_or_says_so(deploy: Env) -> None:
    from mailintake.intake.sweep import sweep_lock

    cfg = load(deploy.config)
    with sweep_lock(cfg.storage_path, wait=False):
        busy = deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00", ok=False)
        assert busy.exit_code == 1
        assert busy.output.strip() == f"Error: another sweep is running (pid {os.getpid()}); try again later or use --wait"
    assert deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00").exit_code == 0


def test_the_daemons_sweep_timeout_strikes_the_message_and_leaves_no_worker(deploy: Env, monkeypatch: Any) -> None:
    """The daemon stops a sweep that outlives sweep_timeout_seconds with SIGKILL:
    the message in progress has its strike, the worker dies with the sweep, the
    lock goes with it, and after 3 strikes the message is quarantined."""
    from test_kill import workers_of

    from mailintake.ops.daemon import Daemon

    assert deploy.mailbox is not None
    deploy.config.write_text(deploy.config.read_text() + "\n[daemon]\nsweep_timeout_seconds = 10\n", encoding="utf-8")
    deploy.mailbox.append(
        mail("poison", sender="a@example.com", attachments=[("scan.pdf", scanned_pdf(620, 877), "application/pdf")]).as_bytes(),
        at("2025-12-09 09:00"),
    )
    before = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}
    # The worker stops at its first file: the sweep hangs until the daemon's timeout.
    monkeypatch.setenv("MAILINTAKE_FAULT", "in_check:1:stall")
    Daemon(load(deploy.config), clock=lambda: at("2025-12-09 09:30"))._sweep(full=True)
    monkeypatch.delenv("MAILINTAKE_FAULT")
    reg = Registry(load(deploy.config).db_path)
    assert [r["count"] for r in reg.all("SELECT count FROM attempts")] == [1]
    new = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()} - before
    assert all(workers_of(pid) == [] for pid in new)
    for _ in range(2):
        assert sweep_process(deploy, "2025-12-09T09:40:00+07:00", fault="after_parse:1").returncode == -9
    final = sweep_process(deploy, "2025-12-09T09:50:00+07:00")
    assert final.returncode == 0, final.stderr
    [q] = deploy.json("quarantine", "list")
    assert q["stage"] == "crash" and "the sweep stopped 3 times" in q["error"]
