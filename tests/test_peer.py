"""Identity from the kernel (issue 11): real local accounts run the CLI, which
hands their commands to ``mailintake serve`` over its Unix socket; the server
learns who they are from SO_PEERCRED. No environment variable, --config or
flag makes a clerk an approver, a stranger reads nothing, and the audit log
names the account that acted."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Env
from mails import at, mail

import mailintake

ID = "SRB-2568-000001"


def _traversable(paths: list[Path]) -> list[tuple[Path, int]]:
    """Let other accounts pass through (x, never r) each ancestor of ``paths``
    that stops them; what to give back afterwards."""
    changed: list[tuple[Path, int]] = []
    for path in paths:
        for d in [path, *path.parents]:
            mode = stat.S_IMODE(d.stat().st_mode)
            if d.is_dir() and not mode & 0o001 and all(d != c for c, _ in changed):
                changed.append((d, mode))
                d.chmod(mode | 0o001)
    return changed


@pytest.fixture(scope="module")
def accounts() -> Iterator[dict[str, str]]:
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("runuser") is None:
        pytest.skip("needs root, useradd and runuser to create local accounts")
    tag = uuid.uuid4().hex[:6]
    names = {role: f"mi-{role[:4]}-{tag}" for role in ("clerk", "approver", "stranger")}
    for name in names.values():
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    # The accounts run this interpreter and this checkout of mailintake.
    program = [Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent, Path(mailintake.__file__).resolve().parent]
    changed = _traversable(program)
    try:
        yield names
    finally:
        for d, mode in changed:
            d.chmod(mode)
        for name in names.values():
            subprocess.run(["userdel", name], check=False)


@pytest.fixture
def served(deploy: Env, accounts: dict[str, str]) -> Iterator[tuple[Env, Path]]:
    """The deployment (owned by root, 0700) with one application, and a
    ``serve`` listening on a socket in a directory the accounts can reach."""
    assert deploy.mailbox is not None
    users = f'\n[users]\n"{accounts["clerk"]}" = ["clerk"]\n"{accounts["approver"]}" = ["approver"]\nroot = ["admin"]\n'
    deploy.config.write_text(deploy.config.read_text(encoding="utf-8") + users, encoding="utf-8")
    deploy.mailbox.append(mail("ขออนุญาตจัดงาน").as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    where = Path(tempfile.mkdtemp(prefix="mailintake-serve-"))
    where.chmod(0o755)
    sock = where / "run" / "mailintake.sock"
    env = {**os.environ, "MAILINTAKE_DAEMON_SOCKET": str(sock)}
    server = subprocess.Popen(
        [sys.executable, "-m", "mailintake", "--config", str(deploy.config), "serve"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for(sock, server)
        yield deploy, sock
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(where, ignore_errors=True)
    assert not sock.exists(), "serve removes its socket when it stops"


def _wait_for(sock: Path, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"serve ended: {server.stderr.read() if server.stderr else ''}")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(sock))
            return
        except OSError:
            time.sleep(0.05)  # polling for the server to listen, not waiting for a result
        finally:
            probe.close()
    raise AssertionError("serve did not listen within 30 s")


def as_account(
    login: str, sock: Path, *args: str, config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``mailintake --config CONFIG ARGS`` run by the local account ``login``."""
    environment = {"PATH": os.environ["PATH"], "MAILINTAKE_SOCKET": str(sock), "LANG": "C.UTF-8", **(env or {})}
    return subprocess.run(
        ["runuser", "-u", login, "--", "env", "-i", *(f"{k}={v}" for k, v in environment.items()),
         sys.executable, "-m", "mailintake", "--config", str(config), *args],
        capture_output=True, text=True, timeout=60, cwd="/",
    )  # fmt: skip


def test_a_clerk_reads_through_the_daemon_as_themselves(served: tuple[Env, Path], accounts: dict[str, str]) -> None:
    office, sock = served
    assert (
        subprocess.run(["runuser", "-u", accounts["clerk"], "--", "cat", str(office.storage / "mailintake.db")]).returncode != 0
    )
    r = as_account(accounts["clerk"], sock, "triage", "list", "--json", config=office.config)
    assert r.returncode == 0, r.stderr
    assert [a["transaction_id"] for a in json.loads(r.stdout)] == [ID]
    r = as_account(accounts["clerk"], sock, "triage", "note", ID, "โทรแจ้งผู้ยื่นแล้ว", config=office.config)
    assert r.returncode == 0, r.stderr
    events = office.json("audit", "list", "--id", ID)
    assert (events[-1]["actor"], events[-1]["action"]) == (accounts["clerk"], "note")


