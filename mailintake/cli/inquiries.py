"""``mailintake inquiries``: questions sent to the central mailbox, and the
answered ones as question and answer pairs to publish."""

from __future__ import annotations

import click

from mailintake.cli.common import deployment
from mailintake.cli.output import emit, output_options
from mailintake.ops.listings import faq_lines
from mailintake.ops.reports import faq


@click.group()
def inquiries() -> None:
    """Questions sent to the central mailbox (process 1).

    Example: mailintake inquiries faq --json
    """


@inquiries.command("faq")
@output_options()
@click.pass_context
def inquiries_faq(ctx: click.Context, fmt: str) -> None:
    """Question and answer pairs of answered inquiries, for publishing.

    Example: mailintake inquiries faq > faq.txt
    """
    dep = deployment(ctx)
    emit(faq(dep.registry, dep.store), fmt, faq_lines)
