"""Configuration errors name the key (exit 2); environment overrides; every
command has help text with an example; misuse gives one line, not a traceback."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mailintake.base.config import ConfigError, load
from mailintake.cli import cli


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), env=env)
    return r.exit_code, r.output


@pytest.mark.parametrize(
    "text,message",
    [
        ('[hours]\nopen = "8h"\n', "config.toml: [hours] open: expected HH:MM, got '8h'"),
        ('[mailbox]\nkind = "pop3"\n', "config.toml: [mailbox] kind: expected one of imap, maildir, got 'pop3'"),
        ('[mailbox]\nkind = "imap"\nhost = ""\n', "config.toml: [mailbox] host: must not be empty, got ''"),
        (
            '[hours]\ntimezone = "Mars/Olympus"\n',
            "config.toml: [hours] timezone: expected an IANA time zone such as Asia/Bangkok, got 'Mars/Olympus'",
        ),
        (
            '[ids]\nformat = "{prefix}-{nonsense}"\n',
            "config.toml: [ids] format: bad format field 'nonsense'; use {prefix} {be_year} {year} {seq}, got '{prefix}-{nonsense}'",
        ),
        ('[agency]\ncolour = "blue"\n', "config.toml: [agency] colour: unknown key"),
        (
            '[hours]\nextra_holidays = ["2025-13-45"]\n',
            "config.toml: [hours] extra_holidays: '2025-13-45' is not a date (YYYY-MM-DD)",
        ),
        ("[hours\n", "not valid TOML"),
        ('[checks]\nallowed_types = ["pdf", "exe"]\n', "unknown type 'exe'"),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_key_and_exit_2(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    code, out = run("--config", str(cfg), "triage", "list")
    assert code == 2
    assert message in out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out


def test_missing_config_file(tmp_path: Path) -> None:
    code, out = run("--config", str(tmp_path / "nope.toml"), "status")
    assert code == 2 and "config file not found" in out


def test_environment_overrides_and_passwords_never_shown(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[mailbox]\nkind = "imap"\nhost = "mail.example.go.th"\nusername = "saraban"\n')
    loaded = load(
        cfg,
        environ={"MAILINTAKE_MAILBOX_PASSWORD": "s3cret!", "MAILINTAKE_MAILBOX_PORT": "10993", "MAILINTAKE_HOURS_OPEN": "08:00"},
    )
    assert loaded.mailbox.password == "s3cret!" and loaded.mailbox.port == 10993
    assert loaded.hours.open.hour == 8
    assert "s3cret!" not in repr(loaded.mailbox)
    with pytest.raises(ConfigError, match="MAILINTAKE_MAILBOX_PORT: expected a whole number"):
        load(cfg, environ={"MAILINTAKE_MAILBOX_PORT": "many"})


def test_plain_imap_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[mailbox]\nkind = "imap"\nhost = "mail.example.go.th"\nusername = "u"\nsecurity = "none"\n')
    with pytest.raises(ConfigError, match="only for a loopback host"):
        load(cfg, environ={})


def test_unreachable_mailbox_is_one_line(tmp_path: Path) -> None:
    from servers import free_port

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[mailbox]\nkind = "imap"\nhost = "127.0.0.1"\nport = {free_port()}\nsecurity = "none"\n'
        f'username = "u"\npassword = "topsecret"\n[storage]\npath = "{tmp_path}/var"\n'
    )
    code, out = run("--config", str(cfg), "sweep")
    assert code == 1
    assert out.strip().splitlines()[-1].startswith("Error: cannot reach IMAP server 127.0.0.1:")
    assert "topsecret" not in out and "Traceback" not in out


def test_bad_now_and_unknown_id(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[mailbox]\npath = "{tmp_path}/mail"\n[storage]\npath = "{tmp_path}/var"\n')
    code, out = run("--config", str(cfg), "sweep", "--now", "yesterday")
    assert code == 2 and "'yesterday' is not an ISO 8601 time" in out
    code, out = run("--config", str(cfg), "triage", "show", "SRB-2568-999999")
    assert code == 1 and out.strip() == "Error: no application SRB-2568-999999"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
    return out


@pytest.mark.parametrize("path,cmd", _commands(cli), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_with_an_example(path: tuple[str, ...], cmd: click.Command) -> None:
    code, out = run(*path, "--help")
    assert code == 0
    assert "Example: mailintake" in out, f"`mailintake {' '.join(path)} --help` has no example"


def test_every_listing_has_json() -> None:
    for path in (("triage", "list"), ("triage", "show"), ("outbox", "list"), ("quarantine", "list"), ("status",)):
        assert "--json" in run(*path, "--help")[1]


def test_rules_check(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mail.toml").write_text('[[spam.rules]]\nheader = "X-Spam-Flag"\nregex = "(unclosed"\n')
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[agency]\nrules_dir = "{rules}"\n[storage]\npath = "{tmp_path}/var"\n')
    code, out = run("--config", str(cfg), "rules", "check")
    assert code == 1 and "mail.toml: [[spam.rules]] #1: regex: bad regular expression" in out
    code, out = run("--config", str(Path(__file__).parent.parent / "config.toml"), "rules", "check")
    assert code == 0 and "mail.toml: ok" in out and "tm30.toml: ok (TM30" in out


def test_rules_check_reads_the_page_templates_too(tmp_path: Path) -> None:
    """An office's edited page of the public site (templates/site/) or of the
    monthly report (templates/report/) is checked with the mail templates."""
    site = tmp_path / "templates" / "site"
    site.mkdir(parents=True)
    (site / "home.html.j2").write_text("{% extends 'base.html.j2' %}\n{% block th %}{{ agency.name_th }\n", encoding="utf-8")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[storage]\npath = "{tmp_path}/var"\n')
    r = CliRunner().invoke(cli, ["--config", str(cfg), "rules", "check"])
    assert r.exit_code == 1
    assert f"{site / 'home.html.j2'}:2: unexpected '}}'" in r.output
    assert "report/monthly.html.j2: ok" in r.output  # the shipped page, found where the office has none


# --- checked configuration (issue 15) --------------------------------------------------------
@pytest.mark.parametrize(
    "text,message",
    [
        (
            '[agency]\ntemplates_dri = "templates"\n',
            "config.toml: [agency] templates_dri: unknown key (did you mean templates_dir?)",
        ),
        ('[agnecy]\nname_th = "x"\n', "config.toml: unknown key [agnecy] (did you mean [agency]?)"),
        ('templates_dir = "templates"\n', "config.toml: unknown key [templates_dir] (it belongs in [agency])"),
        ('[users]\nsomchai = { rols = ["clerk"] }\n', "config.toml: [users] somchai.rols: unknown key (did you mean roles?)"),
    ],
)
def test_an_unknown_key_or_section_names_the_nearest_known_one(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    assert run("--config", str(cfg), "triage", "list") == (2, f"Error: {message}\n")


def test_a_templates_or_rules_dir_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[agency]\ntemplates_dir = "templtes"\n')
    code, out = run("--config", str(cfg), "triage", "list")
    assert (code, out) == (
        2,
        f"Error: config.toml: [agency] templates_dir: no such directory {tmp_path}/templtes, got 'templtes'\n",
    )
    cfg.write_text(f'[agency]\nrules_dir = "{tmp_path}/nowhere"\n')
    code, out = run("--config", str(cfg), "triage", "list")
    assert code == 2 and out.startswith(f"Error: config.toml: [agency] rules_dir: no such directory {tmp_path}/nowhere")
    # The default (templates/ beside config.toml) is used when it is there, and missing is no error.
    cfg.write_text(f'[storage]\npath = "{tmp_path}/var"\n')
    assert load(cfg, environ={}).search_path("templates")[0].name == "templates"


SHIPPED = Path(__file__).parent.parent / "templates"


def _rules_check(tmp_path: Path, name: str, text: str) -> tuple[int, list[str], Path]:
    """``rules check`` with one template of the office's own, the rest shipped."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / name).write_text(text, encoding="utf-8")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[storage]\npath = "{tmp_path}/var"\n')
    r = CliRunner().invoke(cli, ["--config", str(cfg), "rules", "check"])
    return r.exit_code, r.output.splitlines(), templates


