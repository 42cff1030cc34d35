"""``mailintake triage``: the clerk's register of applications, read and moved
along. Each step is one call on the desk; what it queues is sent at once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import click

from mailintake.base.wording import whole_dpi
from mailintake.cli import appointments as appointments_cli
from mailintake.cli import book as book_cli
from mailintake.cli import checklist as doc_cli
from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import emit, json_option, output_options, painter, print_json
from mailintake.desk import checklist, delays, retention
from mailintake.desk import held as held_mail
from mailintake.desk.lifecycle import Desk
from mailintake.desk.queries import list_applications, show_application
from mailintake.desk.roles import acting_login, require
from mailintake.ops.listings import APPLICATIONS, files_table, plain
from mailintake.ops.reports import export
from mailintake.ops.sending import send_after_step, unsent


# `triage route` is the registry book's (cli.book); `triage doc` and `triage check` the checklist's (cli.checklist).
@click.group(commands=[book_cli.route, doc_cli.doc, doc_cli.check])
def triage() -> None:
    """Read the register of applications.

    Example: mailintake triage list
    """


# --- reading ---------------------------------------------------------------------------------
@triage.command("list")
@click.option("--status", help="Only applications in this status.")
@click.option("--all", "include_closed", is_flag=True, help="Include closed applications.")
@click.option("--mine", is_flag=True, help="Only applications assigned to me.")
@click.option("--service", help="Only this service (or 'unassigned').")
@click.option("--overdue", is_flag=True, help="Only those past their acknowledgement or service deadline.")
@now_option
@output_options()
@click.pass_context
def triage_list(
    ctx: click.Context,
    status: str | None,
    include_closed: bool,
    fmt: str,
    mine: bool = False,
    service: str | None = None,
    overdue: bool = False,
    now: str | None = None,
) -> None:
    """Open applications, first come first served by deemed receipt.

    Example: mailintake triage list --json
    """
    when = moment(ctx, now)
    dep = deployment(ctx)
    rows = list_applications(
        dep.registry,
        status=status,
        include_closed=include_closed,
        mine=acting_login() if mine else None,
        service=service,
        overdue_at=when if overdue else None,
        now=when,
        cal=dep.calendar,
    )
    emit(rows, fmt, APPLICATIONS)


@triage.command("show")
@click.argument("transaction_id")
@json_option
@now_option
@click.pass_context
def triage_show(ctx: click.Context, transaction_id: str, as_json: bool, now: str | None = None) -> None:
    """Everything about one application: messages, files, deadlines, events.

    Example: mailintake triage show SRB-2568-000001
    """
    dep, office = deployment(ctx), desk(ctx)
    app = plain(show_application(dep.registry, transaction_id, moment(ctx, now), dep.calendar))
    app.update(delays.result_times(office, office.app(transaction_id)) | checklist.summary(office, office.app(transaction_id)))
    app["keep_until"] = retention.keep_until_of(dep, transaction_id)  # issue 16: B.E. year, "permanent" or None
    if as_json:
        print_json(app)
        return
    for line in _application_lines(app):
        click.echo(line)


def _receipt_source(app: dict[str, Any]) -> str:
    """Where the receipt time came from (R1), and the mailbox's time when it differs."""
    if app.get("receipt_source") != "received":
        return "by the mailbox, INTERNALDATE: no trusted Received header"
    shown = "by the agency's mail server, trusted Received header"
    internal, received = app.get("internaldate"), datetime.fromisoformat(app["received_at"])
    if internal and datetime.fromisoformat(internal) != received:
        shown += f"; the mailbox stored it at {datetime.fromisoformat(internal).astimezone(received.tzinfo).isoformat()}"
    return shown


def _left(app: dict[str, Any]) -> str:
    left, state = app.get("working_days_left"), (app.get("clock") or {}).get("state")
    paused = " (clock paused: information requested)" if state == "paused" else ""
    return "-" if left is None else f"{-left} OVERDUE" if left < 0 else f"{left}{paused}"


