from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from servers import CONFIG, Dovecot, Mailbox, SmtpSink

from mailintake.cli import cli


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
