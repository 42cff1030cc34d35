"""Private by default (issue 11): what mailintake writes (the data directory, the
registry and its -wal/-shm, the file store, backups, exports, the sweep lock and
the config.toml that ``init`` writes) is its owner's alone, and the daemon
refuses to start on a data directory other accounts can read or write."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Env
from mails import mail

from mailintake.base.config import load
from mailintake.base.errors import ConfigError
from mailintake.cli import cli
from mailintake.ops.daemon import start_private, sweep_in_child

NO_CONFIG = {"MAILINTAKE_CONFIG": None}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def open_to_others(root: Path) -> list[str]:
    """Every path under ``root`` (and ``root``) with a group or other bit."""
    paths = [root, *root.rglob("*")]
    return [f"{p} {mode(p):04o}" for p in paths if not p.is_symlink() and mode(p) & 0o077]


def demo_in(directory: Path) -> None:
    """``mailintake demo`` in ``directory`` with no config: it writes its own."""
    cwd = Path.cwd()
    os.chdir(directory)
    try:
        r = CliRunner().invoke(cli, ["demo"], env=NO_CONFIG, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    assert r.exit_code == 0, r.output


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    demo_in(tmp_path)
    return tmp_path


def test_the_demo_leaves_nothing_open_to_others(demo: Path) -> None:
    storage = demo / "var"
    assert (storage / "mailintake.db").is_file() and (storage / "store").is_dir() and (storage / "sweep.lock").is_file()
    assert open_to_others(storage) == []
    assert mode(storage) == 0o700 and mode(storage / "mailintake.db") == 0o600 and mode(storage / "sweep.lock") == 0o600
    assert mode(demo / "config.toml") == 0o600
    assert os.umask(0o022) == 0o022, "the CLI in-process gave the test runner its umask back"


def test_init_writes_a_config_only_its_owner_can_read(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["init", str(tmp_path / "deploy")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert mode(tmp_path / "deploy" / "config.toml") == 0o600


def test_a_backup_is_private_even_of_files_stored_before(demo: Path) -> None:
    stored = next(p for p in (demo / "var" / "store").rglob("*") if p.is_file())
    stored.chmod(0o644)  # a file stored before umask 077
    config = str(demo / "config.toml")
    r = CliRunner().invoke(cli, ["--config", config, "backup", "create", "--out", str(demo / "out")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    (made,) = (demo / "out").iterdir()
    assert (made / "mailintake.db").is_file() and (made / "manifest.json").is_file()
    assert open_to_others(made) == []
    assert mode(made / "mailintake.db") == 0o600 and mode(made / "manifest.json") == 0o600


def test_an_export_is_private(demo: Path) -> None:
    config = demo / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("\n[users]\n", '\n[users]\nsomchai = ["clerk"]\n'), encoding="utf-8"
    )
    out = demo / "export"
    r = CliRunner().invoke(
        cli,
        ["--config", str(config), "triage", "export", "SRB-2568-000001", "--out", str(out)],
        env={"MAILINTAKE_USER": "somchai"},
    )
    assert r.exit_code == 0, r.output
    assert any(p.is_file() for p in out.rglob("*"))
    assert open_to_others(out) == []


def test_a_data_directory_and_registry_made_open_are_tightened_by_the_cli(demo: Path) -> None:
    storage = demo / "var"
    storage.chmod(0o755)
    (storage / "mailintake.db").chmod(0o644)
    r = CliRunner().invoke(cli, ["--config", str(demo / "config.toml"), "triage", "list"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert mode(storage) == 0o700 and mode(storage / "mailintake.db") == 0o600


def test_the_daemon_refuses_an_open_data_directory(demo: Path) -> None:
    storage = demo / "var"
    storage.chmod(0o755)
    cfg = load(demo / "config.toml")
    with pytest.raises(ConfigError) as refused:
        start_private(cfg)
    assert str(refused.value) == f"[storage] path {storage} is readable by others (mode 0755): chmod 700 {storage}"
    r = CliRunner().invoke(cli, ["--config", str(demo / "config.toml"), "run"])
    assert r.exit_code == 2
    assert (
        r.output.strip()
        .splitlines()[-1]
        .endswith(f"[storage] path {storage} is readable by others (mode 0755): chmod 700 {storage}")
    )
    assert mode(storage) == 0o755, "the daemon refuses; it does not change what the administrator set"


def test_the_daemon_refuses_a_registry_others_can_write(demo: Path) -> None:
    db = demo / "var" / "mailintake.db"
    db.chmod(0o666)
    with pytest.raises(ConfigError) as refused:
        start_private(load(demo / "config.toml"))
    assert str(refused.value) == f"[storage] path {db} is readable and writable by others (mode 0666): chmod 600 {db}"


def test_the_daemon_starts_on_a_private_data_directory(demo: Path) -> None:
    os.umask(0o022)
    start_private(load(demo / "config.toml"))
    assert os.umask(0o022) == 0o077


def test_the_sweep_child_is_private_whatever_umask_it_was_started_with(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)  # a Maildir mailbox, no SMTP
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "mail" / sub).mkdir(parents=True, exist_ok=True)
    (tmp_path / "mail" / "new" / "1.test").write_bytes(mail().as_bytes())
    cfg = load(env.config)
    now = datetime.fromisoformat("2025-12-09T09:00:00+07:00")
    os.umask(0o022)  # the daemon's umask, had nobody set one
    outcome = sweep_in_child(cfg, now, full=True, timeout=120)
    assert outcome.kind == "swept", outcome
    assert any(p.is_file() for p in (env.storage / "store").rglob("*"))
    assert open_to_others(env.storage) == []


# --- a second local account ------------------------------------------------------------------
@pytest.fixture
def other_account() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("runuser") is None:
        pytest.skip("needs root, useradd and runuser to create a second local account")
    name = f"mi-other-{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


def as_user(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True, text=True, timeout=30)


def test_another_local_account_cannot_read_the_registry_or_a_stored_file(other_account: str) -> None:
    # Not under pytest's tmp root (0700): only mailintake's own modes may stand in the way.
    root = Path(tempfile.mkdtemp(prefix="mailintake-privacy-"))
    try:
        root.chmod(0o755)
        control = root / "readable.txt"
        control.write_text("anyone\n")
        control.chmod(0o644)
        assert as_user(other_account, "cat", str(control)).stdout == "anyone\n", "the other account cannot read even a 0644 file"
        demo_in(root)
        storage = root / "var"
        stored = next(p for p in (storage / "store").rglob("*") if p.is_file())
        for path in (storage / "mailintake.db", stored, root / "config.toml", storage / "sweep.lock"):
            denied = as_user(other_account, "cat", str(path))
            assert denied.returncode != 0 and "Permission denied" in denied.stderr, (path, denied)
        locked = as_user(other_account, "flock", "-n", str(storage / "sweep.lock"), "true")
        assert locked.returncode != 0, "the other account took the sweep lock"
    finally:
        shutil.rmtree(root, ignore_errors=True)
