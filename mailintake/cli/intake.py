"""Commands of the intake road: ``sweep``, ``run``, ``status``, and the
``quarantine`` and ``outbox`` groups."""

from __future__ import annotations

import click

from mailintake.base.data import outbox as outbox_data
from mailintake.base.errors import NotFound
from mailintake.cli.common import config, deployment, moment, now_option
from mailintake.cli.output import emit, emit_one, json_option, output_options, print_json, sweep_progress
from mailintake.desk.queries import list_outbox, list_quarantine
from mailintake.intake import outbox
from mailintake.intake.sweep import as_json as report_json
from mailintake.intake.sweep import run_sweep
from mailintake.ops.daemon import run_daemon
from mailintake.ops.deadlines import run_deadlines
from mailintake.ops.deadlines import summary as deadline_summary
from mailintake.ops.listings import OUTBOX, QUARANTINE, sent_mail, sent_mail_lines
from mailintake.ops.quarantine import retry_quarantined
from mailintake.ops.sending import send_after_step, unsent
from mailintake.ops.status import status_lines, system_status


@click.command()
@now_option
@click.option("--wait", is_flag=True, help="Wait for a running sweep to finish instead of exiting.")
@click.option("--inbox-only", is_flag=True, help="Poll INBOX only (what the daemon does between sweeps).")
@json_option
@click.pass_context
def sweep(ctx: click.Context, now: str | None, wait: bool, inbox_only: bool, as_json: bool) -> None:
    """One pass over every folder, then send what is queued.

    The deadline jobs (watchdog, delay notices, reminders, digest) run after
    it, as the daemon runs them.

    Example: mailintake sweep --now 2025-12-04T18:05+07:00
    """
    cfg = config(ctx)
    when = moment(ctx, now)
    bar = sweep_progress(as_json)
    try:
        report = run_sweep(cfg, when, full=not inbox_only, wait=wait, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    dep = deployment(ctx)
    jobs = run_deadlines(dep, when)
    queued = any(v for k, v in jobs.items() if k not in ("now", "errors"))
    left = unsent(send_after_step(dep, when)) if queued else 0
    if as_json:
        print_json({**report_json(report), "deadlines": jobs})
    elif not report.failure:
        click.echo(report.summary())
        for err in report.errors:
            click.echo(f"  warning: {err}", err=True)
        if queued:
            click.echo(deadline_summary(jobs))
    for err in jobs["errors"]:
        click.echo(f"  warning: deadline job {err}", err=True)
    if left and not as_json:
        click.echo(f"warning: {left} email(s) not sent yet: see `mailintake outbox list`", err=True)
    if report.failure:
        raise click.ClickException(report.failure)


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: poll INBOX, sweep every folder at the sweep times on
    working days, send the outbox; stop with SIGTERM or Ctrl-C.

    Example: mailintake --config /etc/mailintake/config.toml run
    """
    run_daemon(config(ctx))


@click.command()
@output_options()
@click.option("--live/--no-live", default=True, help="Ask the mailbox for its backlog and quota (default on).")
@now_option
@click.pass_context
def status(ctx: click.Context, fmt: str, live: bool, now: str | None = None) -> None:
    """Last sweep, backlog per folder, outbox, quarantine and mailbox quota.

    Example: mailintake status --json
    """
    emit_one(system_status(deployment(ctx), live=live, now=moment(ctx, now)), fmt, status_lines)


# --- quarantine ------------------------------------------------------------------------------
@click.group()
def quarantine() -> None:
    """Messages whose processing failed, kept with the stage and the error.

    Example: mailintake quarantine list
    """


@quarantine.command("list")
@output_options()
@click.pass_context
def quarantine_list(ctx: click.Context, fmt: str) -> None:
    """Quarantined messages.

    Example: mailintake quarantine list --json
    """
    emit(list_quarantine(deployment(ctx).registry), fmt, QUARANTINE)


@quarantine.command("retry")
@click.argument("message_id", required=False, type=int)
@now_option
@click.pass_context
def quarantine_retry(ctx: click.Context, message_id: int | None, now: str | None) -> None:
    """Run quarantined messages (all, or one by ID) through the pipeline again.

    Example: mailintake quarantine retry 12
    """
    for o in retry_quarantined(deployment(ctx), moment(ctx, now), message_id):
        click.echo(f"message {o.message_row}: {o.kind}" + (f" {o.transaction_id}" if o.transaction_id else ""))


# --- outbox ----------------------------------------------------------------------------------
@click.group("outbox")
def outbox_group() -> None:
    """Outgoing mail and its delivery attempts.

    Example: mailintake outbox list --status failed
    """


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "bounced", "blocked"]), help="Only this status.")
@output_options()
@click.pass_context
def outbox_list(ctx: click.Context, status: str | None, fmt: str) -> None:
    """Queued, sent, failed, bounced and blocked mail (blocked: not sent to an
    address that hard-bounced). NOTE is the last delivery note or read receipt.

    Example: mailintake outbox list --json
    """
    emit(list_outbox(deployment(ctx).registry, status=status), fmt, OUTBOX)


@outbox_group.command("show")
@click.argument("mail_id", type=int)
@json_option
@click.pass_context
def outbox_show(ctx: click.Context, mail_id: int, as_json: bool) -> None:
    """One outgoing mail as the recipient reads it: From, To, Subject, Date,
    Message-ID, the attachments by name and size, and the text (the ID is the
    first column of `outbox list` and is listed by `triage show`).

    Example: mailintake outbox show 1
    """
    mail = outbox_data.get(deployment(ctx).registry, mail_id)
    if mail is None:
        raise NotFound(f"no outgoing mail {mail_id}: see `mailintake outbox list`")
    view = sent_mail(mail)
    if as_json:
        print_json(view)
        return
    for line in sent_mail_lines(view):
        click.echo(line)


@outbox_group.command("send")
@now_option
@click.pass_context
def outbox_send(ctx: click.Context, now: str | None) -> None:
    """Send what is due now (the sweep does this too).

    Example: mailintake outbox send
    """
    r = outbox.send_queued(config(ctx), moment(ctx, now))
    click.echo(f"{r.sent} sent, {r.retried} to retry, {r.failed} failed")