def test_environment_and_config_do_not_change_who_you_are(served: tuple[Env, Path], accounts: dict[str, str]) -> None:
    office, sock = served
    clerk, approver = accounts["clerk"], accounts["approver"]
    before = office.json("audit", "list", "--id", ID)
    # A config the clerk wrote, naming the same data and making them an approver and admin.
    home = Path(tempfile.mkdtemp(prefix="mailintake-clerk-"))
    try:
        shutil.chown(home, clerk)
        mine = home / "config.toml"
        mine.write_text(
            office.config.read_text(encoding="utf-8").replace(f'"{clerk}" = ["clerk"]', f'"{clerk}" = ["approver", "admin"]')
        )
        shutil.chown(mine, clerk)
        pretend = {
            "MAILINTAKE_USER": approver,
            "LOGNAME": approver,
            "USER": approver,
            f"MAILINTAKE_USERS_{clerk.upper()}": "approver,admin",
        }
        r = as_account(clerk, sock, "triage", "approve", ID, config=mine, env=pretend)
        assert r.returncode == 1
        assert r.stderr.strip() == f"Error: triage approve needs the approver role; {clerk} has clerk"
        r = as_account(clerk, sock, "audit", "list", config=mine, env=pretend)
        assert r.stderr.strip() == f"Error: audit list needs the admin role; {clerk} has clerk"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert office.json("audit", "list", "--id", ID) == before, "nothing was done"
    assert office.json("triage", "show", ID)["status"] == "received"


def test_a_stranger_reads_nothing(served: tuple[Env, Path], accounts: dict[str, str]) -> None:
    office, sock = served
    stranger = accounts["stranger"]
    for args in (
        ("triage", "list"),
        ("triage", "show", ID),
        ("triage", "files", ID),
        ("log", "export", "--from", "2025-12-01", "--to", "2025-12-31"),
        ("status",),
    ):
        r = as_account(stranger, sock, *args, config=office.config)
        assert r.returncode == 1, (args, r.stdout)
        assert r.stderr.strip().endswith(f"role; {stranger} is not a declared user"), r.stderr
        assert r.stdout == ""


def test_the_daemon_itself_is_not_lent_out(served: tuple[Env, Path], accounts: dict[str, str]) -> None:
    office, sock = served
    r = as_account(accounts["approver"], sock, "backup", "restore", "/", config=office.config)
    assert r.returncode == 1 and "runs as the account that owns the data, not through the daemon" in r.stderr


def test_an_approver_acts_under_their_own_name(served: tuple[Env, Path], accounts: dict[str, str]) -> None:
    office, sock = served
    r = as_account(accounts["approver"], sock, "triage", "note", ID, "ตรวจแล้ว", config=office.config)
    assert r.returncode == 0, r.stderr
    r = as_account(accounts["approver"], sock, "triage", "take", ID, config=office.config)
    assert (
        r.returncode == 1 and r.stderr.strip() == f"Error: triage take needs the clerk role; {accounts['approver']} has approver"
    )
    assert office.json("audit", "list", "--id", ID)[-1]["actor"] == accounts["approver"]


def test_no_daemon_is_one_line(deploy: Env, accounts: dict[str, str]) -> None:
    r = as_account(accounts["clerk"], Path("/nonexistent/mailintake.sock"), "triage", "list", config=deploy.config)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("Error: ") and "no daemon answers on /nonexistent/mailintake.sock" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_daemon_serves_the_socket_while_it_runs(deploy: Env, accounts: dict[str, str]) -> None:
    deploy.config.write_text(deploy.config.read_text(encoding="utf-8") + f'\n[users]\n"{accounts["clerk"]}" = ["clerk"]\n')
    where = Path(tempfile.mkdtemp(prefix="mailintake-run-"))
    where.chmod(0o755)
    sock = where / "mailintake.sock"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "mailintake", "--config", str(deploy.config), "run"],
        env={**os.environ, "MAILINTAKE_DAEMON_SOCKET": str(sock)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(sock, daemon)
        r = as_account(accounts["clerk"], sock, "triage", "list", "--json", config=deploy.config)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == []
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        stopped_cleanly = not sock.exists()
        shutil.rmtree(where, ignore_errors=True)
    assert stopped_cleanly, "the daemon's server removes its socket when the daemon stops"


def _leaves(command: object, path: tuple[str, ...] = ()) -> Iterator[str]:
    import click

    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _leaves(sub, (*path, name))
    else:
        yield " ".join(path)


def test_every_command_has_a_door() -> None:
    from mailintake.cli import cli
    from mailintake.cli.policy import DOORS, NO_DATA

    commands = set(_leaves(cli))
    assert sorted(commands - set(DOORS) - NO_DATA) == [], "commands with no roles in mailintake/cli/policy.py"
    groups = {" ".join(p.split()[:n]) for p in commands for n in range(1, len(p.split()))}
    assert sorted(set(DOORS) - commands - groups) == [], "doors for commands that do not exist"


def test_now_moves_the_clock_only_in_a_test_deployment(deploy: Env) -> None:
    text = deploy.config.read_text(encoding="utf-8")
    deploy.config.write_text(text.replace('mode = "test"', 'mode = "production"'), encoding="utf-8")
    refused = deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00", ok=False)
    assert refused.exit_code == 1 and "--now: sweep changes the registry" in refused.output
    # Reading at another time is no change: allowed.
    assert deploy.run("triage", "list", "--overdue", "--now", "2025-12-20T09:00:00+07:00").exit_code == 0
    # Nor does the environment mark a deployment for testing.
    again = deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00", ok=False, env={"MAILINTAKE_DEPLOYMENT_MODE": "test"})
    assert again.exit_code == 1
    # And in production MAILINTAKE_USER names nobody: the owner acts as themself.
    deploy.config.write_text(deploy.config.read_text(encoding="utf-8") + '\n[users]\nsomchai = ["clerk"]\n', encoding="utf-8")
    assert deploy.run("audit", "list", env={"MAILINTAKE_USER": "somchai"}).exit_code == 0
