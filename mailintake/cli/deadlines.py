"""``mailintake deadlines run``: the deadline jobs alone (watchdog, delay
notices, closing, reminders and withdrawals, the daily digest), so a day can be
replayed with ``--now``; then what they queued is sent."""

from __future__ import annotations

import click

from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import json_option, print_json
from mailintake.ops.deadlines import run_deadlines, summary
from mailintake.ops.sending import send_after_step, unsent


@click.group("deadlines")
def deadlines_group() -> None:
    """The deadline jobs: acknowledgement watchdog, delay notices, reminders, digest (R4, R25, R26).

    Example: mailintake deadlines run --now 2026-01-05T08:30:00+07:00
    """


@deadlines_group.command("run")
@now_option
@json_option
@click.pass_context
def deadlines_run(ctx: click.Context, now: str | None, as_json: bool) -> None:
    """Run every deadline job at --now (the clock by default), then send what they queued.

    Running it twice at the same time sends nothing twice.

    Example: mailintake deadlines run --now 2026-01-05T08:30:00+07:00 --json
    """
    dep, when = deployment(ctx), moment(ctx, now)
    result = run_deadlines(dep, when)
    left = unsent(send_after_step(dep, when))
    if as_json:
        print_json({**result, "unsent": left})
        return
    click.echo(summary(result))
    for err in result["errors"]:
        click.echo(f"warning: deadline job {err}", err=True)
    if left:
        click.echo(f"warning: {left} email(s) not sent yet: see `mailintake outbox list`", err=True)
