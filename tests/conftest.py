from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from servers import CONFIG, Dovecot, Mailbox, Postfix, SmtpSink

from mailintake.cli import cli


@pytest.fixture(autouse=True)
def keep_umask() -> Iterator[None]:
    """A test that starts the daemon in-process (``start_private`` sets umask 077
    for good, as the daemon must) gives the runner its umask back: the servers
    later tests start (Postfix's queue) need their own modes."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture(autouse=True)
def daemon_socket() -> Iterator[Path]:
    """Daemons the tests start serve the clerks' socket here, not at the
    system's /run/mailintake (the environment sets only where, never who); a
    socket of each test's own, so a daemon still stopping never meets the next."""
    root = Path(tempfile.mkdtemp(prefix="mailintake-socket-"))
    path = root / "mailintake.sock"
    before = os.environ.get("MAILINTAKE_DAEMON_SOCKET")
    os.environ["MAILINTAKE_DAEMON_SOCKET"] = str(path)
    yield path
    if before is None:
        os.environ.pop("MAILINTAKE_DAEMON_SOCKET", None)
    else:
        os.environ["MAILINTAKE_DAEMON_SOCKET"] = before
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    # Not under pytest's tmp root: that is mode 0700 and the dovecot user must
    # reach the passwd-file and the Maildirs.
    root = Path(tempfile.mkdtemp(prefix="mailintake-dovecot-"))
    server = Dovecot(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    return Mailbox(dovecot, dovecot.new_user())


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


class Env:
    """A deployment for one test: config, mailbox, SMTP sink, and the CLI."""

    def __init__(self, tmp: Path, mailbox: Mailbox | None, smtp: SmtpSink | None, agency_extra: str = ""):
        self.tmp, self.mailbox, self.smtp = tmp, mailbox, smtp
        self.config = tmp / "config.toml"
        self.storage = tmp / "var"
        text = CONFIG.format(
            agency_extra=agency_extra,
            imap_port=mailbox.server.port if mailbox else 0,
            user=mailbox.user if mailbox else "x",
            password=mailbox.server.password if mailbox else "",
            smtp_port=smtp.port if smtp else 0,
            storage=self.storage,
        )
        if mailbox is None:
            text = text.replace('kind = "imap"', 'kind = "maildir"\npath = "mail"')
        if smtp is None:
            text = text.replace('host = "127.0.0.1"\nport = 0', 'host = ""')
        self.config.write_text(text, encoding="utf-8")
        self.config.chmod(0o600)  # as init writes it: the daemon refuses a config others can read

    def run(self, *args: str, ok: bool = True, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(cli, ["--config", str(self.config), *args], env=env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture
def deploy(tmp_path: Path, mailbox: Mailbox, smtp: SmtpSink) -> Env:
    return Env(tmp_path, mailbox, smtp)


# --- the agency's mail system in miniature: Postfix -> LMTP -> Dovecot ---------------------------


@pytest.fixture(scope="session")
def mx_dovecot() -> Iterator[Dovecot]:
    """A Dovecot of its own for the Postfix tests (IMAP and LMTP, users
    saraban<N>@saraban.test): they stop and start it, and no other test should
    see that."""
    root = Path(tempfile.mkdtemp(prefix="mailintake-mx-dovecot-"))
    server = Dovecot(root, lmtp=True, user="saraban", domain="saraban.test", pool=50)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postfix(mx_dovecot: Dovecot) -> Iterator[Postfix]:
    """A private Postfix on loopback delivering the test domain to mx_dovecot over LMTP."""
    root = Path(tempfile.mkdtemp(prefix="mailintake-postfix-"))
    server = Postfix(root, mx_dovecot.domain, mx_dovecot.lmtp_port)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


class MxEnv(Env):
    """A deployment whose mailbox sits behind the private Postfix: the
    agency's address is the test user's, so mail to it and bounces of what it
    sends arrive in that mailbox, and ``[trust] mail_hosts`` names the two hosts
    that stamp Received: lines on the way in."""

    def __init__(self, tmp: Path, mailbox: Mailbox, smtp: SmtpSink, postfix: Postfix, trust: str = ""):
        super().__init__(tmp, mailbox, smtp)
        self.postfix = postfix
        self.address = mailbox.user
        hosts = f'["{postfix.hostname}", "{mailbox.server.hostname}"]'
        text = self.config.read_text(encoding="utf-8").replace("saraban@banmai.go.th", self.address)
        text += f"\n[trust]\nmail_hosts = {hosts}\n{trust}"
        self.config.write_text(text, encoding="utf-8")

    def send_through_postfix(self) -> None:
        """Acknowledgements leave through the private Postfix (not the SMTP sink)."""
        assert self.smtp is not None
        text = self.config.read_text(encoding="utf-8")
        self.config.write_text(text.replace(f"port = {self.smtp.port}\n", f"port = {self.postfix.port}\n"), encoding="utf-8")


@pytest.fixture
def mx(tmp_path: Path, mx_dovecot: Dovecot, postfix: Postfix, smtp: SmtpSink) -> Iterator[MxEnv]:
    env = MxEnv(tmp_path, Mailbox(mx_dovecot, mx_dovecot.new_user()), smtp, postfix)
    yield env
    # Back to the real time. A clock set forwards is harmless to a running
    # server; a test that sets one backwards restarts the server itself.
    postfix.clock.set(None)
    assert mx_dovecot.clock is not None
    mx_dovecot.clock.set(None)
