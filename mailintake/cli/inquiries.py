"""``mailintake inquiries``: questions sent to the central mailbox, and the FAQ
to publish, written by the clerks in their own words (``desk.faq``)."""

from __future__ import annotations

import click

from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import emit, output_options
from mailintake.desk.faq import add_entry, published, remove_entry
from mailintake.desk.office import Office
from mailintake.ops.listings import faq_lines


@click.group()
def inquiries() -> None:
    """Questions sent to the central mailbox (process 1).

    Example: mailintake inquiries faq --json
    """


@inquiries.group("faq", invoke_without_command=True)
@output_options()
@click.pass_context
def inquiries_faq(ctx: click.Context, fmt: str) -> None:
    """The FAQ for publishing: only the entries clerks added with `faq add`.

    Example: mailintake inquiries faq > faq.txt
    """
    if ctx.invoked_subcommand is None:
        emit(published(Office(deployment(ctx))), fmt, faq_lines)


@inquiries_faq.command("list")
@output_options()
@click.pass_context
def inquiries_faq_list(ctx: click.Context, fmt: str) -> None:
    """The FAQ for publishing (the same as `inquiries faq`).

    Example: mailintake inquiries faq list --json
    """
    emit(published(Office(deployment(ctx))), fmt, faq_lines)


@inquiries_faq.command("add")
@click.argument("transaction_id")
@click.option("--question", required=True, help="The question, in your own words (nothing the citizen wrote is copied).")
@click.option("--answer", required=True, help="The answer to publish.")
@now_option
@click.pass_context
def inquiries_faq_add(ctx: click.Context, transaction_id: str, question: str, answer: str, now: str | None) -> None:
    """Add an answered inquiry to the public FAQ, worded by you (clerk).

    Example: mailintake inquiries faq add SRB-2568-000007 --question "Open on Saturdays?" --answer "No."
    """
    entry = add_entry(Office(deployment(ctx)), transaction_id, question, answer, moment(ctx, now))
    click.echo(f"FAQ entry {entry['id']} added from {entry['transaction_id']}")


@inquiries_faq.command("remove")
@click.argument("entry_id", type=int)
@now_option
@click.pass_context
def inquiries_faq_remove(ctx: click.Context, entry_id: int, now: str | None) -> None:
    """Take an entry out of the public FAQ (clerk).

    Example: mailintake inquiries faq remove 3
    """
    remove_entry(Office(deployment(ctx)), entry_id, moment(ctx, now))
    click.echo(f"FAQ entry {entry_id} removed")
