"""The daemon as a real process, the JSON contract, the demo and Maildir intake."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner
from conftest import Env
from mails import at, mail

from mailintake.cli import cli

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def wait_for(condition, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    """Wait for an observable event with a deadline (not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_daemon_picks_up_new_mail_and_stops_cleanly_on_sigterm(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.config.write_text(deploy.config.read_text() + "\n[daemon]\npoll_seconds = 5\noutbox_seconds = 5\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailintake", "--config", str(deploy.config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deploy.mailbox.append(mail("ขออนุญาตผ่าน daemon").as_bytes(), at("2025-12-09 09:00"))
        assert wait_for(lambda: len(deploy.smtp.received) == 1), "no acknowledgement within 30 s"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "daemon started" in out and "stopped" in out
    assert len(deploy.json("triage", "list")) == 1


def test_triage_json_contract(deploy: Env) -> None:
    assert deploy.mailbox is not None
    from samples.make_samples import jpeg

    deploy.mailbox.append(
        mail("คำขอ", attachments=[("a.jpg", jpeg(2480, 3508, 300), "image/jpeg")]).as_bytes(), at("2025-12-09 09:00")
    )
    deploy.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    [app] = deploy.json("triage", "list")
    for key in (
        "transaction_id",
        "status",
        "service",
        "applicant_email",
        "subject",
        "received_at",
        "deemed_received_at",
        "ack_due_at",
        "acknowledged_at",
        "problems",
        "files",
    ):
        assert key in app, key
    for key in ("received_at", "deemed_received_at", "ack_due_at", "acknowledged_at"):
        assert ISO.match(app[key]), (key, app[key])
    assert isinstance(app["problems"], list)
    [f] = app["files"]
    assert {k: f[k] for k in ("name", "content_type", "accepted", "dpi", "problem")} == {
        "name": "a.jpg",
        "content_type": "image/jpeg",
        "accepted": True,
        "dpi": 300.0,
        "problem": None,
    }
    shown = deploy.json("triage", "show", app["transaction_id"])
    assert [m["kind"] for m in shown["messages"]] == ["application"]
    assert ISO.match(shown["messages"][0]["internaldate"]) and ISO.match(shown["messages"][0]["fetched_at"])
    assert [e["action"] for e in shown["events"]] == ["registered", "ack_queued", "ack_sent"]
    assert all(ISO.match(e["at"]) for e in shown["events"])


def test_demo_from_a_fresh_directory(tmp_path: Path) -> None:
    root = Path(__file__).parent.parent
    cfg = tmp_path / "config.toml"
    cfg.write_text((root / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "demo"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "4 applications registered" in r.output
    assert "SRB-2568-000001" in r.output and "event-permit" in r.output and "tm30" in r.output
    outgoing = list((tmp_path / "var" / "outgoing" / "new").iterdir())
    assert len(outgoing) == 4
    again = CliRunner().invoke(cli, ["--config", str(cfg), "demo"])
    assert again.exit_code == 1 and "already delivered" in again.output
    r = CliRunner().invoke(cli, ["--config", str(cfg), "demo", "--fresh"])
    assert r.exit_code == 0 and "4 applications registered" in r.output


def test_maildir_intake_moves_done_mail_to_the_archive(tmp_path: Path) -> None:
    from mailintake.base.config import load
    from mailintake.intake.source import MaildirSource

    env = Env(tmp_path, None, None)
    cfg = load(env.config)
    box = MaildirSource(cfg.mailbox)
    box.add("INBOX", mail("คำขอ").as_bytes(), datetime.fromisoformat("2025-12-09T09:00:00+07:00"))
    env.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    [app] = env.json("triage", "list")
    assert app["received_at"] == "2025-12-09T09:00:00+07:00"
    assert box.pending("INBOX") == []
    assert len(box.pending("Archive")) == 1
    assert len(list((tmp_path / "var" / "outgoing" / "new").iterdir())) == 1
    assert len(box.pending("Sent")) == 1


def test_init_writes_an_editable_deployment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(cli, ["init", str(tmp_path / "site")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "site" / "config.toml").is_file()
    assert (tmp_path / "site" / "rules" / "mail.toml").is_file()
    assert (tmp_path / "site" / "templates" / "ack.txt.j2").is_file()
    monkeypatch.chdir(tmp_path / "site")
    r = CliRunner().invoke(cli, ["rules", "check"])
    assert r.exit_code == 0 and str(tmp_path / "site" / "rules" / "mail.toml") in r.output


def test_a_fresh_deployment_sweeps_before_anything_exists(tmp_path: Path) -> None:
    from mailintake.base.config import load
    from mailintake.intake.source import MaildirSource

    r = CliRunner().invoke(cli, ["init", str(tmp_path / "site")])
    assert r.exit_code == 0
    cfg = load(tmp_path / "site" / "config.toml")
    MaildirSource(cfg.mailbox).add("INBOX", mail("คำขอแรก").as_bytes(), datetime.fromisoformat("2025-12-09T09:00:00+07:00"))
    site = ["--config", str(tmp_path / "site" / "config.toml")]
    # init makes a production deployment: a sweep that changes the registry
    # acts at the clock, never at a --now (issue 11).
    r = CliRunner().invoke(cli, [*site, "sweep", "--now", "2025-12-09T09:30"])
    assert r.exit_code == 1 and 'marked [deployment] mode = "test"' in r.output
    r = CliRunner().invoke(cli, [*site, "sweep"])
    assert r.exit_code == 0 and "1 application" in r.output
