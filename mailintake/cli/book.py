"""``mailintake book``: the official registry book (ทะเบียนหนังสือรับ, issue 16):
print it by day or month, check its numbers, add a document that came by hand
or by post, cancel a number, go on from the paper book, stamp a received PDF,
list what is past retention and record its approved destruction, export the
lines for another e-saraban; and ``triage route`` (the การปฏิบัติ column), which the triage group carries."""

from __future__ import annotations

import calendar
import csv
import io
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from mailintake.base.errors import UserError
from mailintake.base.thaitext import ce_year
from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import CSV, JSON, NL, emit, json_option, output_options, print_json
from mailintake.desk import book, retention
from mailintake.ops.listings import Column, table_lines
from mailintake.ops.reports import spreadsheet_safe


@click.group("book")
def book_group() -> None:
    """The registry book: every incoming document numbered, printed by day, routed, stamped.

    Example: mailintake book print --date 2026-01-05
    """


def parse_day_option(text: str, option: str) -> date:
    """A day as the counter types it: YYYY-MM-DD, the year B.E. or C.E. (``book``, ``appointments``)."""
    found = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text.strip())
    try:
        if found is None:
            raise ValueError
        return date(ce_year(int(found.group(1))), int(found.group(2)), int(found.group(3)))
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD (B.E. or C.E. year), got {text!r}", param_hint=option) from None


def _span(day: str | None, month: str | None, today: date) -> tuple[date, date]:
    if day and month:
        raise click.UsageError("give --date or --month, not both")
    if month:
        found = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
        if found is None or not 1 <= int(found.group(2)) <= 12:
            raise click.BadParameter(f"expected YYYY-MM, got {month!r}", param_hint="--month")
        year, m = ce_year(int(found.group(1))), int(found.group(2))
        return date(year, m, 1), date(year, m, calendar.monthrange(year, m)[1])
    one = parse_day_option(day, "--date") if day else today
    return one, one


def _lines(days: list[dict[str, Any]]) -> list[str]:
    columns = [Column(k, th, w) for (k, th, _en), w in zip(book.COLUMNS, (11, 16, 14, 24, 16, 30, 24, 20, 18, 10), strict=True)]
    out: list[str] = []
    for day in days:
        out += [day["heading"], *table_lines(day["lines"], columns), ""]
    return out or ["(none)"]


