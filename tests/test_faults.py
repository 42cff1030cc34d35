"""Faults against the real Dovecot and SMTP server, then a restart and a finish.
Every test ends with the same ledger check: messages on the server =
registered + recorded + quarantined + still pending, no duplicates, no
acknowledgement twice (one Message-ID each)."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

from conftest import Env
from mails import at, mail
from servers import CuttingProxy

from mailintake.base.config import load
from mailintake.base.data.db import Registry
from samples.make_samples import scanned_pdf


def ledger(env: Env, on_server: int, pending: int = 0) -> Counter[str]:
    assert env.mailbox is not None and env.smtp is not None
    reg = Registry(load(env.config).db_path)
    kinds = Counter(r["kind"] for r in reg.all("SELECT kind FROM messages"))
    waiting = [v for v in env.mailbox.folder("INBOX").values() if b"$MailintakeDone" not in v[b"FLAGS"]]
    assert len(waiting) == pending
    assert sum(kinds.values()) + len(waiting) == on_server, (kinds, len(waiting))
    assert kinds["duplicate"] == 0
    apps = [a["transaction_id"] for a in reg.all("SELECT transaction_id FROM applications")]
    assert len(apps) == len(set(apps))
    acks = reg.all("SELECT transaction_id, message_id FROM outbox WHERE kind = 'ack'")
    assert len({a["transaction_id"] for a in acks}) == len(acks)
    assert {m["Message-ID"] for m in env.smtp.messages()} <= {a["message_id"] for a in acks}
    return kinds


def sweep(deploy: Env, now: str, **popen: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailintake", "--config", str(deploy.config), "sweep", "--now", now],
        capture_output=True,
        text=True,
        timeout=120,
        **popen,
    )


def use_proxy(env: Env, proxy: CuttingProxy) -> None:
    assert env.mailbox is not None
    env.config.write_text(env.config.read_text().replace(f"port = {env.mailbox.server.port}", f"port = {proxy.port}"))


def test_connection_dropped_mid_literal(deploy: Env) -> None:
    assert deploy.mailbox is not None
    proxy = CuttingProxy(deploy.mailbox.server.port)
    use_proxy(deploy, proxy)
    for i in range(4):
        deploy.mailbox.append(mail(f"คำขอ {i}", sender=f"p{i}@example.com").as_bytes(), at(f"2025-12-09 09:0{i}"))
    proxy.armed = True
    first = sweep(deploy, "2025-12-09T09:30:00+07:00")
    assert proxy.cuts == 1 and "Traceback" not in first.stderr
    ledger(deploy, on_server=4, pending=4 - len(deploy.json("triage", "list")))
    second = sweep(deploy, "2025-12-09T09:40:00+07:00")
    assert second.returncode == 0, second.stderr
    assert ledger(deploy, on_server=4) == {"application": 4}
    proxy.close()


def test_dovecot_restarted_during_a_fetch(deploy: Env) -> None:
    assert deploy.mailbox is not None
    server = deploy.mailbox.server
    restarted = threading.Event()

    def restart() -> None:
        server.restart()
        restarted.set()

    proxy = CuttingProxy(server.port, on_cut=lambda: threading.Thread(target=restart).start())
    use_proxy(deploy, proxy)
    for i in range(3):
        deploy.mailbox.append(mail(f"คำขอ {i}", sender=f"p{i}@example.com").as_bytes(), at(f"2025-12-09 09:0{i}"))
    proxy.armed = True
    first = sweep(deploy, "2025-12-09T09:30:00+07:00")
    assert proxy.cuts == 1 and "Traceback" not in first.stderr
    # The server is back; the next sweep finishes the job.
    assert restarted.wait(30)
    second = sweep(deploy, "2025-12-09T09:40:00+07:00")
    assert second.returncode == 0, second.stderr
    assert ledger(deploy, on_server=3) == {"application": 3}
    proxy.close()


def test_sqlite_busy_leaves_mail_on_the_server_unflagged(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.run("sweep", "--now", "2025-12-09T08:00:00+07:00")  # creates the registry
    deploy.mailbox.append(mail("คำขอ").as_bytes(), at("2025-12-09 09:00"))
    other = sqlite3.connect(load(deploy.config).db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a second writer holds the lock
    try:
        busy = sweep(deploy, "2025-12-09T09:30:00+07:00", env={**os.environ, "MAILINTAKE_STORAGE_BUSY_TIMEOUT_SECONDS": "1"})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert busy.returncode == 1
    assert "the registry cannot be written (database is locked); nothing was taken from the mailbox" in busy.stderr
    assert "Traceback" not in busy.stderr
    ledger(deploy, on_server=1, pending=1)
    assert sweep(deploy, "2025-12-09T09:40:00+07:00").returncode == 0
    assert ledger(deploy, on_server=1) == {"application": 1}


def _small_disk() -> None:
    # The sweep process may not write files over 1 MB: a full disk for it.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_disk_full_leaves_the_message_for_the_next_sweep(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.run("sweep", "--now", "2025-12-09T08:00:00+07:00")
    deploy.mailbox.append(
        mail("คำขอใหญ่", attachments=[("scan.pdf", scanned_pdf(2480, 3508) * 4, "application/pdf")]).as_bytes(),
        at("2025-12-09 09:00"),
    )
    full = sweep(deploy, "2025-12-09T09:30:00+07:00", preexec_fn=_small_disk)
    assert "Traceback" not in full.stderr and "left pending" in full.stdout
    ledger(deploy, on_server=1, pending=1)
    assert sweep(deploy, "2025-12-09T09:40:00+07:00").returncode == 0
    assert ledger(deploy, on_server=1) == {"application": 1}


def test_smtp_421_is_retried(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.mailbox.append(mail("คำขอ").as_bytes(), at("2025-12-09 09:00"))
    deploy.smtp.refuse = (421, "4.7.0 too busy, closing")
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    [row] = deploy.json("outbox", "list")
    assert row["status"] == "pending" and "421" in row["last_error"]
    deploy.smtp.refuse = None
    deploy.run("outbox", "send", "--now", "2025-12-09T09:12:00+07:00")
    assert deploy.json("outbox", "list")[0]["status"] == "sent"
    ledger(deploy, on_server=1)


def test_slow_smtp_times_out_and_is_retried_with_the_same_message_id(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.config.write_text(
        deploy.config.read_text().replace("retry_base_seconds = 60", "retry_base_seconds = 60\ntimeout_seconds = 1")
    )
    slow = deploy.smtp
    original = slow.handle_DATA

    async def sluggish(server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(3)
        return await original(server, session, envelope)

    slow.handle_DATA = sluggish  # type: ignore[method-assign]
    deploy.mailbox.append(mail("คำขอ").as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    row = deploy.json("outbox", "list")[0]
    assert row["status"] == "pending" and row["attempts"] == 1
    slow.handle_DATA = original  # type: ignore[method-assign]
    deploy.run("outbox", "send", "--now", "2025-12-09T09:12:00+07:00")
    assert deploy.json("outbox", "list")[0]["status"] == "sent"
    # If the slow server kept the first copy too, it carries the same Message-ID.
    assert len({m["Message-ID"] for m in slow.messages()}) == 1
    ledger(deploy, on_server=1)


def test_the_daemons_child_sweep_answers_with_a_value(deploy: Env) -> None:
    """The daemon's sweep runs in a child process and comes back as a value:
    busy while another sweep holds the lock, failed with the reason when the
    registry cannot be written, swept with the report otherwise."""
    from mailintake.intake.sweep import sweep_lock
    from mailintake.ops.daemon import BUSY, FAILED, SWEPT, sweep_in_child

    assert deploy.mailbox is not None
    cfg = load(deploy.config, environ={**os.environ, "MAILINTAKE_STORAGE_BUSY_TIMEOUT_SECONDS": "1"})
    deploy.run("sweep", "--now", "2025-12-09T08:00:00+07:00")  # creates the registry
    deploy.mailbox.append(mail("คำขอ").as_bytes(), at("2025-12-09 09:00"))
    with sweep_lock(cfg.storage_path, wait=False):
        busy = sweep_in_child(cfg, at("2025-12-09 09:10"), full=False, timeout=60)
    assert busy.kind == BUSY and busy.reason == f"another sweep is running (pid {os.getpid()})"
    other = sqlite3.connect(cfg.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        locked = sweep_in_child(cfg, at("2025-12-09 09:20"), full=False, timeout=60)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert locked.kind == FAILED and not locked.stopped
    assert locked.reason is not None and "the registry cannot be written (database is locked)" in locked.reason
    swept = sweep_in_child(cfg, at("2025-12-09 09:30"), full=False, timeout=60)
    assert swept.kind == SWEPT and swept.reason is None and swept.report is not None
    assert swept.report["result"] == "ok" and swept.report["counts"] == {"application": 1}
    assert ledger(deploy, on_server=1) == {"application": 1}
