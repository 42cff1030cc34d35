"""``mailintake report``: service statistics (R28). ``report acks``: the share
of applications acknowledged on time (R4), the late ones listed;
``report satisfaction``: the satisfaction scores given (R26)."""

from __future__ import annotations

import re
from typing import Any

import click

from mailintake.base.errors import UserError
from mailintake.cli.common import deployment
from mailintake.cli.output import CSV, JSON, NL, emit, output_options, print_json
from mailintake.desk.satisfaction import counted
from mailintake.desk.watchdog import on_time


@click.group("report")
def report_group() -> None:
    """Service statistics: acknowledgements on time, satisfaction (R4, R26, R28).

    Example: mailintake report acks --month 2026-01
    """


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value or ""):
        raise UserError(f"--month: expected YYYY-MM, got {value!r}")
    return value


def _acks_lines(data: dict[str, Any]) -> list[str]:
    rate = "-" if data["rate_percent"] is None else f"{data['rate_percent']}%"
    lines = [f"{data['month']}: {data['on_time']} of {data['applications']} applications acknowledged on time ({rate})"]
    for a in data["late"]:
        acked = a["acknowledged_at"] or ("withheld (answer by hand)" if a["withheld"] else "not acknowledged")
        lines.append(f"  late: {a['transaction_id']}  due {a['ack_due_at']}  acknowledged {acked}")
    return lines


@report_group.command("acks")
@click.option("--month", required=True, help="The month, YYYY-MM (applications deemed received in it).")
@output_options()
@click.pass_context
def report_acks(ctx: click.Context, month: str, fmt: str) -> None:
    """Acknowledgements accepted by SMTP before their deadline, of all applications deemed received in the month (R4).

    --json gives the totals and the late ones; --csv and --nl one row per late application.

    Example: mailintake report acks --month 2026-01 --json
    """
    data = on_time(deployment(ctx), _month(month))
    if fmt == JSON:
        print_json(data)
    elif fmt in (CSV, NL):
        emit(data["late"], fmt, lambda rows: [])
    else:
        for line in _acks_lines(data):
            click.echo(line)


@report_group.command("satisfaction")
@click.option("--month", help="Only scores given in this month, YYYY-MM.")
@output_options()
@click.pass_context
def report_satisfaction(ctx: click.Context, month: str | None, fmt: str) -> None:
    """Satisfaction scores (1-5) applicants gave in reply to the closing notice (R26).

    Example: mailintake report satisfaction --month 2026-01
    """
    data = counted(deployment(ctx).registry, _month(month) if month else None)
    if fmt == JSON:
        print_json(data)
    elif fmt in (CSV, NL):
        emit([{"score": k, "answers": v} for k, v in data["scores"].items()], fmt, lambda rows: [])
    else:
        mean = "-" if data["mean"] is None else data["mean"]
        each = ", ".join(f"{k}: {v}" for k, v in data["scores"].items())
        click.echo(f"{data['month'] or 'all months'}: {data['answers']} answer(s), mean {mean} ({each})")