def book_csv(days: list[dict[str, Any]]) -> str:
    """The book for a spreadsheet: a BOM (so Excel reads UTF-8 Thai), Thai
    headings, the registration day first, every cell neutralised against formulas."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["วันที่ลงทะเบียน", *(th for _k, th, _en in book.COLUMNS)])
    for day in days:
        for line in day["lines"]:
            writer.writerow([day["day"], *(spreadsheet_safe(str(line[k])) for k, _th, _en in book.COLUMNS)])
    return "\ufeff" + buf.getvalue()


@book_group.command("print")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="One day of the book (default: today).")
@click.option("--month", metavar="YYYY-MM", help="A whole month of the book.")
@click.option("--pdf", "pdf_out", type=click.Path(dir_okay=False), help="Write it as a PDF (landscape A4) to this file.")
@output_options()
@click.pass_context
def book_print(ctx: click.Context, day: str | None, month: str | None, pdf_out: str | None, fmt: str) -> None:
    """The incoming register in its eight columns, grouped by day under the paper book's heading.

    Example: mailintake book print --month 2026-01 --pdf book-2569-01.pdf
    """
    dep = deployment(ctx)
    first, last = _span(day, month, moment(ctx, None).date())
    days = retention.annotate(dep, book.pages(dep.registry, first, last))
    if pdf_out:
        from mailintake.permits.bookprint import book_pdf

        title = book.heading(first) if first == last else f"ทะเบียนหนังสือรับ {first.isoformat()} - {last.isoformat()}"
        Path(pdf_out).write_bytes(book_pdf(title, days, book.COLUMNS))
        click.echo(f"wrote {sum(len(d['lines']) for d in days)} line(s) on {len(days)} day(s) to {pdf_out}", err=True)
        return
    if fmt == CSV:
        click.echo(book_csv(days), nl=False)
    elif fmt == JSON:
        print_json(days)
    else:
        emit([line for d in days for line in d["lines"]] if fmt == NL else days, fmt, _lines)


@book_group.command("check")
@click.option("--year", type=int, help="Only this year (B.E. or C.E.); default: every year.")
@output_options()
@click.pass_context
def book_check(ctx: click.Context, year: int | None, fmt: str) -> None:
    """Report every gap and duplicate number in the book; exit 1 when there is one.

    Example: mailintake book check --year 2569
    """
    found = book.check(deployment(ctx).registry, ce_year(year) if year else None)
    emit(
        found,
        fmt,
        lambda rows: [f"{r['problem']}: number {r['number']}/{r['be_year']}" for r in rows] or ["no gap, no duplicate"],
    )
    if found:
        sys.exit(1)


@book_group.command("add")
@click.option("--from", "sender", required=True, help="Who sent it (จาก).")
@click.option("--subject", required=True, help="Its subject (เรื่อง).")
@click.option("--to", "to", default="", help="Whom it is addressed to (ถึง).")
@click.option("--reference", default="", help="The sender's own reference (ที่), e.g. มท 0808.2/ว 1234.")
@click.option("--dated", metavar="YYYY-MM-DD", help="The letter's date (ลงวันที่).")
@click.option("--file", "scan", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A scan to keep with it.")
@click.option("--channel", type=click.Choice(["walk-in", "post"]), default="walk-in", show_default=True)
@now_option
@click.pass_context
def book_add(
    ctx: click.Context,
    sender: str,
    subject: str,
    to: str,
    reference: str,
    dated: str | None,
    scan: Path | None,
    channel: str,
    now: str | None,
) -> None:
    """Register a document that came by hand or by post: it takes the book's next number.

    Example: mailintake book add --from "อำเภอบ้านใหม่" --subject "ขอเชิญประชุม" --reference "มท 0808.2/ว 12"
    """
    when = moment(ctx, now)
    row = book.add(
        deployment(ctx),
        sender=sender,
        subject=subject,
        to=to,
        reference=reference,
        dated=parse_day_option(dated, "--dated") if dated else None,
        scan=scan,
        channel=channel,
        now=when,
    )
    click.echo(f"registered as number {book.label(row)}")


@book_group.command("cancel")
@click.argument("number")
@click.option("--reason", required=True, help="Why the number is cancelled (kept in the book).")
@now_option
@click.pass_context
def book_cancel(ctx: click.Context, number: str, reason: str, now: str | None) -> None:
    """Cancel a number: its line stays in the book, marked, and the number is never given again.

    Example: mailintake book cancel 12 --reason "registered twice, see 13"
    """
    line = book.cancel(deployment(ctx), number, reason, moment(ctx, now))
    click.echo(f"number {book.label(line)} cancelled")


@book_group.command("start-at")
@click.argument("first", type=click.IntRange(min=1))
@now_option
@click.pass_context
def book_start_at(ctx: click.Context, first: int, now: str | None) -> None:
    """Go on from the paper book: this year's next number is FIRST.

    Example: mailintake book start-at 1204
    """
    done = book.start_at(deployment(ctx), first, moment(ctx, now))
    click.echo(f"the book of {done['be_year']} goes on from number {done['next']}")


@book_group.command("stamp")
@click.argument("transaction_id")
@now_option
@click.pass_context
def book_stamp(ctx: click.Context, transaction_id: str, now: str | None) -> None:
    """Make the stamped copy of an application's first PDF (otherwise made at first use).

    Example: mailintake book stamp SRB-2569-000001
    """
    made = book.stamp(deployment(ctx), transaction_id, moment(ctx, now))
    click.echo(f"{made['name']} sha256 {made['sha256']} (from {made['original_sha256']})")


@book_group.command("destruction-list")
@click.option("--year", type=int, help="The list's year (B.E. or C.E.; default: this year): what ran out before it began.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=".", show_default=True)
@now_option
@json_option
@click.pass_context
def book_destruction_list(ctx: click.Context, year: int | None, out: Path, now: str | None, as_json: bool) -> None:
    """Make and record this January's list of files past retention (บัญชีหนังสือขอทำลาย), CSV and PDF.

    Nothing is erased: the committee considers the list, then an admin records
    its approval with `book destroy`.

    Example: mailintake book destruction-list --year 2580 --out lists/
    """
    dep = deployment(ctx)
    when = moment(ctx, now)
    made = retention.make_list(dep, year or dep.calendar.local(when).year, out, when)
    if as_json:
        print_json(made)
        return
    if made["id"] is None:
        click.echo(f"nothing past retention before {made['be_year']}: no list made")
        return
    click.echo(f"list {made['id']}: {len(made['items'])} file(s) past retention; wrote {made['csv']} and {made['pdf']}")


@book_group.command("destroy")
@click.option("--list", "list_id", type=int, required=True, help="The destruction list's number.")
@click.option("--approved-by", required=True, help="Who approved it for the committee.")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD", help="The day of the approval (B.E. or C.E. year).")
@now_option
@json_option
@click.pass_context
def book_destroy(ctx: click.Context, list_id: int, approved_by: str, day: str, now: str | None, as_json: bool) -> None:
    """Record the committee's approval of a destruction list and erase its files (admin).

    The files go by the purge's engine (stored mail, files, stamped copies,
    personal fields); the book lines stay, with one audit event per item.

    Example: mailintake book destroy --list 3 --approved-by "นายสมศักดิ์ ประธานกรรมการ" --date 2580-02-10
    """
    from mailintake.ops.purge import purge as run_purge

    dep = deployment(ctx)
    when = moment(ctx, now)
    approved = retention.approve(dep, list_id, approved_by, parse_day_option(day, "--date"), when)
    report = run_purge(dep.cfg, dep.registry, when, actor=approved["recorded_by"], only_list=list_id)
    if as_json:
        print_json(
            {
                "list": list_id,
                "approved_by": approved["approved_by"],
                "approved_on": approved["approved_on"],
                "items": report.items,
                "files_removed": report.files_removed,
            }
        )
        return
    click.echo(f"list {list_id} approved by {approved['approved_by']} on {approved['approved_on']}: {report.summary()}")


@book_group.command("export")
@click.option("--since", required=True, metavar="YYYY-MM-DD", help="The first registration day to export.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="The directory to write.")
@now_option
@json_option
@click.pass_context
def book_export(ctx: click.Context, since: str, out: Path, now: str | None, as_json: bool) -> None:
    """Write the book's lines (book.json, book.csv) and their stamped PDFs (files/) for another e-saraban.

    The layout and the fields are in README ("Feeding an e-saraban").

    Example: mailintake book export --since 2569-01-01 --out /srv/exchange/saraban
    """
    done = retention.export(deployment(ctx), parse_day_option(since, "--since"), out, moment(ctx, now))
    if as_json:
        print_json(done)
        return
    click.echo(f"wrote {done['lines']} line(s) and {done['files']} file(s) to {done['out']}")


@click.command("route")
@click.argument("transaction_id")
@click.argument("unit")
@click.option("--note", default="", help="What the unit is to do.")
@now_option
@click.pass_context
def route(ctx: click.Context, transaction_id: str, unit: str, note: str, now: str | None) -> None:
    """Record which unit a document went to, and when (the book's การปฏิบัติ column).

    Example: mailintake triage route SRB-2569-000001 กองช่าง --note "ตรวจสถานที่"
    """
    line = book.route(deployment(ctx), transaction_id, unit, note, moment(ctx, now))
    click.echo(f"number {book.label(line)} routed to {unit}")


def stamped(ctx: click.Context, transaction_id: str) -> list[dict[str, Any]]:
    """The stamped copies of an application, made at first use (``triage files``, ``triage export``)."""
    try:
        return book.stamped_files(deployment(ctx), transaction_id)
    except UserError:
        return []
