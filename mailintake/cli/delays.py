"""``mailintake delays``: the s.10 delay register the OPDC form asks for (request
number, agency, process, date of application, citizen manual, time per
manual, due date, each notice sent), and a run of the notice job."""

from __future__ import annotations

import csv
import io
from typing import Any

import click

from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import CSV, JSON, NL, emit, output_options
from mailintake.desk import delays
from mailintake.ops.reports import spreadsheet_safe
from mailintake.ops.sending import send_after_step, unsent

# The register's columns: key, Thai heading (the OPDC form's words), English heading.
COLUMNS = (
    ("request_number", "เลขที่คำขอ", "Request number"),
    ("agency", "หน่วยงานรับผิดชอบ", "Agency"),
    ("process", "กระบวนการ", "Process"),
    ("date_of_application", "วันที่ประชาชนยื่นคำขอ", "Date of application"),
    ("citizen_manual", "คู่มือ", "Citizen manual"),
    ("time_per_manual_days", "ระยะเวลาดำเนินการรวมตามคู่มือ (วันทำการ)", "Time per manual (working days)"),
    ("due_at", "วันที่ครบกำหนดการดำเนินการ", "Due date"),
    ("notices", "วันที่แจ้งเหตุล่าช้า", "Delay notices sent"),
    ("opdc_email", "สำเนาถึง ก.พ.ร.", "Copy to OPDC"),
)


@click.group("delays")
def delays_group() -> None:
    """The s.10 delay register: late applications and the delay notices sent (R25).

    Example: mailintake delays list
    """


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_number": row["request_number"],
        "agency": f"{row['agency_th']} / {row['agency_en']}",
        "process": " / ".join(p for p in (row["process_th"], row["process_en"]) if p) or "-",
        "date_of_application": row["date_of_application"],
        "citizen_manual": row["citizen_manual"] or "-",
        "time_per_manual_days": row["time_per_manual_days"],
        "due_at": row["due_at"] or "",
        "notices": "; ".join(f"{n['number']}: {n['sent_at']}" for n in row["notices"]),
        "opdc_email": row["opdc_email"] or "",
    }


def _table(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        left = r["working_days_left"]
        sent = ", ".join(f"#{n['number']} {n['sent_at'][:10]}" for n in r["notices"]) or "none yet"
        lines.append(
            f"{r['request_number']}  {r['process'] or 'unassigned'}  due {r['due_at'] or '-'}  "
            f"{'' if left is None else f'{-left} working days late  ' if left < 0 else ''}notices: {sent}"
        )
    if rows and not rows[0]["opdc_email"]:
        lines.append("warning: [lifecycle] opdc_email is not set: no copy of a delay notice goes to OPDC")
    return lines or ["no late application"]


@delays_group.command("list")
@now_option
@output_options()
@click.pass_context
def delays_list(ctx: click.Context, fmt: str, now: str | None = None) -> None:
    """Applications past their due date, or with a delay notice sent, and each notice's date.

    Example: mailintake delays list --json
    """
    emit(delays.register_rows(deployment(ctx), moment(ctx, now)), fmt, _table)


def register_csv(rows: list[dict[str, Any]], lang: str) -> str:
    """The register as CSV for a spreadsheet: a BOM (so Excel reads UTF-8 Thai),
    the form's headings, and every cell neutralised against formulas."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([th if lang == "th" else en for _k, th, en in COLUMNS])
    for row in rows:
        flat = _flat(row)
        writer.writerow([spreadsheet_safe(str(flat[k])) for k, _th, _en in COLUMNS])
    return "\ufeff" + buf.getvalue()


@delays_group.command("export")
@now_option
@output_options(default=CSV, formats=(JSON, CSV, NL))
@click.option("--lang", type=click.Choice(["th", "en"]), default="th", help="Column headings in Thai or English.")
@click.pass_context
def delays_export(ctx: click.Context, fmt: str, lang: str, now: str | None = None) -> None:
    """The register for the OPDC form, as CSV (UTF-8 with a BOM) or JSON.

    Example: mailintake delays export --csv > delays.csv
    """
    rows = delays.register_rows(deployment(ctx), moment(ctx, now))
    if fmt == CSV:
        click.echo(register_csv(rows, lang), nl=False)
    else:
        emit(rows, fmt, _table)


@delays_group.command("run")
@now_option
@click.pass_context
def delays_run(ctx: click.Context, now: str | None) -> None:
    """Send the delay notices and clerk reminders due, close finished applications.

    Example: mailintake delays run --now 2026-01-05T08:30:00+07:00
    """
    dep, when = deployment(ctx), moment(ctx, now)
    done = delays.send_due_delay_notices(dep, when)
    closed = delays.close_finished(dep, when)
    left = unsent(send_after_step(dep, when))
    notices = sum(1 for d in done if d["kind"] == "notice")
    click.echo(f"{notices} delay notice(s), {len(done) - notices} reminder(s), {len(closed)} closed")
    if left:
        click.echo(f"warning: {left} email(s) not sent yet: see `mailintake outbox list`", err=True)
