"""The ``mailintake`` command: a thin shell over functions the daemon also calls.

Each command parses its arguments, calls one function and prints; a module per
command group (``intake``, ``triage``, ``payments``, ``inquiries``, ``permit``,
``admin``). Errors a user can fix are one line and exit 1; a wrong
configuration is one line naming the file and key and exit 2 (``common``).
Every listing prints a table, ``--json``, ``--csv`` or ``--nl`` (``output``).
"""

from __future__ import annotations

import click

from mailintake import __version__
from mailintake.cli import admin, inquiries, intake, payments, permit, triage
from mailintake.cli.common import FamilyGroup


@click.group(cls=FamilyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="MAILINTAKE_CONFIG",
    help="The agency's config.toml (default: ./config.toml, else the shipped defaults).",
)
@click.version_option(__version__, prog_name="mailintake")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Register, acknowledge and track permit applications sent to the
    central mailbox (saraban@).

    Example: mailintake --config config.toml sweep
    """
    ctx.ensure_object(dict)["config_path"] = config_path


for command in (
    intake.sweep,
    intake.run,
    admin.demo,
    admin.init,
    triage.triage,
    payments.payments,
    inquiries.inquiries,
    admin.log_group,
    permit.permit,
    admin.backup,
    intake.outbox_group,
    intake.quarantine,
    intake.status,
    admin.audit,
    admin.rules,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="mailintake")


__all__ = ["cli", "main"]

if __name__ == "__main__":
    main()
