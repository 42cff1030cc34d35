"""``mailintake permit``: issue, deliver with a separate password, verify,
revoke and publish permits (R18, R19)."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import click

from mailintake.base.data.permits import list_permits, listed, status_of_number
from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import emit, json_option, output_options, print_json
from mailintake.cli.triage import desk, send_now
from mailintake.ops.listings import PERMITS, plain
from mailintake.permits.register import publish, status_of, verdict, verify_file


@click.group()
def permit() -> None:
    """Permits: issue, deliver with a separate password, verify, revoke, publish (R18, R19).

    Example: mailintake permit issue SRB-2568-000001
    """


@permit.command("issue")
@click.argument("transaction_id")
@click.option("--valid-until", type=click.DateTime(["%Y-%m-%d"]), help="Last day of validity (default: [permits] valid_days).")
@click.option("--sms-to", help="The applicant's phone: the password goes by SMS ([permits] sms_command), not by email.")
@now_option
@click.pass_context
def permit_issue(
    ctx: click.Context, transaction_id: str, valid_until: datetime | None, sms_to: str | None, now: str | None
) -> None:
    """Issue the permit of an approved or paid application and send it (approver).

    Example: mailintake permit issue SRB-2568-000001 --valid-until 2026-12-31
    """
    dep = deployment(ctx)
    when = moment(ctx, now)
    until = None
    if valid_until is not None:
        until = valid_until.replace(hour=23, minute=59, second=59, tzinfo=dep.cfg.hours.timezone)
    issued = plain(desk(ctx).permits.issue(transaction_id, when, until, sms_to))
    send_now(ctx, when)
    state = status_of_number(dep.registry, issued["number"]) or issued["status"]
    delay = dep.cfg.permits.password_delay_minutes
    later = (
        f"; its password follows in {delay} min (the daemon, or `mailintake outbox send`)" if state == "issued" and delay else ""
    )
    click.echo(
        f"permit {issued['number']} issued for {transaction_id.upper()}, valid until {issued['valid_until'][:10]}; {state}{later}"
    )


@permit.command("resend")
@click.argument("transaction_id")
@click.option("--sms-to", help="The applicant's phone: the new password goes by SMS ([permits] sms_command).")
@now_option
@click.pass_context
def permit_resend(ctx: click.Context, transaction_id: str, sms_to: str | None, now: str | None) -> None:
    """Send the permit again with a new password and a newly encrypted file.

    Example: mailintake permit resend SRB-2568-000001
    """
    when = moment(ctx, now)
    row = plain(desk(ctx).permits.resend(transaction_id, when, sms_to))
    send_now(ctx, when)
    click.echo(f"permit {row['number']} sent again to {row['holder_email']}")


@permit.command("revoke")
@click.argument("number")
@click.option("--reason", required=True, help="Why (told to the holder and shown on verification).")
@now_option
@click.pass_context
def permit_revoke(ctx: click.Context, number: str, reason: str, now: str | None) -> None:
    """Revoke a permit (approver).

    Example: mailintake permit revoke EVT-2568-0001 --reason "event cancelled"
    """
    when = moment(ctx, now)
    desk(ctx).revoke_permit(number, reason, when)
    send_now(ctx, when)
    click.echo(f"permit {number.upper()} revoked")


@permit.command("status")
@click.argument("number")
@now_option
@json_option
@click.pass_context
def permit_status(ctx: click.Context, number: str, now: str | None, as_json: bool) -> None:
    """valid, expired, revoked or unknown.

    Example: mailintake permit status EVT-2568-0001 --json
    """
    state = status_of(deployment(ctx).registry, number, moment(ctx, now))
    if as_json:
        print_json(state)
        return
    click.echo(
        f"{state['number']}: {state['status']}"
        + (f" (holder {state['holder']}, valid until {state['valid_until'][:10]})" if state["status"] != "unknown" else "")
    )


@permit.command("list")
@output_options()
@click.pass_context
def permit_list(ctx: click.Context, fmt: str) -> None:
    """The permit register.

    Example: mailintake permit list --json
    """
    emit([listed(p) for p in list_permits(deployment(ctx).registry)], fmt, PERMITS)


PASSWORD_ENV = "MAILINTAKE_PERMIT_PASSWORD"


def _file_password(password_file: str | None) -> str | None:
    """The permit's password, never from the command line (where ``ps`` and the
    shell history would show it): the first line of ``--password-file``, else
    ``$MAILINTAKE_PERMIT_PASSWORD`` (for scripts), else a hidden prompt on a
    terminal (empty to check without it), else none."""
    if password_file is not None:
        lines = Path(password_file).read_text(encoding="utf-8").splitlines()
        return (lines[0].strip() if lines else "") or None
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV].strip() or None
    if sys.stdin.isatty():
        typed: str = click.prompt("Password of the file (empty to skip)", default="", hide_input=True, show_default=False)
        return typed.strip() or None
    return None


@permit.command("verify")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False),
    help=f"A file whose first line is the file's password (else ${PASSWORD_ENV}, else asked on a terminal).",
)
@now_option
@json_option
@click.pass_context
def permit_verify(ctx: click.Context, pdf: str, password_file: str | None, now: str | None, as_json: bool) -> None:
    """Check a permit file: the register, the QR's keyed hash and the signature.
    With the password it also reads the number inside and checks the signature.

    Example: mailintake permit verify permit-EVT-2568-0001.pdf --password-file pw.txt
    """
    dep = deployment(ctx)
    password = _file_password(password_file)
    result = verify_file(dep.cfg, dep.registry, Path(pdf).read_bytes(), password, moment(ctx, now))
    line, passed = verdict(result)
    if as_json:
        print_json(result)
    else:
        click.echo(line)
    if not passed:
        ctx.exit(1)


@permit.command("publish")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@now_option
@click.pass_context
def permit_publish(ctx: click.Context, out_dir: str, now: str | None) -> None:
    """Write a static bilingual register (HTML and JSON) for the agency's website.

    Example: mailintake permit publish --out /var/www/permits
    """
    dep = deployment(ctx)
    written = publish(dep.registry, Path(out_dir), moment(ctx, now), dep.cfg.agency)
    click.echo("wrote " + ", ".join(str(p) for p in written))
