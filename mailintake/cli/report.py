"""``mailintake report``: service statistics (R28). ``report acks``: the share
of applications acknowledged on time (R4), the late ones listed;
``report satisfaction``: the satisfaction scores given (R26)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mailintake.base.errors import UserError
from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import CSV, JSON, NL, emit, json_option, output_options, print_json
from mailintake.desk.months import begun, parse_month
from mailintake.desk.satisfaction import counted
from mailintake.desk.watchdog import on_time
from mailintake.ops.monthly import write_monthly


@click.group("report")
def report_group() -> None:
    """Statistics: acks on time, satisfaction, the monthly report (R4, R26, R28).

    Example: mailintake report acks --month 2026-01
    """


def _month(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--month`` as a common-era ``YYYY-MM`` (``desk.months.parse_month``:
    B.E. or C.E., any script's digits); a bad one is a usage error (exit 2)."""
    if value is None:
        return None
    ctx.meta["report.month_typed"] = value  # messages name the month as typed
    try:
        return parse_month(value)
    except UserError as e:
        raise click.BadParameter(str(e).removeprefix("--month: "), ctx=ctx, param=param) from None


def _out(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    """``--out`` as a path; an empty one (which would be the current
    directory) is a usage error (exit 2)."""
    if not value.strip():
        raise click.BadParameter("empty: name the directory to write the report into", ctx=ctx, param=param)
    return Path(value)


def _acks_lines(data: dict[str, Any]) -> list[str]:
    rate = "-" if data["rate_percent"] is None else f"{data['rate_percent']}%"
    lines = [f"{data['month']}: {data['on_time']} of {data['applications']} applications acknowledged on time ({rate})"]
    for a in data["late"]:
        acked = a["acknowledged_at"] or ("withheld (answer by hand)" if a["withheld"] else "not acknowledged")
        lines.append(f"  late: {a['transaction_id']}  due {a['ack_due_at']}  acknowledged {acked}")
    return lines


@report_group.command("acks")
@click.option(
    "--month", required=True, callback=_month, help="The month, YYYY-MM (applications deemed received in it; B.E. 2569-01 too)."
)
@output_options()
@click.pass_context
def report_acks(ctx: click.Context, month: str, fmt: str) -> None:
    """Acknowledgements accepted by SMTP before their deadline, of all applications deemed received in the month (R4).

    --json gives the totals and the late ones; --csv and --nl one row per late application.

    Example: mailintake report acks --month 2026-01 --json
    """
    data = on_time(deployment(ctx), month)
    if fmt == JSON:
        print_json(data)
    elif fmt in (CSV, NL):
        emit(data["late"], fmt, lambda rows: [])
    else:
        for line in _acks_lines(data):
            click.echo(line)


@report_group.command("satisfaction")
@click.option("--month", callback=_month, help="Only scores given in this month, YYYY-MM (B.E. 2569-01 too).")
@output_options()
@click.pass_context
def report_satisfaction(ctx: click.Context, month: str | None, fmt: str) -> None:
    """Satisfaction scores (1-5) applicants gave in reply to the closing notice (R26).

    Example: mailintake report satisfaction --month 2026-01
    """
    data = counted(deployment(ctx).registry, month)
    if fmt == JSON:
        print_json(data)
    elif fmt in (CSV, NL):
        emit([{"score": k, "answers": v} for k, v in data["scores"].items()], fmt, lambda rows: [])
    else:
        mean = "-" if data["mean"] is None else data["mean"]
        each = ", ".join(f"{k}: {v}" for k, v in data["scores"].items())
        click.echo(f"{data['month'] or 'all months'}: {data['answers']} answer(s), mean {mean} ({each})")


@report_group.command("monthly")
@click.option(
    "--month",
    required=True,
    callback=_month,
    help="The month, YYYY-MM; a Buddhist-era year (2569-01) is read as such, Thai digits too. Not one still to come.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    callback=_out,
    help="The directory to write into (not empty).",
)
@now_option
@json_option
@click.pass_context
def report_monthly(ctx: click.Context, month: str, out: Path, now: str | None, as_json: bool) -> None:
    """The month's service statistics, recomputed from the audit events, as
    report.csv (UTF-8 with a BOM), report.json, charts/*.png, index.html
    (Thai and English) and report.pdf in --out (R28; no personal data).

    --now: the time the report is made at (the clock by default): only what
    happened by then counts, and a month not over by then is marked partial.

    Example: mailintake report monthly --month 2569-01 --out /srv/stats/2026-01
    """
    dep = deployment(ctx)
    when = moment(ctx, now)
    begun(month, when, dep.calendar.tz, ctx.meta.get("report.month_typed"))  # named as typed, and in C.E.
    data = write_monthly(dep.cfg, dep.registry, month, out, now=when)
    if as_json:
        print_json(data)
        return
    f = data["figures"]
    if data["partial"]:
        click.echo(f"{data['month']} is not over: partial figures, up to {data['up_to']}")
    click.echo(
        f"{data['month']}: {f['received']} application(s) received, {f['finished']} finished "
        f"({f['finished_within_time']} within time), {f['acks_on_time']} acknowledged on time"
    )
    for name in data["files"]:
        click.echo(f"  wrote {out / name}")