def _application_lines(app: dict[str, Any]) -> list[str]:
    lines = [
        f"{app['transaction_id']}  [{app['status']}]  service: {app['service'] or 'unassigned'}",
        f"Applicant:     {app['applicant_name'] or ''} <{app['applicant_email']}>"
        + (f"   replies go to: {app['reply_to']} (named by the applicant, R5)" if app.get("reply_to") else ""),
        f"Subject:       {app['subject']}",
        f"Received:      {app['received_at']}  ({_receipt_source(app)})",
        f"Deemed:        {app['deemed_received_at']}  ({app['ack_reason']})",
        f"Ack due:       {app['ack_due_at']}",
        f"Service due:   {app['due_at'] or '-'}   working days left: {_left(app)}   assigned to: {app['assigned_to'] or '-'}",
    ]
    for n in app.get("delay_notices") or []:
        lines.append(f"Delay notice {n['number']}: {n['sent_at']} to {n['to'] or '-'}, copy to OPDC {n['opdc'] or '-'}")
    if app["juristic"] or app["identity"] or app["poa"] or app["stamp"]:
        ident = app["identity"]["method"] if app["identity"] else "not verified"
        lines.append(
            f"Juristic:      {'yes' if app['juristic'] else 'no'}   identity: {ident}   "
            f"power of attorney: {app['poa'] or '-'}   e-Stamp: {app['stamp'] or '-'}"
        )
    if app["fee_amount"]:
        lines.append(f"Fee:           {app['fee_amount']} baht, due {app['fee_due_at']}; payment ref {app['payment_ref'] or '-'}")
    for r in app.get("receipts") or []:
        lines.append(f"e-Receipt:     {r['label']}  {r['amount']} baht  {r['issued_at']}  by {r['issued_by']}")
    if app["decision_reason"]:
        lines.append(f"Reason:        {app['decision_reason']}")
    keep = f"   keep until: {app['keep_until']} (B.E.)" if app.get("keep_until") else ""  # issue 16
    lines.append(f"Acknowledged:  {app['acknowledged_at'] or 'not yet'}{keep}")
    if app["problems"] or app["flags"]:
        lines.append(f"Problems:      {', '.join(app['problems']) or '-'}   flags: {', '.join(app['flags']) or '-'}")
    lines.append("\nFiles:")
    for i, f in enumerate(app["files"], 1):
        verdict = "ok" if f["accepted"] else f"PROBLEM {', '.join(f['problems'])}: {f['problem_en']}"
        dpi = f", {whole_dpi(f['dpi'])} dpi" if f["dpi"] else ""
        lines.append(f"  {i}. {f['name']} ({f['content_type']}, {f['size']} bytes{dpi}) {verdict}")
    lines += doc_cli.show_lines(app) + appointments_cli.show_lines(app) + ["\nMessages:"]
    for m in app["messages"]:
        lines.append(f"  #{m['id']} {m['kind']:11} {m['received_at']} from {m['from']} in {m['folder']}: {m['subject']}")
        lines.append(
            f"      Message-ID {m['message_id']}; Date: {m['date_header']}; fetched {m['fetched_at']}; "
            f"{len(m['received_chain'])} Received lines" + (f"; defects: {', '.join(m['defects'])}" if m["defects"] else "")
        )
    for h in app.get("held", []):
        lines.append(f"  #{h['id']} HELD        {h['received_at']} from {h['from']}: {h['reason']} ({len(h['files'])} files)")
    lines.append("\nOutgoing mail (read one with `mailintake outbox show ID`):")
    for o in app["outgoing"]:
        lines.append(
            f"  ID {o['id']:<4} {o['kind']:8} {o['status']:8} to {o['to']} {o['sent_at'] or ''} {o['message_id']}"
            + (f" ({o['last_error']})" if o["last_error"] else "")
        )
    lines.append("\nEvents:")
    for e in app["events"]:
        change = f" {e['status_before'] or '-'} -> {e['status_after']}" if e["status_after"] else ""
        lines.append(f"  {e['at']}  {e['actor']:8} {e['action']}{change}")
    return lines


@triage.command("files")
@click.argument("transaction_id")
@output_options()
@click.pass_context
def triage_files(ctx: click.Context, transaction_id: str, fmt: str) -> None:
    """The files of an application with their check results.

    Example: mailintake triage files SRB-2568-000001
    """
    files = plain(show_application(deployment(ctx).registry, transaction_id))["files"] + book_cli.stamped(ctx, transaction_id)
    emit(files, fmt, lambda rows: files_table(rows, painter()))


@triage.command("export")
@click.argument("transaction_id")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory to write to.")
@click.pass_context
def triage_export(ctx: click.Context, transaction_id: str, out_dir: str) -> None:
    """Write the raw emails, every file under a safe name and a one-page summary (R14).

    Example: mailintake triage export SRB-2568-000001 --out /srv/print/SRB-2568-000001
    """
    dep = deployment(ctx)
    require(dep.cfg, "clerk", "approver", "admin")
    written = export(dep.registry, dep.store, transaction_id, Path(out_dir), book_cli.stamped(ctx, transaction_id))
    click.echo(f"wrote {len(written)} files to {out_dir}")


