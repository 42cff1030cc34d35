"""What is checked before an approval (issue 13), as commands the triage group
carries (as it carries ``triage route``): ``triage doc``, the clerk saying which
file received is which document of the service, and ``triage check``, the power
of attorney and e-Stamp as found (R15); and the checklist's lines in ``triage show``."""

from __future__ import annotations

from typing import Any

import click

from mailintake.cli.common import deployment, moment, now_option
from mailintake.desk import checklist
from mailintake.desk.lifecycle import Desk


@click.command("doc")
@click.argument("transaction_id")
@click.argument("document")
@click.argument("file")
@now_option
@click.pass_context
def doc(ctx: click.Context, transaction_id: str, document: str, file: str, now: str | None) -> None:
    """Match a required document (its number or name in `triage show`) to a file (its number or name in `triage files`).

    Example: mailintake triage doc SRB-2569-000001 2 3
    """
    item = checklist.tick(Desk(deployment(ctx)), transaction_id, document, file, moment(ctx, now))
    click.echo(
        f"{transaction_id.upper()}: document {item.number} ({item.document.name_en}) is {item.file.name if item.file else '-'}"
    )


def show_lines(app: dict[str, Any]) -> list[str]:
    """The checklist and what blocks the approval, for ``triage show``."""
    lines = ["\nDocuments:"] if app.get("checklist") else []
    for d in app.get("checklist") or []:
        got = f"file {d['file_number']}. {d['file']} ({d['matched']})" if d["file"] else "MISSING" if d["required"] else "-"
        lines.append(f"  {d['number']}. {d['name_th']} / {d['name_en']}{'' if d['required'] else ' (optional)'}: {got}")
    for b in app.get("approval_blocked_by") or []:
        lines.append(f"Approval blocked: {b['text']}{' (--override REASON)' if b['overridable'] else ''}")
    return lines


@click.command("check")
@click.argument("transaction_id")
@click.option("--poa", type=click.Choice(["ok", "missing", "invalid"]), help="Power of attorney.")
@click.option("--stamp", type=click.Choice(["ok", "missing", "na"]), help="e-Stamp duty.")
@now_option
@click.pass_context
def check(ctx: click.Context, transaction_id: str, poa: str | None, stamp: str | None, now: str | None) -> None:
    """Record the power of attorney and e-Stamp check (R15); a juristic application needs both before approval (R9).

    Example: mailintake triage check SRB-2568-000001 --poa ok --stamp na
    """
    Desk(deployment(ctx)).check_documents(transaction_id, poa, stamp, moment(ctx, now))
    click.echo(f"{transaction_id.upper()}: power of attorney {poa or '-'}, e-Stamp {stamp or '-'}")
