"""Failure is visible: bad storage paths are one line naming the key; `status`
shows how the last sweep ended and why; the daemon logs failures at ERROR,
runs the full sweep it missed, and alerts the admin after failed sweeps in a row."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Env
from mails import at, mail
from servers import SmtpSink, free_port

from mailintake.base.config import load
from mailintake.base.data.db import Registry
from mailintake.cli import cli
from mailintake.intake.sweep import sweep_lock
from mailintake.ops.daemon import Daemon

BKK = "+07:00"
COMMANDS = [("sweep", "--now", "2025-12-09T09:00"), ("status",), ("triage", "list"), ("run",)]


def cli_run(config: Path, *args: str) -> tuple[int, str]:
    # catch_exceptions=False: a traceback fails the test instead of hiding in the result.
    r = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return r.exit_code, r.output


def maildir_config(tmp: Path, storage: str) -> Path:
    cfg = tmp / "config.toml"
    cfg.write_text(
        f'[mailbox]\nkind = "maildir"\npath = "{tmp}/mail"\n[storage]\npath = "{storage}"\n[deployment]\nmode = "test"\n'
    )
    cfg.chmod(0o600)
    return cfg


def assert_one_line_naming_the_key(code: int, out: str, detail: str) -> None:
    assert code == 2, out
    assert len(out.strip().splitlines()) == 1, out
    assert out.startswith("Error: config.toml: [storage] path: "), out
    assert detail in out and "Traceback" not in out


# --- one line for every bad path ----------------------------------------------------------------
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0] if len(a) < 3 else " ".join(a[:2]))
def test_a_registry_file_that_is_not_sqlite_is_one_line_and_left_alone(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "var").mkdir()
    db = tmp_path / "var" / "mailintake.db"
    db.write_text("these are my notes, not a database\n")
    code, out = cli_run(maildir_config(tmp_path, f"{tmp_path}/var"), *args)
    assert_one_line_naming_the_key(code, out, f"{db} is not an SQLite database")
    assert db.read_text() == "these are my notes, not a database\n"
    assert not [p.name for p in db.parent.iterdir() if p.name.startswith("mailintake.db-")]  # no -wal, -shm, -journal


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0] if len(a) < 3 else " ".join(a[:2]))
def test_a_storage_path_whose_parent_does_not_exist(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, out = cli_run(maildir_config(tmp_path, f"{tmp_path}/typo/var"), *args)
    assert_one_line_naming_the_key(code, out, f"{tmp_path}/typo does not exist")
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0] if len(a) < 3 else " ".join(a[:2]))
def test_a_storage_path_that_is_a_file(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "var").write_text("a file\n")
    code, out = cli_run(maildir_config(tmp_path, f"{tmp_path}/var"), *args)
    assert_one_line_naming_the_key(code, out, f"{tmp_path}/var is a file, not a directory")
    assert (tmp_path / "var").read_text() == "a file\n"


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A storage directory with a registry in it, made read-only by a read-only
    bind mount (root ignores permission bits, not a read-only mount)."""
    storage = tmp_path / "var"
    cfg = maildir_config(tmp_path, str(storage))
    assert cli_run(cfg, "sweep", "--now", "2025-12-09T09:00")[0] == 0
    # The suite runs as root (CI does, and Dovecot's setup needs it too).
    assert os.geteuid() == 0, "this test makes a read-only bind mount: run the suite as root"
    subprocess.run(["mount", "--bind", str(storage), str(storage)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(storage)], check=True)
        yield storage
    finally:
        subprocess.run(["umount", str(storage)], check=True)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0] if len(a) < 3 else " ".join(a[:2]))
def test_an_unwritable_storage_directory(tmp_path: Path, read_only: Path, args: tuple[str, ...]) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in read_only.iterdir()}
    code, out = cli_run(tmp_path / "config.toml", *args)
    assert_one_line_naming_the_key(code, out, f"{read_only} is not writable by this user")
    assert {p.name: p.stat().st_mtime_ns for p in read_only.iterdir()} == before


# --- status shows how the last sweep ended ------------------------------------------------------
def unreachable(env: Env) -> int:
    """Point the deployment at a loopback port nobody listens on; returns the real port."""
    assert env.mailbox is not None
    port = env.mailbox.server.port
    env.config.write_text(env.config.read_text().replace(f"port = {port}\n", f"port = {free_port()}\n", 1))
    return port


def reachable(env: Env, port: int) -> None:
    text = env.config.read_text()
    start = text.index("[mailbox]")
    head, tail = text[:start], text[start:]
    line = next(ln for ln in tail.splitlines() if ln.startswith("port = "))
    env.config.write_text(head + tail.replace(line, f"port = {port}", 1))


