"""``mailintake payments``: fee slips waiting for finance, confirmed or refused (R17)."""

from __future__ import annotations

import click

from mailintake.cli.common import deployment, now_option
from mailintake.cli.output import emit, output_options
from mailintake.cli.triage import step
from mailintake.desk.queries import payments_waiting
from mailintake.desk.roles import require
from mailintake.ops.listings import PAYMENTS


@click.group()
def payments() -> None:
    """Fee payments (finance, R17).

    Example: mailintake payments list
    """


@payments.command("list")
@output_options()
@click.pass_context
def payments_list(ctx: click.Context, fmt: str) -> None:
    """Slips waiting for confirmation, oldest first (finance).

    Example: mailintake payments list --json
    """
    dep = deployment(ctx)
    require(dep.cfg, "finance")
    emit(payments_waiting(dep.registry), fmt, PAYMENTS)


@payments.command("confirm")
@click.argument("transaction_id")
@click.option("--amount", type=click.IntRange(min=1), required=True, help="The amount paid, in baht (must be the fee).")
@click.option("--reference", "--ref", "ref", required=True, help="The bank or PromptPay reference of the payment.")
@now_option
@click.pass_context
def payments_confirm(ctx: click.Context, transaction_id: str, amount: int, ref: str, now: str | None) -> None:
    """Confirm a payment: the amount and reference are recorded, and the
    applicant gets the official e-receipt (PDF) with the confirmation (finance).

    Example: mailintake payments confirm SRB-2568-000001 --amount 200 --reference 20251210-778812
    """
    step(ctx, "confirm-payment", transaction_id, now, ref=ref, amount=amount)


@payments.command("reject")
@click.argument("transaction_id")
@click.option("--reason", required=True, help="Why the slip is not accepted (sent to the applicant).")
@now_option
@click.pass_context
def payments_reject(ctx: click.Context, transaction_id: str, reason: str, now: str | None) -> None:
    """Refuse a slip and ask for another (finance).

    Example: mailintake payments reject SRB-2568-000001 --reason "amount does not match"
    """
    step(ctx, "reject-payment", transaction_id, now, reason=reason)
