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
    code, out = run("--config", str(cfg), "sweep", "--now", "2025-12-09T09:00")
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
