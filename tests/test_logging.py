"""Quiet, structured logs: our own loggers at INFO, libraries at WARNING, and
``--log-format json`` as one JSON object a line. The commands run as a real
process (``python -m mailintake``), as an admin or journald sees them: in
pytest's own process the test runner's logging set-up would hide the noise."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Env
from test_permits import APPROVER, approved_certification

from mailintake.base import logs

ROOT = Path(__file__).resolve().parents[1]


def mailintake(env: Env, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailintake", "--config", str(env.config), *args],
        capture_output=True,
        text=True,
        cwd=env.tmp,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})},
        timeout=120,
    )


def test_permit_issue_prints_no_font_subsetting_lines(deploy: Env) -> None:
    tid = approved_certification(deploy)
    done = mailintake(deploy, "permit", "issue", tid, "--now", "2025-12-09T11:00:00+07:00", extra_env=APPROVER)
    assert done.returncode == 0, done.stderr
    assert "fontTools" not in done.stderr
    assert not [line for line in done.stderr.splitlines() if " INFO " in line and " mailintake." not in line]


def test_the_daemon_logs_json_lines_without_scheduler_chatter(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)  # a Maildir mailbox and no SMTP: nothing leaves the machine
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "mail" / sub).mkdir(parents=True, exist_ok=True)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "mailintake", "--log-format", "json", "--config", str(env.config), "run"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(4)  # start-up, and the first poll's sweep in its child
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines, "the daemon logged nothing"
    for entry in lines:
        assert {"time", "level", "logger", "message"} <= entry.keys()
        assert entry["logger"].startswith("mailintake") or entry["level"] in ("WARNING", "ERROR", "CRITICAL"), entry
    messages = [e["message"] for e in lines]
    assert any(m.startswith("mailintake daemon started") for m in messages)
    assert not [e for e in lines if e["logger"].startswith("apscheduler")]


@pytest.fixture
def captured() -> io.StringIO:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    logs.configure("INFO", handler=handler)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def test_lines_about_a_message_carry_its_folder_uid_and_transaction_id(captured: io.StringIO) -> None:
    log = logging.getLogger("mailintake.intake.pipeline")
    log.info("before any message")
    with logs.about_message(folder="INBOX", uid=42):
        logging.getLogger("mailintake.intake.sandbox").warning("scan.pdf: unreadable")
        logs.note_transaction("SRB-2568-000007")
        log.info("registered")
    log.info("quarantined", extra=logs.about(folder="Junk", uid="9"))
    first, unreadable, registered, quarantined = (json.loads(line) for line in captured.getvalue().splitlines())
    assert "folder" not in first and first["level"] == "INFO" and first["logger"] == "mailintake.intake.pipeline"
    assert (unreadable["folder"], unreadable["uid"], unreadable.get("transaction_id")) == ("INBOX", "42", None)
    assert (registered["folder"], registered["uid"], registered["transaction_id"]) == ("INBOX", "42", "SRB-2568-000007")
    assert (quarantined["folder"], quarantined["uid"]) == ("Junk", "9")


def test_libraries_speak_only_from_warning(captured: io.StringIO) -> None:
    logging.getLogger("fontTools.subset").info("Glyph names: [...]")
    logging.getLogger("apscheduler.scheduler").info("Adding job tentatively")
    logging.getLogger("mailparser.core").warning("Email content 'multipart/report' not handled")
    logging.getLogger("mailintake.ops.daemon").info("ours")
    logging.getLogger("pikepdf").warning("a library's warning still shows")
    assert [json.loads(line)["message"] for line in captured.getvalue().splitlines()] == [
        "ours",
        "a library's warning still shows",
    ]


def test_text_lines_name_the_message_after_the_text() -> None:
    record = logging.makeLogRecord(
        {"name": "mailintake.x", "levelno": logging.WARNING, "levelname": "WARNING", "msg": "quarantined at check"}
    )
    record.folder, record.uid, record.transaction_id = "INBOX", "42", "SRB-2568-000001"
    assert logs.TextFormatter().format(record).endswith("WARNING mailintake.x: quarantined at check [SRB-2568-000001 INBOX/42]")


# --- light start-up -----------------------------------------------------------------------------
def test_help_summaries_are_the_commands_own_first_sentences() -> None:
    from mailintake.cli import COMMANDS, cli

    assert set(cli.commands) == set(COMMANDS)
    for name, (_module, _attribute, summary) in COMMANDS.items():
        assert cli.commands[name].get_short_help_str(limit=10_000) == summary, name


def test_help_loads_no_pdf_image_signing_or_scheduling_library() -> None:
    code = (
        "import sys\n"
        "from mailintake.cli import main\n"
        "sys.argv = ['mailintake', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('pikepdf', 'PIL', 'fpdf', 'fontTools', 'pyhanko', 'apscheduler', 'sqlite_utils', 'mailparser')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    assert done.stdout.splitlines()[-1] == "", done.stdout