def test_a_sweep_that_cannot_reach_the_mailbox_fails_visibly(deploy: Env) -> None:
    port = unreachable(deploy)
    r = deploy.run("sweep", "--now", "2025-12-09T09:00:00+07:00", ok=False)
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [r.output.strip().splitlines()[-1]]
    assert r.output.startswith("Error: cannot reach IMAP server 127.0.0.1:")

    status = deploy.json("status")
    last = status["last_sweep"]
    assert (last["result"], last["full"], last["clock"]) == ("failed", True, "2025-12-09T09:00:00+07:00")
    assert last["reason"].startswith("mailbox unreachable: cannot reach IMAP server 127.0.0.1:")
    assert status["failed_in_row"] == 1
    assert any(w.startswith("the last sweep failed: mailbox unreachable") for w in status["warnings"])
    text = deploy.run("status").output
    assert "Last sweep:   FAILED (full, 2025-12-09T09:00:00+07:00): mailbox unreachable: cannot reach IMAP" in text

    reachable(deploy, port)
    assert deploy.mailbox is not None
    deploy.mailbox.append(mail("คำขอ").as_bytes(), at("2025-12-09 09:10"))
    deploy.run("sweep", "--now", "2025-12-09T09:15:00+07:00", "--inbox-only")
    status = deploy.json("status")
    last = status["last_sweep"]
    assert (last["result"], last["reason"], last["full"]) == ("ok", None, False)
    assert last["counts"] == {"application": 1} and last["errors"] == 0
    assert status["failed_in_row"] == 0 and status["last_full_sweep"]["result"] == "failed"
    text = deploy.run("status").output
    assert "Last sweep:   ok (INBOX only, 2025-12-09T09:15:00+07:00): 1 application" in text
    assert "Full sweep:   FAILED (full, 2025-12-09T09:00:00+07:00)" in text


def sweep_process(env: Env, now: str, fault: str | None = None, mark: Path | None = None) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_FAULT")}
    if fault:
        environ["MAILINTAKE_FAULT"] = fault
    if mark:
        environ["MAILINTAKE_FAULT_MARK"] = str(mark)
    return subprocess.Popen(
        [sys.executable, "-m", "mailintake", "--config", str(env.config), "sweep", "--now", now],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )


