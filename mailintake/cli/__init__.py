"""The ``mailintake`` command: a thin shell over functions the daemon also calls.

Each command parses its arguments, calls one function and prints; a module per
command group (``intake``, ``triage``, ``payments``, ``inquiries``, ``permit``,
``admin``). Errors a user can fix are one line and exit 1; a wrong
configuration is one line naming the file and key and exit 2 (``common``).
Every listing prints a table, ``--json``, ``--csv`` or ``--nl`` (``output``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping
from typing import Any

import click

from mailintake import __version__
from mailintake.cli.common import FamilyGroup

# Every command: the module (under mailintake.cli) and attribute that define it,
# and its summary for `mailintake --help`. A command's module is imported only
# when that command runs, so `--help`, completion and light commands never load
# the PDF, image and scheduling libraries of the others. The summaries are the
# first sentence of each command's docstring (tests/test_logging.py checks).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "sweep": ("intake", "sweep", "One pass over every folder, then send what is queued."),
    "run": (
        "intake",
        "run",
        "Run the daemon: poll INBOX, sweep every folder at the sweep times on working days, send the outbox; "
        "stop with SIGTERM or Ctrl-C.",
    ),
    "demo": (
        "admin",
        "demo",
        "Deliver the sample applications into the local Maildir with realistic receipt times, sweep, and show the triage list.",
    ),
    "init": (
        "admin",
        "init",
        "Create a deployment directory with config.toml, rules/ and templates/ to edit, and print the next three commands.",
    ),
    "triage": ("triage", "triage", "Read the register of applications."),
    "payments": ("payments", "payments", "Fee payments (finance, R17)."),
    "appointments": (
        "appointments",
        "appointments_group",
        "Appointments at the counter: offer free slots, book, cancel, the day's queue (R10).",
    ),
    "inquiries": ("inquiries", "inquiries", "Questions sent to the central mailbox (process 1)."),
    "log": ("admin", "log_group", "The service log of Table 2 of the Email Baseline Procedure (R11)."),
    "permit": ("permit", "permit", "Permits: issue, deliver with a separate password, verify, revoke, publish (R18, R19)."),
    "backup": ("admin", "backup", "Backups of the registry and the file store (R14, R27)."),
    "outbox": ("intake", "outbox_group", "Outgoing mail and its delivery attempts."),
    "quarantine": ("intake", "quarantine", "Messages whose processing failed, kept with the stage and the error."),
    "status": ("intake", "status", "Last sweep, backlog per folder, outbox, quarantine and mailbox quota."),
    "audit": ("admin", "audit", "The audit log: every action, chained by HMAC under the audit key."),
    "rules": ("admin", "rules", "Validate rules/ (mail rules and services)."),
    "purge": ("purge", "purge", "Remove what is kept past [retention] (PDPA): stored mail and files, personal fields."),
    "calendar": ("calendar", "calendar", "The working-day calendar: holidays by name and source; import (R2)."),
    "delays": ("delays", "delays_group", "The s.10 delay register: late applications and the delay notices sent (R25)."),
    "deadlines": (
        "deadlines",
        "deadlines_group",
        "The deadline jobs: acknowledgement watchdog, delay notices, reminders, digest (R4, R25, R26).",
    ),
    "reminders": ("reminders", "reminders_group", "Reminders sent before deadlines, and withdrawals (R26)."),
    "report": ("report", "report_group", "Statistics: acks on time, satisfaction, the monthly report (R4, R26, R28)."),
    "book": ("book", "book_group", "The registry book: every incoming document numbered, printed by day, routed, stamped."),
    "publish": (
        "publish",
        "publish",
        "Build the public site: citizen manuals, monthly statistics and the permit register, in Thai and English.",
    ),
    "serve": (
        "peer",
        "serve",
        "Serve the commands of clerks, approvers and finance officers on the Unix socket ([daemon] socket), "
        "each as the login the kernel names; stop with SIGTERM or Ctrl-C.",
    ),
}


class CommandFamily(FamilyGroup):
    """The root group, loading each command's module on first use. Reading
    ``commands`` (as a test that walks the tree does) loads them all."""

    def __init__(self, *args: Any, lazy: Mapping[str, tuple[str, str, str]], **kwargs: Any) -> None:
        self._lazy = dict(lazy)
        self._loaded: dict[str, click.Command] = {}
        super().__init__(*args, **kwargs)

    @property
    def commands(self) -> MutableMapping[str, click.Command]:
        for name in list(self._lazy):
            self._load(name)
        return self._loaded

    @commands.setter
    def commands(self, value: MutableMapping[str, click.Command]) -> None:
        self._loaded = dict(value)

    def _load(self, name: str) -> click.Command | None:
        if name in self._lazy:
            module, attribute, _summary = self._lazy.pop(name)
            self._loaded[name] = getattr(importlib.import_module(f"mailintake.cli.{module}"), attribute)
        return self._loaded.get(name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._loaded, *self._lazy})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists them, from the summaries for commands not loaded."""
        names = [n for n in self.list_commands(ctx) if n in self._lazy or not self._loaded[n].hidden]
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = [
            (
                n,
                click.Command(n, help=self._lazy[n][2]).get_short_help_str(limit)
                if n in self._lazy
                else self._loaded[n].get_short_help_str(limit),
            )
            for n in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=CommandFamily, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="MAILINTAKE_CONFIG",
    help="The agency's config.toml (default: $MAILINTAKE_CONFIG, else ./config.toml, else /etc/mailintake/config.toml).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    help="Log lines on stderr as text, or one JSON object each for journald and log shippers (default: [log] format).",
)
@click.version_option(__version__, prog_name="mailintake")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_format: str | None) -> None:
    """Register, acknowledge and track permit applications sent to the
    central mailbox (saraban@).

    Example: mailintake --config config.toml sweep
    """
    state = ctx.ensure_object(dict)
    state["config_path"] = config_path
    state["log_format"] = log_format


def main() -> None:
    cli(prog_name="mailintake")


__all__ = ["cli", "main"]

if __name__ == "__main__":
    main()
