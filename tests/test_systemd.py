"""A service an admin installs, and shell completion.

The README's "Deploy on a server" steps, as far as a machine without a running
systemd allows: ``mailintake init DIR --systemd`` writes a config.toml whose data
all lies in /var/lib/mailintake and a hardened unit that runs this very program;
the unit shipped in contrib/systemd/ is the same unit for /usr/local/bin; both
carry the hardening the README promises, and ``systemd-analyze verify`` (and its
offline security score) accepts the unit when systemd-analyze is installed. Shell
completion is click's, as the README documents it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailintake.base.config import load
from mailintake.cli import cli
from mailintake.cli.admin import DATA_DIR, unit_text

ROOT = Path(__file__).resolve().parent.parent
CONTRIB = ROOT / "contrib" / "systemd"
README = (ROOT / "README.md").read_text(encoding="utf-8")

# What the README promises of the unit: key -> the value it must have.
HARDENED = {
    "User": "mailintake",
    "Group": "mailintake",
    "ProtectSystem": "strict",
    "ReadWritePaths": str(DATA_DIR),
    "StateDirectory": "mailintake mailintake-audit",
    "RuntimeDirectory": "mailintake",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "PrivateDevices": "yes",
    "Restart": "on-failure",
    "UMask": "0077",
    "CapabilityBoundingSet": "",
    "StandardError": "journal",
    "SyslogIdentifier": "mailintake",
}


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as systemd reads it: sections of keys, each with every value
    it was given (a key may repeat, as SystemCallFilter= does)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"a key before any section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def check_hardened(text: str) -> dict[str, list[str]]:
    sections = unit_sections(text)
    assert set(sections) == {"Unit", "Service", "Install"}
    service = sections["Service"]
    for key, value in HARDENED.items():
        assert service.get(key) == [value], (key, service.get(key))
    [exec_start] = service["ExecStart"]
    assert re.fullmatch(r"\S+ --config /\S+/config\.toml run", exec_start), exec_start
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]
    return service


def program() -> list[str]:
    """This environment's ``mailintake`` (the script beside the interpreter running
    the tests), else the same program as ``python -m mailintake``."""
    script = Path(sys.executable).parent / "mailintake"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mailintake"]


# --- the shipped unit ----------------------------------------------------------------------------
def test_the_contrib_unit_is_the_one_init_writes_for_usr_local() -> None:
    text = (CONTRIB / "mailintake.service").read_text(encoding="utf-8")
    assert text == unit_text("/usr/local/bin/mailintake", Path("/etc/mailintake/config.toml"))
    service = check_hardened(text)
    assert service["ExecStart"] == ["/usr/local/bin/mailintake --config /etc/mailintake/config.toml run"]
    assert service["EnvironmentFile"] == ["-/etc/mailintake/environment"]


def test_the_sysusers_snippet_makes_the_user_with_the_data_directory_as_home() -> None:
    lines = [ln.split() for ln in (CONTRIB / "mailintake.sysusers").read_text().splitlines() if ln and not ln.startswith("#")]
    [entry] = lines
    assert entry[:3] == ["u", "mailintake", "-"] and entry[-2:] == [str(DATA_DIR), "/usr/sbin/nologin"]


# --- the README's steps: init --systemd, rules check, the unit ----------------------------------
@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILINTAKE_CONFIG", raising=False)
    r = CliRunner().invoke(cli, ["init", "etc-mailintake", "--systemd"])
    assert r.exit_code == 0, r.output
    site = tmp_path / "etc-mailintake"
    assert f"wrote {site / 'mailintake.service'}" in r.output
    assert "systemctl enable --now mailintake" in r.output and "journalctl -u mailintake -f" in r.output
    return site


def test_init_systemd_keeps_every_data_path_where_the_service_may_write(site: Path) -> None:
    cfg = load(site / "config.toml", environ={})
    for path in (cfg.storage_path, cfg.backup.path, cfg.smtp.outgoing_path, cfg.mailbox.path):
        assert path == DATA_DIR or DATA_DIR in path.parents, path
    # The audit key in a state directory of its own: writable by the service, in no backup of the data.
    assert cfg.audit.key_file == Path("/var/lib/mailintake-audit/audit.key")
    assert not (site / "audit.key").exists()
    # Everything else an office edits stays beside config.toml, read-only to the service.
    assert (site / "rules").is_dir() and (site / "templates").is_dir()


def test_init_systemd_writes_a_hardened_unit_that_runs_this_program(site: Path) -> None:
    service = check_hardened((site / "mailintake.service").read_text(encoding="utf-8"))
    [exec_start] = service["ExecStart"]
    executable = exec_start.split()[0]
    assert Path(executable).is_absolute() and os.access(executable, os.X_OK), exec_start
    assert exec_start.endswith(f"--config {site / 'config.toml'} run")
    # The unit's program and config agree: `rules check` as the README's next step.
    r = subprocess.run([*exec_start.split()[:-1], "rules", "check"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_init_systemd_never_overwrites_a_config(site: Path) -> None:
    r = CliRunner().invoke(cli, ["init", str(site), "--systemd"])
    assert r.exit_code == 1 and "exists; not overwriting it" in r.output


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian: apt-get install systemd)")
def test_systemd_analyze_verifies_the_unit(site: Path, tmp_path: Path) -> None:
    # verify reads the unit by its file name: the copy is called mailintake.service.
    unit = site / "mailintake.service"
    r = subprocess.run([str(SYSTEMD_ANALYZE), "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stdout + r.stderr
    # The same unit with a program that does not exist is refused: the check is real.
    broken = tmp_path / "broken" / "mailintake.service"
    broken.parent.mkdir()
    broken.write_text(unit.read_text().replace("ExecStart=", "ExecStart=/nonexistent/mailintake-"))
    r = subprocess.run([str(SYSTEMD_ANALYZE), "verify", str(broken)], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "/nonexistent/mailintake-" in r.stderr
    # systemd's own score of the hardening (0 = locked down, 10 = exposed); --offline since 250.
    r = subprocess.run(
        [str(SYSTEMD_ANALYZE), "security", "--offline=yes", str(unit)], capture_output=True, text=True, timeout=120
    )
    found = re.search(r"Overall exposure level for mailintake\.service: ([0-9.]+)", r.stdout + r.stderr)
    if r.returncode != 0 and found is None:
        pytest.skip(f"systemd-analyze security --offline is not supported here: {r.stderr.strip()[:200]}")
    assert found is not None and float(found[1]) <= 2.0, r.stdout[-500:]


# --- the README ---------------------------------------------------------------------------------
def test_the_readme_walks_an_admin_through_the_service() -> None:
    deploy = README.split("## Deploy on a server", 1)[1].split("\n## ", 1)[0]
    for step in (
        "useradd --system",
        "mailintake init /etc/mailintake --systemd",
        'path = "/var/lib/mailintake"',
        "rules check",
        "contrib/systemd/mailintake.service",
        "systemctl enable --now mailintake",
        "journalctl -u mailintake -f",
        "--log-format json",
    ):
        assert step in deploy, step


# --- shell completion ---------------------------------------------------------------------------
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_printed(shell: str) -> None:
    env = {**os.environ, "_MAILINTAKE_COMPLETE": f"{shell}_source"}
    r = subprocess.run(program(), env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "_MAILINTAKE_COMPLETE" in r.stdout and f"{shell}_complete" in r.stdout
    assert f"_MAILINTAKE_COMPLETE={shell}_source mailintake" in README


def test_completion_completes_commands_without_loading_them() -> None:
    env = {**os.environ, "_MAILINTAKE_COMPLETE": "bash_complete", "COMP_WORDS": "mailintake tri", "COMP_CWORD": "1"}
    r = subprocess.run(program(), env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["plain,triage"]
