"""The command line and the mail read well in Thai (issue 15): tables measured
in display cells, colour only on a terminal, a progress bar only on a terminal,
``status`` in words, ``outbox show`` printing a sent mail, one dpi rounding for
the acknowledgement and the listings, the reason receipt was deemed later in
both languages, and a demo whose table fits 120 columns and whose counts add up."""

from __future__ import annotations

import io
import json
import re
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import pytest
from click.testing import CliRunner

from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import load
from mailintake.base.wording import whole_dpi
from mailintake.cli import cli, output
from mailintake.cli.output import SweepProgress, colour_wanted, sweep_progress
from mailintake.intake.check import FileCheck
from mailintake.intake.respond import Responder, deemed_later, receipt_by_mailbox
from mailintake.intake.source import MaildirSource
from mailintake.intake.sweep import run_sweep
from mailintake.ops.listings import PAYMENTS, PERMITS, demo_table, display_width, files_table
from mailintake.ops.status import counted, status_lines

ROOT = Path(__file__).parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo run once: its config and what it printed."""
    cfg = tmp_path_factory.mktemp("reading") / "config.toml"
    cfg.write_text((ROOT / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "demo"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return cfg, r.stdout


def _run(cfg: Path, *args: str, code: int = 0) -> str:
    r = CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
    assert r.exit_code == code, r.output
    return r.output


# --- status ------------------------------------------------------------------------------------
def test_status_is_words_and_numbers(demo: tuple[Path, str]) -> None:
    cfg, _ = demo
    text = _run(cfg, "status", "--no-live")
    assert "{" not in text and "}" not in text
    lines = text.splitlines()
    assert "Messages:     4 applications, 1 auto-reply, 1 spam" in lines
    assert "Applications: 4 (4 received); all acknowledged" in lines
    assert "Outbox:       4 sent" in lines
    # The values start in one column.
    assert len({line.index(":") + 1 + len(line.split(":", 1)[1]) - len(line.split(":", 1)[1].lstrip()) for line in lines}) == 1
    data = json.loads(_run(cfg, "status", "--no-live", "--json"))
    assert data["messages"] == {"application": 4, "autoreply": 1, "spam": 1}  # the JSON keeps its shape


def test_counts_read_as_words() -> None:
    assert counted({"application": 1}) == "1 application"
    assert counted({"autoreply": 2, "application": 5, "bounce": 1}) == "5 applications, 2 auto-replies, 1 delivery report"
    assert counted({}) == "none" and counted(None, empty="empty") == "empty"
    data = {
        "last_sweep": None,
        "last_full_sweep": None,
        "backlog": {"INBOX": 3, "Junk": 0},
        "messages": {},
        "applications": {},
        "unacknowledged": 0,
        "outbox": {"failed": 1},
        "quota": {"used_kb": 51200, "limit_kb": 1048576, "percent": 4.9},
        "warnings": ["1 outgoing message(s) failed"],
    }
    lines = status_lines(data)
    assert "Backlog:      3 in INBOX" in lines and "Quota:        4.9% used (50 MB of 1,024 MB)" in lines
    assert lines[-1] == "WARNING: 1 outgoing message(s) failed"
    assert not any("{" in line for line in lines)


# --- outbox show -------------------------------------------------------------------------------
def test_outbox_show_prints_the_sent_mail_in_thai(demo: tuple[Path, str]) -> None:
    cfg, _ = demo
    text = _run(cfg, "outbox", "show", "1")
    assert "Subject:     [SRB-2568-000001] ได้รับอีเมลของท่านแล้ว / Your email has been received" in text
    assert "To:          somchai.jaidee@example.com" in text
    # The agency's Thai name is split across encoded-words when composed; it reads whole.
    assert "From:        เทศบาลตำบลบ้านใหม่ / Ban Mai Subdistrict Municipality <saraban@banmai.go.th>" in text
    assert re.search(r"^Message-ID:  <srb-2568-000001\.ack\.", text, re.M)
    assert "เรียน ผู้ยื่นคำขอ" in text and "=?utf-8?" not in text.lower() and "=E0" not in text
    data = json.loads(_run(cfg, "outbox", "show", "1", "--json"))
    assert {"from", "to", "subject", "date", "message_id", "text", "attachments"} <= set(data)
    assert data["subject"].startswith("[SRB-2568-000001] ได้รับอีเมลของท่านแล้ว") and "เรียน ผู้ยื่นคำขอ" in data["text"]
    assert data["attachments"] == []
    assert "no outgoing mail 99" in _run(cfg, "outbox", "show", "99", code=1)


def test_triage_show_points_to_outbox_show(demo: tuple[Path, str]) -> None:
    cfg, _ = demo
    text = _run(cfg, "triage", "show", "SRB-2568-000001")
    assert "mailintake outbox show ID" in text and re.search(r"^  ID 1 +ack +sent", text, re.M)


# --- colour and progress: on a terminal only ---------------------------------------------------
class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color() -> None:
    assert colour_wanted(Tty(), {}) is True
    assert colour_wanted(io.StringIO(), {}) is False
    assert colour_wanted(Tty(), {"NO_COLOR": "1"}) is False
    assert colour_wanted(Tty(), {"NO_COLOR": ""}) is True  # no-color.org: set and not empty


def test_no_escape_codes_when_piped_or_with_no_color(demo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, _ = demo
    for args in (("triage", "list"), ("outbox", "list"), ("status", "--no-live"), ("triage", "files", "SRB-2568-000002")):
        assert "\x1b[" not in _run(cfg, *args)
    # Where stdout is a terminal, tables are painted unless NO_COLOR is set.
    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert output.painter() is not None
    monkeypatch.setenv("NO_COLOR", "1")
    assert output.painter() is None


def test_painted_table_keeps_its_columns() -> None:
    files = [
        {
            "name": "แบบคำขออนุญาตจัดงาน.pdf",
            "content_type": "application/pdf",
            "size": 1,
            "dpi": 299.6,
            "accepted": True,
            "problems": [],
        },
        {
            "name": "บัตรประชาชน.jpg",
            "content_type": "image/jpeg",
            "size": 2,
            "dpi": 110.0,
            "accepted": False,
            "problems": ["low_resolution"],
        },
    ]
    plain_lines = files_table(files)
    painted = files_table(files, lambda text, colour: click.style(text, fg=colour))
    assert "\x1b[" in painted[3] and "\x1b[" not in painted[2]
    assert [ANSI.sub("", line) for line in painted] == plain_lines


def test_progress_bar_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sweep_progress(as_json=True) is None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert sweep_progress(as_json=False) is None  # stderr is not a terminal: logs stay clean
    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    bar = sweep_progress(as_json=False)
    assert isinstance(bar, SweepProgress)
    bar("Junk", 0, 2)  # a few messages: no bar
    bar("Junk", 2, 2)
    assert tty.getvalue() == ""
    for done in range(12):
        bar("INBOX", done, 11)
    bar.close()
    assert "INBOX" in tty.getvalue() and "11/11" in tty.getvalue()


def test_the_sweep_reports_progress_per_folder(tmp_path: Path) -> None:
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text((ROOT / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    cfg = load(cfg_path)
    samples = ROOT / "samples"
    index = tomllib.loads((samples / "index.toml").read_text(encoding="utf-8"))
    box = MaildirSource(cfg.mailbox)
    for item in index["sample"]:
        box.add(item["folder"], (samples / item["file"]).read_bytes(), datetime.fromisoformat(item["received"]))
    seen: list[tuple[str, int, int]] = []
    run_sweep(cfg, datetime.fromisoformat(index["now"]), progress=lambda *a: seen.append(a))
    last: dict[str, tuple[int, int]] = {}
    for folder, done, total in seen:
        assert 0 <= done <= total
        last[folder] = (done, total)
    assert last == {"Junk": (2, 2), "INBOX": (5, 5)}


# --- one dpi ----------------------------------------------------------------------------------
def test_one_rounding_rule_for_dpi() -> None:
    assert [whole_dpi(d) for d in (299.4, 299.5, 299.6, 298.5, None)] == [299, 300, 300, 299, None]
    responder = Responder.__new__(Responder)
    responder.cfg = SimpleNamespace(limits=SimpleNamespace(ack_max_files=10))  # type: ignore[assignment]
    fc = FileCheck("scan.pdf", 1, "application/pdf", "application/pdf", "pdf", True, 299.6)
    listed = responder.listed_files([fc])["files"]
    assert listed[0].dpi == 300
    row = files_table(
        [{"name": "scan.pdf", "content_type": "application/pdf", "size": 1, "dpi": 299.6, "accepted": True, "problems": []}]
    )
    assert re.search(r"\b300\b", row[2]) and "299" not in row[2]


def test_the_acknowledgement_says_the_dpi_the_cli_says(demo: tuple[Path, str]) -> None:
    cfg, _ = demo
    files = json.loads(_run(cfg, "triage", "files", "SRB-2568-000001", "--json"))
    table = _run(cfg, "triage", "files", "SRB-2568-000001").splitlines()[2:]
    ack = _run(cfg, "outbox", "show", "1")
    for f, line in zip(files, table, strict=True):
        shown = whole_dpi(f["dpi"])
        assert f" {shown} " in f" {line} "
        if f["kind"] == "stamped":  # the office's stamped copy (issue 16): listed, never in the acknowledgement
            continue
        assert f"{f['name']} - ใช้ได้ ({shown} dpi)" in ack and f"{f['name']} - accepted ({shown} dpi)" in ack


# --- why receipt was deemed later ---------------------------------------------------------------
def test_the_reason_in_thai_and_english_from_the_stored_reason(demo: tuple[Path, str]) -> None:
    cfg = load(demo[0])
    cal = WorkCalendar(cfg.hours)
    received = datetime.fromisoformat("2025-12-04T18:05:00+07:00")  # Thursday evening before Father's Day
    stored = f"received by the mailbox at Thu 4 Dec 18:05 (no trusted Received header); {cal.deadline(received).reason}"
    th, en = zip(*deemed_later(stored, received.date(), cfg.hours), strict=True)
    assert th == ("ได้รับอีเมลหลังเวลาทำการ (08.30–16.30 น.)", "วันศุกร์ที่ 5 ธันวาคม 2568 เป็นวันหยุดราชการ (วันพ่อแห่งชาติ)")
    assert en == ("it arrived after office hours (08:30–16:30)", "Friday 5 December 2025 is a public holiday (Father's Day)")
    assert receipt_by_mailbox(stored) is not None
    saturday = cal.deadline(datetime.fromisoformat("2025-12-06T10:12:00+07:00")).reason
    assert (
        deemed_later(saturday, datetime(2025, 12, 6).date(), cfg.hours)[0][1]
        == "it arrived on Saturday 6 December 2025, not a working day"
    )
    in_hours = cal.deadline(datetime.fromisoformat("2025-12-09T10:00:00+07:00")).reason
    assert deemed_later(in_hours, datetime(2025, 12, 9).date(), cfg.hours) == []


def test_the_acknowledgement_gives_the_reason(demo: tuple[Path, str]) -> None:
    cfg, _ = demo
    ack = _run(cfg, "outbox", "show", "1")  # received Thursday 18:05, after hours
    assert "เหตุผล: ได้รับอีเมลหลังเวลาทำการ (08.30–16.30 น.) และวันศุกร์ที่ 5 ธันวาคม 2568 เป็นวันหยุดราชการ (วันพ่อแห่งชาติ)" in ack
    assert "Why: it arrived after office hours (08:30–16:30); Friday 5 December 2025 is a public holiday (Father's Day)" in ack
    assert "when our mailbox stored the email" in ack and "เวลาที่กล่องอีเมลของหน่วยงานบันทึกไว้" in ack


# --- the demo and the tables ---------------------------------------------------------------------
def test_the_demo_fits_120_columns_and_its_counts_add_up(demo: tuple[Path, str]) -> None:
    _, text = demo
    lines = text.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("TRANSACTION"))) :]
    table = table[: table.index("")]
    assert len(table) == 2 + 4 and max(display_width(line) for line in table) <= 120
    count = next(line for line in lines if " emails: " in line)
    total, rest = count.split(" emails: ")
    listed = rest.split(", with ")[0]
    assert int(total) == 6 == sum(int(part.split()[0]) for part in listed.split(", "))
    assert listed == "4 applications, 1 auto-reply, 1 spam (deleted)"
    assert ", with 1 of them rescued from Junk" in count


def _cell_starts(line: str, cells: list[str]) -> list[int]:
    """The display column each cell's text starts at."""
    starts, at = [], 0
    for cell in cells:
        at = line.index(cell, at)
        starts.append(display_width(line[:at]))
        at += len(cell)
    return starts


