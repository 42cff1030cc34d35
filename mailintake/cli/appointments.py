"""``mailintake appointments``: appointments at the counter (R10): offer the
next free slots by email, cancel a booking, and the day's queue."""

from __future__ import annotations

import re
from typing import Any

import click

from mailintake.base.errors import UserError
from mailintake.cli.book import parse_day_option
from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import emit, output_options
from mailintake.desk.appointment_days import day_queue
from mailintake.desk.appointments import book_by_clerk, cancel_by_clerk, offer_by_clerk
from mailintake.desk.roles import require
from mailintake.ops.sending import send_after_step, unsent


@click.group("appointments")
def appointments_group() -> None:
    """Appointments at the counter: offer free slots, book, cancel, the day's queue (R10).

    Example: mailintake appointments list --date 2025-12-11
    """


def _send(ctx: click.Context, when: Any) -> None:
    left = unsent(send_after_step(deployment(ctx), when))
    if left:
        click.echo(f"warning: {left} email(s) not sent yet: see `mailintake outbox list`", err=True)


@appointments_group.command("offer")
@click.argument("transaction_id")
@click.option("--kind", help="The kind of visit ([[appointments.kinds]] id; default: [appointments] default_kind).")
@now_option
@click.pass_context
def appointments_offer(ctx: click.Context, transaction_id: str, kind: str | None, now: str | None) -> None:
    """Email the applicant the next free slots, numbered; they book by replying with a number (clerk).

    Example: mailintake appointments offer SRB-2568-000001 --kind identity
    """
    when = moment(ctx, now)
    offered = offer_by_clerk(deployment(ctx), transaction_id.upper(), kind, when)
    _send(ctx, when)
    click.echo(f"{transaction_id.upper()}: {len(offered)} free slot(s) offered")
    for s in offered:
        click.echo(f"  {s['n']}. {s['day']} {s['time']}")


@appointments_group.command("book")
@click.argument("transaction_id")
@click.option("--at", "at", required=True, help="The slot, 'YYYY-MM-DD HH:MM' (one of the kind's slot times).")
@click.option("--kind", help="The kind of visit (default: [appointments] default_kind).")
@now_option
@click.pass_context
def appointments_book(ctx: click.Context, transaction_id: str, at: str, kind: str | None, now: str | None) -> None:
    """Book a slot for an applicant who phoned or came by; they get the confirmation and invitation (clerk).

    Example: mailintake appointments book SRB-2568-000001 --at "2025-12-11 09:30"
    """
    when = moment(ctx, now)
    found = re.fullmatch(r"\s*(\S+)\s+(\d{1,2}:\d{2})\s*", at)
    if found is None:
        raise click.BadParameter(f"expected 'YYYY-MM-DD HH:MM' (B.E. or C.E. year), got {at!r}", param_hint="--at")
    at = f"{parse_day(found.group(1), '--at')} {int(found.group(2).split(':')[0]):02d}:{found.group(2).split(':')[1]}"
    appt = book_by_clerk(deployment(ctx), transaction_id.upper(), at, kind, when)
    _send(ctx, when)
    click.echo(f"{appt.transaction_id}: booked {appt.day} {appt.slot}, queue {appt.queue_number}")


@appointments_group.command("cancel")
@click.argument("transaction_id")
@click.option("--reason", default="", help="Why (sent to the applicant).")
@now_option
@click.pass_context
def appointments_cancel(ctx: click.Context, transaction_id: str, reason: str, now: str | None) -> None:
    """Cancel the application's booking; the slot is free again and the applicant told (clerk).

    Example: mailintake appointments cancel SRB-2568-000001 --reason "office closed for training"
    """
    when = moment(ctx, now)
    appt = cancel_by_clerk(deployment(ctx), transaction_id.upper(), reason, when)
    _send(ctx, when)
    click.echo(f"{appt.transaction_id}: appointment {appt.day} {appt.slot} (queue {appt.queue_number}) cancelled")


HEADER = f"{'Q':>3}  {'TIME':<11}  {'DAY':<10}  {'TRANSACTION':<15}  {'KIND':<10} {'STATUS':<9} APPLICANT"


def _lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{r['queue_number']:>3}  {r['time']}-{r['ends']}  {r['day']}  {r['transaction_id']:<15}  {r['kind']:<10} "
        f"{r['status']:<9} {r['applicant_name'] or ''}"
        for r in rows
    ]
    return [HEADER, *lines] if lines else ["no appointment"]


def parse_day(text: str, option: str = "--date") -> str:
    """``--date`` as the counter types it: 2025-12-09, 20251209 or a Buddhist-era
    year (2568-12-09), read by ``book print``'s parser; else one line refused."""
    compact = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text.strip())
    try:
        return parse_day_option("-".join(compact.groups()) if compact else text, option).isoformat()
    except click.BadParameter:
        raise UserError(f"{option}: expected YYYY-MM-DD or YYYYMMDD (B.E. or C.E. year), got {text!r}") from None


def show_lines(app: dict[str, Any]) -> list[str]:
    """The booking and the last offer, for ``triage show``."""
    appt, offer = app.get("appointment"), app.get("appointment_offer")
    lines = []
    if appt:
        lines.append(
            f"Appointment:   {appt['kind']} {appt['day']} {appt['time']}, queue {appt['queue_number']}: {appt['status']}"
        )
    if offer:
        used = "booked from it" if offer["used"] else "open"
        lines.append(
            f"Last offer:    {offer['offered_at']} ({offer['why']}, {offer['kind']}): {', '.join(offer['slots']) or 'no free slot'}; {used}"
        )
    return lines


@appointments_group.command("list")
@click.option("--date", "day", help="The day: YYYY-MM-DD, YYYYMMDD, or with the Buddhist-era year (2568-12-11).")
@click.option("--id", "tid", metavar="TID", help="Instead of --date: every booking of one application.")
@now_option
@output_options()
@click.pass_context
def appointments_list(ctx: click.Context, day: str | None, tid: str | None, now: str | None, fmt: str) -> None:
    """The day's queue for the counter, or one application's bookings: queue number, time, kind, status (clerk).

    Example: mailintake appointments list --date 2025-12-11 --json
    """
    if (day is None) == (tid is None):
        raise UserError("give --date DAY or --id TID (one of them)")
    dep = deployment(ctx)
    require(dep.cfg, "clerk", "approver")
    when = moment(ctx, now)
    if tid is not None:
        emit(day_queue(dep, when, tid=tid.strip().upper()), fmt, _lines)
    else:
        emit(day_queue(dep, when, day=parse_day(day or "")), fmt, _lines)
