"""``mailintake payments``: fee slips waiting for finance, confirmed or refused (R17)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailintake.base.errors import UserError
from mailintake.cli.common import deployment, now_option
from mailintake.cli.output import emit, output_options
from mailintake.cli.triage import step
from mailintake.desk.payments import parse_amount, receipt_copy, receipt_file_name, receipts_issued
from mailintake.desk.queries import payments_waiting
from mailintake.desk.roles import require
from mailintake.ops.listings import PAYMENTS, Column, TableView

RECEIPTS = TableView(
    (
        Column("label", "E-RECEIPT", 12),
        Column("transaction_id", "TRANSACTION", 16),
        Column("issued_at", "ISSUED", 25),
        Column("amount", "BAHT", 7),
        Column("reference", "REFERENCE", 20),
        Column("issued_by", "BY", 12),
    )
)


@click.group()
def payments() -> None:
    """Fee payments (finance, R17).

    Example: mailintake payments list
    """


@payments.command("list")
@click.option("--receipts", "issued", is_flag=True, help="The official e-receipts issued instead, newest first.")
@output_options()
@click.pass_context
def payments_list(ctx: click.Context, fmt: str, issued: bool) -> None:
    """Slips waiting for confirmation, oldest first (finance); with
    --receipts, the e-receipts issued: number, application, date, amount,
    reference, officer (finance, clerks).

    Example: mailintake payments list --receipts --json
    """
    dep = deployment(ctx)
    if issued:
        emit(receipts_issued(dep), fmt, RECEIPTS)
        return
    require(dep.cfg, "finance")
    emit(payments_waiting(dep.registry), fmt, PAYMENTS)


@payments.command("receipt")
@click.argument("ref", metavar="ID")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Where to write it; - for stdout (through the clerks' socket: > file). Default: its own name here.",
)
@click.pass_context
def payments_receipt(ctx: click.Context, ref: str, out: Path | None) -> None:
    """A copy of an e-receipt PDF exactly as sent, by its number or its
    application's ID (the latest); finance, clerks.

    Example: mailintake payments receipt SRB-2568-000001 --out receipt.pdf
    """
    found, pdf = receipt_copy(deployment(ctx), ref)
    if out is not None and str(out) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(pdf)
        sys.stdout.buffer.flush()
        return
    target = out or Path(receipt_file_name(found["label"]))
    try:
        target.write_bytes(pdf)
    except OSError as exc:  # no such folder, not allowed, a folder by that name, disk full
        raise UserError(f"cannot write {target}: {exc.strerror or exc}") from exc
    click.echo(f"e-receipt {found['label']} of {found['transaction_id']} ({found['amount']:,} baht) written to {target}")


@payments.command("confirm")
@click.argument("transaction_id")
@click.option("--amount", required=True, help="The amount paid, in whole baht: 200 or 200.00 (must be the fee).")
@click.option("--reference", "--ref", "ref", required=True, help="The bank or PromptPay reference of the payment.")
@now_option
@click.pass_context
def payments_confirm(ctx: click.Context, transaction_id: str, amount: str, ref: str, now: str | None) -> None:
    """Confirm a payment: the amount and reference are recorded, and the
    applicant gets the official e-receipt (PDF) with the confirmation (finance).

    Example: mailintake payments confirm SRB-2568-000001 --amount 200 --reference 20251210-778812
    """
    step(ctx, "confirm-payment", transaction_id, now, ref=ref, amount=parse_amount(amount))


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