@pytest.mark.parametrize(
    "name,text,error",
    [
        ("ack.txt.j2", "เรียน {{ applicant_name }}\n{% if tid %}\n{{ tid }\n", "ack.txt.j2:3: unexpected '}'"),
        ("more.subject.j2", "[{{ tid }}] {{ no_such_field }}\n", "more.subject.j2:1: unknown variable 'no_such_field'"),
        (
            "ack.txt.j2",
            "{% for f in files %}{{ f.nmae }}{% endfor %}\n",
            "ack.txt.j2:1: 'mailintake.intake.check.FileCheck object' has no attribute 'nmae'",
        ),
        (
            "notices.toml",
            (SHIPPED / "notices.toml").read_text(encoding="utf-8").replace("[fee_due]", "[fee_owed]"),
            "notices.toml: no [fee_due] (the desk sends it)",
        ),
        (
            "notices.toml",
            (SHIPPED / "notices.toml").read_text(encoding="utf-8").replace("{{ permit.number }}", "{{ permit.numbr }}", 1),
            "notices.toml: [permit_pdf] subject_th:1: 'dict object' has no attribute 'numbr'",
        ),
        (
            "problems.toml",
            (SHIPPED / "problems.toml").read_text(encoding="utf-8").replace("{min_dpi} dpi)", "{min} dpi)"),
            "problems.toml: [low_resolution] th: unknown field {min}; it may use {name} {dpi} {min_dpi}",
        ),
    ],
    ids=["syntax", "unknown-variable", "unknown-attribute", "notice-missing", "notice-broken", "problem-field"],
)
def test_rules_check_renders_every_template_and_names_the_broken_one(tmp_path: Path, name: str, text: str, error: str) -> None:
    code, lines, templates = _rules_check(tmp_path, name, text)
    assert code == 1
    assert [line for line in lines if line.startswith("error:")] == [f"error: {templates}/{error}"]
    assert lines[-1] == "Error: 1 error(s) in rules"
    # What the office's directory lacks falls back to the shipped file, checked too.
    assert f"{SHIPPED}/oversized.txt.j2: ok" in lines


def test_rules_check_passes_on_the_shipped_templates() -> None:
    r = CliRunner().invoke(cli, ["--config", str(Path(__file__).parent.parent / "config.toml"), "rules", "check"])
    assert r.exit_code == 0 and "error" not in r.output
    for name in ("ack.txt.j2", "ack.html.j2", "notice.txt.j2", "verify.txt.j2", "notices.toml", "problems.toml"):
        assert f"{SHIPPED}/{name}: ok" in r.output.splitlines()