# --- the clerk's steps -----------------------------------------------------------------------
def desk(ctx: click.Context) -> Desk:
    return Desk(deployment(ctx))


def send_now(ctx: click.Context, when: datetime) -> None:
    """Send what a step queued; what fails stays queued for the outbox's retries."""
    left = unsent(send_after_step(deployment(ctx), when))
    if left:
        click.echo(f"warning: {left} email(s) not sent yet: see `mailintake outbox list`", err=True)


def step(ctx: click.Context, verb: str, transaction_id: str, now: str | None, **kw: Any) -> None:
    """A step of the lifecycle (review, approve, a payment...), its mail sent at once."""
    when = moment(ctx, now)
    app = plain(desk(ctx).step(verb, transaction_id, when, **kw))
    send_now(ctx, when)
    click.echo(f"{app['transaction_id']}: {app['status']}")


@triage.command("take")
@click.argument("transaction_id")
@now_option
@click.pass_context
def triage_take(ctx: click.Context, transaction_id: str, now: str | None) -> None:
    """Assign an application to me (clerk).

    Example: mailintake triage take SRB-2568-000001
    """
    who = desk(ctx).take(transaction_id, moment(ctx, now))
    click.echo(f"{transaction_id.upper()} assigned to {who}")


@triage.command("assign")
@click.argument("transaction_id")
@click.argument("user")
@now_option
@click.pass_context
def triage_assign(ctx: click.Context, transaction_id: str, user: str, now: str | None) -> None:
    """Assign an application to a user (clerk or admin).

    Example: mailintake triage assign SRB-2568-000001 somchai
    """
    desk(ctx).assign(transaction_id, user, moment(ctx, now))
    click.echo(f"{transaction_id.upper()} assigned to {user}")


@triage.command("note")
@click.argument("transaction_id")
@click.argument("text")
@now_option
@click.pass_context
def triage_note(ctx: click.Context, transaction_id: str, text: str, now: str | None) -> None:
    """Add an internal note (never emailed).

    Example: mailintake triage note SRB-2568-000001 "called the applicant"
    """
    desk(ctx).note(transaction_id, text, moment(ctx, now))
    click.echo(f"note added to {transaction_id.upper()}")


@triage.command("review")
@click.argument("transaction_id")
@now_option
@click.pass_context
def triage_review(ctx: click.Context, transaction_id: str, now: str | None) -> None:
    """Start the review of a complete application (clerk); the applicant is told.

    Example: mailintake triage review SRB-2568-000001
    """
    step(ctx, "review", transaction_id, now)


@triage.command("request-info")
@click.argument("transaction_id")
@click.option("--reason", default="", help="Why more is needed (sent); default: the --doc documents, else the missing ones.")
@click.option("--doc", "docs", multiple=True, help="A document the applicant must send (repeatable; listed in the mail).")
@now_option
@click.pass_context
def triage_request_info(ctx: click.Context, transaction_id: str, reason: str, docs: tuple[str, ...], now: str | None) -> None:
    """Ask the applicant for more information or documents (clerk, R13).

    Example: mailintake triage request-info SRB-2568-000001 --reason "ID card unreadable" --doc "ID card copy"
    """
    step(ctx, "request-info", transaction_id, now, reason=reason, docs=docs)


@triage.command("approve")
@click.argument("transaction_id")
@click.option("--override", default="", metavar="REASON", help="Approve despite missing documents or R9 checks (audited).")
@now_option
@click.pass_context
def triage_approve(ctx: click.Context, transaction_id: str, override: str, now: str | None) -> None:
    """Approve (approver); refused while `triage show` lists a block; with a fee, the fee notice goes out (R16, R17).

    Example: mailintake triage approve SRB-2568-000001 --override "form seen at the counter"
    """
    step(ctx, "approve", transaction_id, now, override=override)


@triage.command("reject")
@click.argument("transaction_id")
@click.option("--reason", required=True, help="The reason, sent to the applicant.")
@now_option
@click.pass_context
def triage_reject(ctx: click.Context, transaction_id: str, reason: str, now: str | None) -> None:
    """Reject (approver); the applicant is told why.

    Example: mailintake triage reject SRB-2568-000001 --reason "the site is a school zone"
    """
    step(ctx, "reject", transaction_id, now, reason=reason)


