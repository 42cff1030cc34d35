"""``mailintake purge``: remove what is kept past ``[retention]`` (PDPA), as
the daemon does daily (``ops.purge``)."""

from __future__ import annotations

import click

from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import json_option, print_json
from mailintake.desk.roles import require
from mailintake.ops.purge import purge as run_purge


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
@now_option
@json_option
@click.pass_context
def purge(ctx: click.Context, dry_run: bool, now: str | None, as_json: bool) -> None:
    """Remove what is kept past [retention] (PDPA): stored mail and files, personal fields.

    The registry rows and the audit trail stay, with one audit event per
    application or message purged (admin; the daemon does it daily).

    Example: mailintake purge --dry-run
    """
    dep = deployment(ctx)
    user = require(dep.cfg, "admin")
    report = run_purge(dep.cfg, dep.registry, moment(ctx, now), actor=user.login, dry_run=dry_run)
    if as_json:
        print_json({"dry_run": report.dry_run, "items": report.items, "files_removed": report.files_removed})
        return
    for item in report.items:
        click.echo(f"{item['what']} {item['id']} ({item['kind']}, since {item['since'][:10]}): {item['rule']}")
    click.echo(report.summary())