THAI_NAMES = ["นางสาวพิมพ์ใจ ศรีสุข", "สมชาย ใจดี", "Alice Smith", "น้ำใส ปิ่นทอง"]


@pytest.mark.parametrize(
    ("table", "row", "last"),
    [
        (
            files_table,
            lambda name: {
                "name": f"{name}.pdf",
                "content_type": "application/pdf",
                "size": 9,
                "dpi": None,
                "accepted": True,
                "problems": [],
            },
            "ok",
        ),
        (
            lambda rows: PERMITS.lines(rows),
            lambda name: {
                "number": "BM-2568-0001",
                "transaction_id": "SRB-2568-000001",
                "service": "event-permit",
                "holder_name": name,
                "valid_until": "2026-01-31",
                "status": "issued",
            },
            "issued",
        ),
        (
            lambda rows: PAYMENTS.lines(rows),
            lambda name: {
                "transaction_id": "SRB-2568-000001",
                "applicant_email": f"{name}@example.com",
                "fee_amount": 500,
                "slip_received_at": None,
                "slips": [{"name": f"สลิป {name}.jpg"}],
            },
            None,
        ),
    ],
    ids=["triage files", "permit list", "payments list"],
)
def test_thai_names_keep_the_columns(table: Any, row: Any, last: str | None) -> None:
    lines = table([row(name) for name in THAI_NAMES])
    widths = {display_width(line) for line in lines[2:]}
    if last is not None:
        assert len(widths) == 1, lines  # every row ends in the same column
        starts = {display_width(line[: line.rindex(last)]) for line in lines[2:]}
        assert len(starts) == 1, lines
    assert display_width(lines[1]) == display_width(lines[0])


def test_the_demo_table_lines_up(demo: tuple[Path, str]) -> None:
    cfg, _ = demo
    rows = json.loads(_run(cfg, "triage", "list", "--json"))
    lines = demo_table(rows)
    starts = {tuple(_cell_starts(line, line.split()[:1] + [line.split()[2]])) for line in lines[2:]}
    assert len(starts) == 1
