"""``mailintake reminders list``: every reminder sent to an applicant before a
deadline (fee, documents, permit expiry, periodic reports) and every
withdrawal for documents that never came (R26)."""

from __future__ import annotations

from typing import Any

import click

from mailintake.cli.common import deployment
from mailintake.cli.output import emit, output_options
from mailintake.desk.reminders import listing


@click.group("reminders")
def reminders_group() -> None:
    """Reminders sent before deadlines, and withdrawals (R26).

    Example: mailintake reminders list
    """


def _lines(rows: list[dict[str, Any]]) -> list[str]:
    return [
        f"{r['sent_at'][:16].replace('T', ' ')}  {r['transaction_id']}  {r['kind']:<24} due {r['due_on']}  to {r['recipient'] or '-'}"
        for r in rows
    ] or ["no reminder sent yet"]


@reminders_group.command("list")
@output_options()
@click.pass_context
def reminders_list(ctx: click.Context, fmt: str) -> None:
    """Each reminder and withdrawal sent: when, the application, the kind, its due date, to whom.

    Example: mailintake reminders list --json
    """
    emit(listing(deployment(ctx)), fmt, _lines)