@triage.command("delay-reason")
@click.argument("transaction_id")
@click.argument("text")
@now_option
@click.pass_context
def triage_delay_reason(ctx: click.Context, transaction_id: str, text: str, now: str | None) -> None:
    """Record why a late application is late: the next s.10 delay notice gives it (R25).

    Example: mailintake triage delay-reason SRB-2568-000001 "waiting for the site inspection"
    """
    delays.record_reason(desk(ctx), transaction_id, text, moment(ctx, now))
    click.echo(f"{transaction_id.upper()}: delay reason recorded")


@triage.command("verify-identity")
@click.argument("transaction_id")
@click.option("--method", required=True, type=click.Choice(["photo", "in-person", "digital-id"]))
@click.option("--note", default="", help="What was seen, e.g. the last 4 digits checked.")
@now_option
@click.pass_context
def triage_verify_identity(ctx: click.Context, transaction_id: str, method: str, note: str, now: str | None) -> None:
    """Record how the applicant's identity was proven (R10).

    Example: mailintake triage verify-identity SRB-2568-000001 --method photo --note "holding ID card"
    """
    desk(ctx).verify_identity(transaction_id, method, note, moment(ctx, now))
    click.echo(f"{transaction_id.upper()}: identity verified ({method})")


@triage.command("set")
@click.argument("transaction_id")
@click.option("--service", help="The service id (see `mailintake rules check`).")
@click.option("--juristic/--natural", default=None, help="The applicant is a juristic person (company).")
@now_option
@click.pass_context
def triage_set(ctx: click.Context, transaction_id: str, service: str | None, juristic: bool | None, now: str | None) -> None:
    """Set the service of an application, or mark a juristic person (clerk).

    Example: mailintake triage set SRB-2568-000001 --service tm30
    """
    app = plain(desk(ctx).set(transaction_id, moment(ctx, now), service=service, juristic=juristic))
    click.echo(
        f"{app['transaction_id']}: service {app['service'] or 'unassigned'}, juristic {'yes' if app['juristic'] else 'no'}"
    )


@triage.command("reply")
@click.argument("transaction_id")
@click.option("--file", "answer_file", required=True, type=click.File("r", encoding="utf-8"), help="The answer in Thai.")
@click.option("--en-file", type=click.File("r", encoding="utf-8"), help="The answer in English (R28; `inquiries answer`).")
@now_option
@click.pass_context
def triage_reply(ctx: click.Context, transaction_id: str, answer_file: TextIO, en_file: TextIO | None, now: str | None) -> None:
    """Answer an inquiry by email, threaded, Thai then English (clerk).

    Example: mailintake triage reply SRB-2568-000007 --file answer.txt --en-file answer-en.txt
    """
    when = moment(ctx, now)
    desk(ctx).reply_inquiry(transaction_id, answer_file.read(), when, en_file.read() if en_file else "")
    send_now(ctx, when)
    click.echo(f"{transaction_id.upper()}: answered")


# --- mail held for the clerk (desk.held) -------------------------------------------------------
@triage.command("held")
@output_options()
@click.pass_context
def triage_held(ctx: click.Context, fmt: str) -> None:
    """Mail quoting a transaction ID from someone other than the applicant, held.

    Example: mailintake triage held --json
    """
    rows = held_mail.held(deployment(ctx).registry)
    emit(rows, fmt, lambda rs: [f"#{r['id']:<5} {r['transaction_id']}  from {r['from']}: {r['reason']}" for r in rs])


@triage.command("release")
@click.argument("message_row", type=int)
@now_option
@click.pass_context
def triage_release(ctx: click.Context, message_row: int, now: str | None) -> None:
    """Let a held message join its application, as if the applicant sent it (clerk).

    Example: mailintake triage release 42
    """
    when = moment(ctx, now)
    tid = held_mail.release(desk(ctx), message_row, when)
    send_now(ctx, when)
    click.echo(f"message #{message_row} joined {tid}")


@triage.command("dismiss")
@click.argument("message_row", type=int)
@click.option("--reason", required=True, help="Why it is not the applicant's (kept in the audit log).")
@now_option
@click.pass_context
def triage_dismiss(ctx: click.Context, message_row: int, reason: str, now: str | None) -> None:
    """Dismiss a held message: it stays recorded and joins nothing (clerk).

    Example: mailintake triage dismiss 42 --reason "not the applicant"
    """
    tid = held_mail.dismiss(desk(ctx), message_row, reason, moment(ctx, now))
    click.echo(f"message #{message_row} dismissed ({tid} unchanged)")