def test_a_running_sweep_then_killed_shows_running_then_did_not_finish(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.mailbox.append(mail("คำขอ").as_bytes(), at("2025-12-09 09:00"))
    mark = deploy.tmp / "stalled.pid"
    proc = sweep_process(deploy, "2025-12-09T09:05:00+07:00", fault="after_fetch:1:stall", mark=mark)
    try:
        deadline = time.monotonic() + 30
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for an observable event: the sweep says where it stopped
        assert mark.exists(), "the sweep never reached the fetched message"
        last = deploy.json("status")["last_sweep"]
        assert (last["result"], last["clock"], last["finished_at"]) == ("running", "2025-12-09T09:05:00+07:00", None)
        assert "running (sweep, started 2025-12-09T09:05:00+07:00)" in deploy.run("status").output
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    status = deploy.json("status")
    last = status["last_sweep"]
    assert last["result"] == "did not finish" and last["started_at"] and last["finished_at"] is None
    assert "killed, timed out or out of memory" in last["reason"]
    assert status["failed_in_row"] == 1
    assert "Last sweep:   DID NOT FINISH (sweep, 2025-12-09T09:05:00+07:00)" in deploy.run("status").output


# --- the daemon ---------------------------------------------------------------------------------
def clock(iso: str):  # type: ignore[no-untyped-def]
    moment = datetime.fromisoformat(iso)
    return lambda: moment


def test_the_daemon_logs_a_failed_sweep_at_error_and_a_busy_one_at_info(deploy: Env, caplog: pytest.LogCaptureFixture) -> None:
    cfg = load(deploy.config)
    daemon = Daemon(cfg, clock=clock("2025-12-09T09:00:00+07:00"))
    with caplog.at_level(logging.INFO, logger="mailintake.ops.daemon"):
        with sweep_lock(cfg.storage_path, wait=False):
            daemon.poll()
        busy = [r for r in caplog.records if "another sweep is running" in r.getMessage()]
        assert busy and all(r.levelno == logging.INFO for r in busy)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        caplog.clear()

        unreachable(deploy)
        daemon = Daemon(load(deploy.config), clock=clock("2025-12-09T09:02:00+07:00"))
        daemon.poll()
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("cannot reach IMAP server" in m for m in errors), caplog.text
    reg = Registry(cfg.db_path)
    assert deploy.json("status")["failed_in_row"] == 1  # the busy poll was not a failure
    reg.close()


def test_the_daemon_records_a_sweep_killed_under_it(
    deploy: Env, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert deploy.mailbox is not None
    deploy.mailbox.append(mail("คำขอ").as_bytes(), at("2025-12-09 09:00"))
    monkeypatch.setenv("MAILINTAKE_FAULT", "after_fetch:1")  # the child sweep dies by SIGKILL there
    daemon = Daemon(load(deploy.config), clock=clock("2025-12-09T09:05:00+07:00"))
    with caplog.at_level(logging.INFO, logger="mailintake.ops.daemon"):
        daemon.poll()
    assert any(r.levelno == logging.ERROR for r in caplog.records), caplog.text
    last = deploy.json("status")["last_sweep"]
    assert (last["result"], last["reason"], last["full"]) == ("failed", "killed by SIGKILL", False)


def test_a_daemon_started_late_runs_the_missed_full_sweep(deploy: Env) -> None:
    assert deploy.mailbox is not None
    # Not spam by the server's verdict: only a full sweep looks in Junk (R22).
    deploy.mailbox.append(mail("คำขอในกล่องขยะ").as_bytes(), at("2025-12-09 07:00"), folder="Junk")
    cfg = load(deploy.config)
    for iso in ("2025-12-09T08:29:00+07:00", "2025-12-10T09:00:00+07:00"):  # before 08:30; a public holiday
        assert Daemon(cfg, clock=clock(iso)).catch_up() is False
    assert deploy.json("status")["last_sweep"] is None

    assert Daemon(cfg, clock=clock("2025-12-09T09:10:00+07:00")).catch_up() is True
    last = deploy.json("status")["last_sweep"]
    assert (last["result"], last["full"], last["clock"]) == ("ok", True, "2025-12-09T09:10:00+07:00")
    assert deploy.mailbox.folder("Junk") == {}
    assert len(deploy.json("triage", "list")) == 1
    # Restarted again that morning: the sweep has run since 08:30.
    assert Daemon(cfg, clock=clock("2025-12-09T11:00:00+07:00")).catch_up() is False
    # Started after 13:30 with nothing since: the afternoon sweep runs.
    assert Daemon(cfg, clock=clock("2025-12-09T14:00:00+07:00")).catch_up() is True
    assert deploy.json("status")["last_full_sweep"]["clock"] == "2025-12-09T14:00:00+07:00"


def admin_mail(sink: SmtpSink) -> list[str]:
    from email.header import decode_header, make_header

    return [str(make_header(decode_header(m["Subject"]))) for m in sink.messages() if m["To"] == "admin@banmai.go.th"]


def test_failed_sweeps_in_a_row_email_the_admin_once_and_again_on_recovery(deploy: Env) -> None:
    assert deploy.smtp is not None
    deploy.config.write_text(deploy.config.read_text() + '\n[daemon]\nadmin_email = "admin@banmai.go.th"\n')
    port = unreachable(deploy)

    def poll(minute: int) -> None:
        Daemon(load(deploy.config), clock=clock(f"2025-12-09T09:{minute:02d}:00+07:00")).poll()

    poll(0)
    poll(2)
    assert admin_mail(deploy.smtp) == []
    poll(4)
    assert admin_mail(deploy.smtp) == ["mailintake: รับอีเมลไม่สำเร็จ 3 ครั้งติดต่อกัน / 3 sweeps failed in a row"]
    [alert] = [m for m in deploy.smtp.messages()]
    body = alert.get_payload(decode=True).decode()
    assert "cannot reach IMAP server 127.0.0.1:" in body and "2025-12-09T09:00:00+07:00" in body
    poll(6)  # a 4th failure: no new mail
    assert len(deploy.smtp.received) == 1
    assert deploy.json("status")["failed_in_row"] == 4

    reachable(deploy, port)
    poll(8)
    assert admin_mail(deploy.smtp)[1:] == ["mailintake: การรับอีเมลกลับมาทำงานแล้ว / sweeps work again"]
    assert len(deploy.smtp.received) == 2
    poll(10)
    assert len(deploy.smtp.received) == 2
    assert deploy.json("status")["failed_in_row"] == 0


def test_the_streak_survives_a_restart_and_counts_cli_sweeps(deploy: Env) -> None:
    assert deploy.smtp is not None
    deploy.config.write_text(
        deploy.config.read_text() + '\n[daemon]\nadmin_email = "admin@banmai.go.th"\nalert_after_failed_sweeps = 2\n'
    )
    unreachable(deploy)
    deploy.run("sweep", "--now", "2025-12-09T09:00:00+07:00", ok=False)  # by hand, no daemon running
    Daemon(load(deploy.config), clock=clock("2025-12-09T09:05:00+07:00")).poll()  # a new daemon process
    assert len(admin_mail(deploy.smtp)) == 1
