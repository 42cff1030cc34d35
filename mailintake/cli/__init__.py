"""The ``mailintake`` command: a thin shell over functions the daemon also calls.

Errors a user can fix are one line and exit 1; a wrong configuration is one
line naming the key and exit 2. Every listing has ``--json``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from mailintake import __version__
from mailintake.base.config import Config, ConfigError, load

F = TypeVar("F", bound=Callable[..., Any])


class ConfigClickError(click.ClickException):
    exit_code = 2


def _config(ctx: click.Context) -> Config:
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        try:
            obj["config"] = load(obj.get("config_path"))
        except ConfigError as exc:
            raise ConfigClickError(str(exc)) from None
        logging.basicConfig(level=obj["config"].log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                            stream=sys.stderr)
    cfg: Config = obj["config"]
    return cfg


def parse_now(value: str | None, cfg: Config) -> datetime:
    """``--now``: ISO 8601; a time without offset is read in the agency's zone."""
    if not value:
        return datetime.now(cfg.hours.timezone)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time, e.g. 2025-12-04T18:05+07:00", param_hint="--now") from None
    return moment.replace(tzinfo=cfg.hours.timezone) if moment.tzinfo is None else moment


def now_option(f: F) -> F:
    return click.option("--now", "now", metavar="ISO", help="Act as if it were this time (ISO 8601).")(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


def friendly(f: F) -> F:
    """Turn known failures into one line instead of a traceback."""
    from mailintake.base.rules import RulesError, ServicesError
    from mailintake.base.store import StorageError
    from mailintake.desk.lifecycle import StepRefused
    from mailintake.desk.queries import NotFound
    from mailintake.desk.roles import RoleError
    from mailintake.intake.source import SourceError
    from mailintake.intake.sweep import RegistryUnavailable, SweepBusy
    from mailintake.ops.backup import BackupError
    from mailintake.permits.document import PermitError

    @wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except StorageError as exc:
            raise ConfigClickError(f"{_config_name()}: [storage] path: {exc}") from None
        except (SourceError, SweepBusy, NotFound, RulesError, RoleError, StepRefused, PermitError,
                RegistryUnavailable, BackupError) as exc:
            raise click.ClickException(str(exc)) from None
        except ServicesError as exc:
            raise click.ClickException(f"{exc.errors[0]} (and {len(exc.errors) - 1} more; run `mailintake rules check`)"
                                       if len(exc.errors) > 1 else exc.errors[0]) from None
        except ConfigError as exc:
            raise ConfigClickError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _config_name() -> str:
    """How config errors name the file: config.toml, or "defaults"."""
    cfg = click.get_current_context().find_root().ensure_object(dict).get("config")
    return cfg.source.name if cfg is not None and cfg.source is not None else "defaults"


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str, int]]) -> None:
    if not rows:
        click.echo("(none)")
        return
    header = "  ".join(title.ljust(width) for _k, title, width in columns)
    click.echo(header.rstrip())
    click.echo("-" * len(header.rstrip()))
    for row in rows:
        cells = []
        for key, _title, width in columns:
            text = "" if row.get(key) is None else str(row.get(key))
            cells.append((text[: width - 1] + "…") if len(text) > width else text.ljust(width))
        click.echo("  ".join(cells).rstrip())


def _short_time(iso: str | None) -> str:
    return "" if not iso else datetime.fromisoformat(iso).strftime("%d %b %H:%M")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="MAILINTAKE_CONFIG",
              help="The agency's config.toml (default: ./config.toml, else the shipped defaults).")
@click.version_option(__version__, prog_name="mailintake")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Register, acknowledge and track permit applications sent to the
    central mailbox (saraban@).

    Example: mailintake --config config.toml sweep
    """
    ctx.ensure_object(dict)["config_path"] = config_path


@cli.command()
@now_option
@click.option("--wait", is_flag=True, help="Wait for a running sweep to finish instead of exiting.")
@click.option("--inbox-only", is_flag=True, help="Poll INBOX only (what the daemon does between sweeps).")
@json_option
@click.pass_context
@friendly
def sweep(ctx: click.Context, now: str | None, wait: bool, inbox_only: bool, as_json: bool) -> None:
    """One pass over every folder, then send what is queued.

    Example: mailintake sweep --now 2025-12-04T18:05+07:00
    """
    from mailintake.intake.sweep import as_json as report_json
    from mailintake.intake.sweep import run_sweep

    cfg = _config(ctx)
    report = run_sweep(cfg, parse_now(now, cfg), full=not inbox_only, wait=wait)
    if as_json:
        _print_json(report_json(report))
    elif not report.failure:
        click.echo(report.summary())
        for err in report.errors:
            click.echo(f"  warning: {err}", err=True)
    if report.failure:
        raise click.ClickException(report.failure)


@cli.command()
@click.pass_context
@friendly
def run(ctx: click.Context) -> None:
    """Run the daemon: poll INBOX, sweep every folder at the sweep times on
    working days, send the outbox; stop with SIGTERM or Ctrl-C.

    Example: mailintake --config /etc/mailintake/config.toml run
    """
    from mailintake.ops.daemon import run_daemon

    run_daemon(_config(ctx))


@cli.command()
@click.option("--fresh", is_flag=True, help="Empty var/ first (the demo's mailbox, registry and outgoing mail).")
@click.pass_context
@friendly
def demo(ctx: click.Context, fresh: bool) -> None:
    """Deliver the sample applications into the local Maildir with realistic
    receipt times, sweep, and show the triage list.

    Example: mailintake demo --fresh
    """
    from mailintake.ops.demo import run_demo

    run_demo(_config(ctx), fresh=fresh)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Create a deployment directory with config.toml, rules/ and templates/ to edit.

    Example: mailintake init /etc/mailintake
    """
    from mailintake.ops.demo import init_directory

    for line in init_directory(Path(directory)):
        click.echo(line)


@cli.group()
def triage() -> None:
    """Read the register of applications.

    Example: mailintake triage list
    """


@triage.command("list")
@click.option("--status", help="Only applications in this status.")
@click.option("--all", "include_closed", is_flag=True, help="Include closed applications.")
@click.option("--mine", is_flag=True, help="Only applications assigned to me.")
@click.option("--service", help="Only this service (or 'unassigned').")
@click.option("--overdue", is_flag=True, help="Only those past their acknowledgement or service deadline.")
@now_option
@json_option
@click.pass_context
@friendly
def triage_list(ctx: click.Context, status: str | None, include_closed: bool, as_json: bool, mine: bool = False,
                service: str | None = None, overdue: bool = False, now: str | None = None) -> None:
    """Open applications, first come first served by deemed receipt.

    Example: mailintake triage list --json
    """
    from mailintake.base.data.db import Registry
    from mailintake.desk.queries import list_applications

    cfg = _config(ctx)
    reg = Registry(cfg.db_path)
    from mailintake.desk.roles import acting_login

    rows = list_applications(reg, status=status, include_closed=include_closed, mine=acting_login() if mine else None,
                             service=service, overdue_at=parse_now(now, cfg) if overdue else None, now=parse_now(now, cfg))
    if as_json:
        _print_json(rows)
        return
    table = [{
        "tid": r["transaction_id"], "service": r["service"] or ("inquiry" if r["kind"] == "inquiry" else "unassigned"), "applicant": r["applicant_email"],
        "received": _short_time(r["received_at"]), "deemed": _short_time(r["deemed_received_at"]), "status": r["status"],
        "ack": "sent " + _short_time(r["acknowledged_at"]) if r["acknowledged_at"] else "due " + _short_time(r["ack_due_at"]),
        "due": _short_time(r["due_at"]),
        "files": f"{sum(f['accepted'] for f in r['files'])}/{len(r['files'])} ok",
        "problems": ",".join(r["problems"] + [f for f in r["flags"]]),
    } for r in rows]
    _table(table, [("tid", "TRANSACTION", 16), ("service", "SERVICE", 22), ("applicant", "APPLICANT", 26),
                   ("received", "RECEIVED", 12), ("deemed", "DEEMED", 12), ("status", "STATUS", 10),
                   ("ack", "ACK", 17), ("due", "DUE", 12), ("files", "FILES", 8), ("problems", "PROBLEMS/FLAGS", 30)])


@triage.command("show")
@click.argument("transaction_id")
@json_option
@click.pass_context
@friendly
def triage_show(ctx: click.Context, transaction_id: str, as_json: bool) -> None:
    """Everything about one application: messages, files, deadlines, events.

    Example: mailintake triage show SRB-2568-000001
    """
    from mailintake.base.data.db import Registry
    from mailintake.desk.queries import show_application

    cfg = _config(ctx)
    app = show_application(Registry(cfg.db_path), transaction_id)
    if as_json:
        _print_json(app)
        return
    echo = click.echo
    echo(f"{app['transaction_id']}  [{app['status']}]  service: {app['service'] or 'unassigned'}")
    echo(f"Applicant:     {app['applicant_name'] or ''} <{app['applicant_email']}>")
    echo(f"Subject:       {app['subject']}")
    echo(f"Received:      {app['received_at']}")
    echo(f"Deemed:        {app['deemed_received_at']}  ({app['ack_reason']})")
    echo(f"Ack due:       {app['ack_due_at']}")
    echo(f"Service due:   {app['due_at'] or '-'}   assigned to: {app['assigned_to'] or '-'}")
    if app["juristic"] or app["identity"] or app["poa"] or app["stamp"]:
        ident = app["identity"]["method"] if app["identity"] else "not verified"
        echo(f"Juristic:      {'yes' if app['juristic'] else 'no'}   identity: {ident}   "
             f"power of attorney: {app['poa'] or '-'}   e-Stamp: {app['stamp'] or '-'}")
    if app["fee_amount"]:
        echo(f"Fee:           {app['fee_amount']} baht, due {app['fee_due_at']}; payment ref {app['payment_ref'] or '-'}")
    if app["decision_reason"]:
        echo(f"Reason:        {app['decision_reason']}")
    echo(f"Acknowledged:  {app['acknowledged_at'] or 'not yet'}")
    if app["problems"] or app["flags"]:
        echo(f"Problems:      {', '.join(app['problems']) or '-'}   flags: {', '.join(app['flags']) or '-'}")
    echo("\nFiles:")
    for i, f in enumerate(app["files"], 1):
        verdict = "ok" if f["accepted"] else f"PROBLEM {', '.join(f['problems'])}: {f['problem_en']}"
        dpi = f", {f['dpi']:.0f} dpi" if f["dpi"] else ""
        echo(f"  {i}. {f['name']} ({f['content_type']}, {f['size']} bytes{dpi}) {verdict}")
    echo("\nMessages:")
    for m in app["messages"]:
        echo(f"  #{m['id']} {m['kind']:11} {m['received_at']} from {m['from']} in {m['folder']}: {m['subject']}")
        echo(f"      Message-ID {m['message_id']}; Date: {m['date_header']}; fetched {m['fetched_at']}; "
             f"{len(m['received_chain'])} Received lines" + (f"; defects: {', '.join(m['defects'])}" if m["defects"] else ""))
    echo("\nOutgoing mail:")
    for o in app["outgoing"]:
        echo(f"  {o['kind']:8} {o['status']:8} to {o['to']} {o['sent_at'] or ''} {o['message_id']}"
             + (f" ({o['last_error']})" if o["last_error"] else ""))
    echo("\nEvents:")
    for e in app["events"]:
        change = f" {e['status_before'] or '-'} -> {e['status_after']}" if e["status_after"] else ""
        echo(f"  {e['at']}  {e['actor']:8} {e['action']}{change}")


def _desk(ctx: click.Context) -> Any:
    from mailintake.desk.lifecycle import Desk

    return Desk(_config(ctx))


def _send_now(desk: Any, when: datetime) -> None:
    """Send what a command queued; what fails stays queued for the outbox retries."""
    from mailintake.intake.outbox import drain

    result = drain(desk.cfg, desk.reg, when)
    if result.retried or result.failed or result.blocked:
        click.echo(f"warning: {result.retried + result.failed + result.blocked} email(s) not sent yet: "
                   "see `mailintake outbox list`", err=True)


def _step(ctx: click.Context, verb: str, transaction_id: str, now: str | None, **kw: Any) -> None:
    desk = _desk(ctx)
    when = parse_now(now, desk.cfg)
    app = desk.step(verb, transaction_id, when, **kw)
    _send_now(desk, when)
    click.echo(f"{app['transaction_id']}: {app['status']}")


@triage.command("take")
@click.argument("transaction_id")
@now_option
@click.pass_context
@friendly
def triage_take(ctx: click.Context, transaction_id: str, now: str | None) -> None:
    """Assign an application to me (clerk).

    Example: mailintake triage take SRB-2568-000001
    """
    desk = _desk(ctx)
    who = desk.take(transaction_id, parse_now(now, desk.cfg))
    click.echo(f"{transaction_id.upper()} assigned to {who}")


@triage.command("assign")
@click.argument("transaction_id")
@click.argument("user")
@now_option
@click.pass_context
@friendly
def triage_assign(ctx: click.Context, transaction_id: str, user: str, now: str | None) -> None:
    """Assign an application to a user (clerk or admin).

    Example: mailintake triage assign SRB-2568-000001 somchai
    """
    desk = _desk(ctx)
    desk.assign(transaction_id, user, parse_now(now, desk.cfg))
    click.echo(f"{transaction_id.upper()} assigned to {user}")


@triage.command("note")
@click.argument("transaction_id")
@click.argument("text")
@now_option
@click.pass_context
@friendly
def triage_note(ctx: click.Context, transaction_id: str, text: str, now: str | None) -> None:
    """Add an internal note (never emailed).

    Example: mailintake triage note SRB-2568-000001 "called the applicant"
    """
    desk = _desk(ctx)
    desk.note(transaction_id, text, parse_now(now, desk.cfg))
    click.echo(f"note added to {transaction_id.upper()}")


@triage.command("review")
@click.argument("transaction_id")
@now_option
@click.pass_context
@friendly
def triage_review(ctx: click.Context, transaction_id: str, now: str | None) -> None:
    """Start the review of a complete application (clerk); the applicant is told.

    Example: mailintake triage review SRB-2568-000001
    """
    _step(ctx, "review", transaction_id, now)


@triage.command("request-info")
@click.argument("transaction_id")
@click.option("--reason", required=True, help="Why more is needed (sent to the applicant).")
@click.option("--doc", "docs", multiple=True, help="A document to send (repeatable).")
@now_option
@click.pass_context
@friendly
def triage_request_info(ctx: click.Context, transaction_id: str, reason: str, docs: tuple[str, ...], now: str | None) -> None:
    """Ask the applicant for more information or documents (clerk, R13).

    Example: mailintake triage request-info SRB-2568-000001 --reason "ID card unreadable" --doc "ID card copy"
    """
    _step(ctx, "request-info", transaction_id, now, reason=reason, docs=docs)


@triage.command("approve")
@click.argument("transaction_id")
@now_option
@click.pass_context
@friendly
def triage_approve(ctx: click.Context, transaction_id: str, now: str | None) -> None:
    """Approve (approver); with a fee, the fee notice goes out (R16, R17).

    Example: mailintake triage approve SRB-2568-000001
    """
    _step(ctx, "approve", transaction_id, now)


@triage.command("reject")
@click.argument("transaction_id")
@click.option("--reason", required=True, help="The reason, sent to the applicant.")
@now_option
@click.pass_context
@friendly
def triage_reject(ctx: click.Context, transaction_id: str, reason: str, now: str | None) -> None:
    """Reject (approver); the applicant is told why.

    Example: mailintake triage reject SRB-2568-000001 --reason "the site is a school zone"
    """
    _step(ctx, "reject", transaction_id, now, reason=reason)


@triage.command("verify-identity")
@click.argument("transaction_id")
@click.option("--method", required=True, type=click.Choice(["photo", "in-person", "digital-id"]))
@click.option("--note", default="", help="What was seen, e.g. the last 4 digits checked.")
@now_option
@click.pass_context
@friendly
def triage_verify_identity(ctx: click.Context, transaction_id: str, method: str, note: str, now: str | None) -> None:
    """Record how the applicant's identity was proven (R10).

    Example: mailintake triage verify-identity SRB-2568-000001 --method photo --note "holding ID card"
    """
    desk = _desk(ctx)
    desk.verify_identity(transaction_id, method, note, parse_now(now, desk.cfg))
    click.echo(f"{transaction_id.upper()}: identity verified ({method})")


@triage.command("check")
@click.argument("transaction_id")
@click.option("--poa", type=click.Choice(["ok", "missing", "invalid"]), help="Power of attorney.")
@click.option("--stamp", type=click.Choice(["ok", "missing", "na"]), help="e-Stamp duty.")
@now_option
@click.pass_context
@friendly
def triage_check(ctx: click.Context, transaction_id: str, poa: str | None, stamp: str | None, now: str | None) -> None:
    """Record the power of attorney and e-Stamp check (R15).

    Example: mailintake triage check SRB-2568-000001 --poa ok --stamp na
    """
    desk = _desk(ctx)
    desk.check_documents(transaction_id, poa, stamp, parse_now(now, desk.cfg))
    click.echo(f"{transaction_id.upper()}: power of attorney {poa or '-'}, e-Stamp {stamp or '-'}")


@triage.command("set")
@click.argument("transaction_id")
@click.option("--service", help="The service id (see `mailintake rules check`).")
@click.option("--juristic/--natural", default=None, help="The applicant is a juristic person (company).")
@now_option
@click.pass_context
@friendly
def triage_set(ctx: click.Context, transaction_id: str, service: str | None, juristic: bool | None, now: str | None) -> None:
    """Set the service of an application, or mark a juristic person (clerk).

    Example: mailintake triage set SRB-2568-000001 --service tm30
    """
    desk = _desk(ctx)
    app = desk.set(transaction_id, parse_now(now, desk.cfg), service=service, juristic=juristic)
    click.echo(f"{app['transaction_id']}: service {app['service'] or 'unassigned'}, juristic {'yes' if app['juristic'] else 'no'}")


@triage.command("reply")
@click.argument("transaction_id")
@click.option("--file", "answer_file", required=True, type=click.File("r", encoding="utf-8"), help="The answer text.")
@now_option
@click.pass_context
@friendly
def triage_reply(ctx: click.Context, transaction_id: str, answer_file: Any, now: str | None) -> None:
    """Answer an inquiry by email, threaded, in the bilingual frame (clerk).

    Example: mailintake triage reply SRB-2568-000007 --file answer.txt
    """
    desk = _desk(ctx)
    when = parse_now(now, desk.cfg)
    desk.reply_inquiry(transaction_id, answer_file.read(), when)
    _send_now(desk, when)
    click.echo(f"{transaction_id.upper()}: answered")


@triage.command("files")
@click.argument("transaction_id")
@json_option
@click.pass_context
@friendly
def triage_files(ctx: click.Context, transaction_id: str, as_json: bool) -> None:
    """The files of an application with their check results.

    Example: mailintake triage files SRB-2568-000001
    """
    from mailintake.base.data.db import Registry
    from mailintake.desk.queries import show_application

    files = show_application(Registry(_config(ctx).db_path), transaction_id)["files"]
    if as_json:
        _print_json(files)
        return
    for i, f in enumerate(files, 1):
        f["n"] = i
        f["verdict"] = "ok" if f["accepted"] else ",".join(f["problems"])
    _table(files, [("n", "#", 3), ("name", "NAME", 40), ("content_type", "TYPE", 24), ("size", "BYTES", 9),
                   ("dpi", "DPI", 6), ("verdict", "CHECK", 30)])


@triage.command("export")
@click.argument("transaction_id")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory to write to.")
@click.pass_context
@friendly
def triage_export(ctx: click.Context, transaction_id: str, out_dir: str) -> None:
    """Write the raw emails, every file under a safe name and a one-page summary (R14).

    Example: mailintake triage export SRB-2568-000001 --out /srv/print/SRB-2568-000001
    """
    from mailintake.base.data.db import Registry
    from mailintake.base.store import Store
    from mailintake.desk.roles import require
    from mailintake.ops.reports import export

    cfg = _config(ctx)
    require(cfg, "clerk", "approver", "admin")
    written = export(Registry(cfg.db_path), Store(cfg.store_path), transaction_id, Path(out_dir))
    click.echo(f"wrote {len(written)} files to {out_dir}")


@cli.group()
def payments() -> None:
    """Fee payments (finance, R17).

    Example: mailintake payments list
    """


@payments.command("list")
@json_option
@click.pass_context
@friendly
def payments_list(ctx: click.Context, as_json: bool) -> None:
    """Slips waiting for confirmation, oldest first (finance).

    Example: mailintake payments list --json
    """
    from mailintake.base.data.db import Registry
    from mailintake.desk.queries import payments_waiting
    from mailintake.desk.roles import require

    cfg = _config(ctx)
    require(cfg, "finance")
    rows = payments_waiting(Registry(cfg.db_path))
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        r["slip"] = ", ".join(s["name"] for s in r["slips"])
        r["when"] = _short_time(r["slip_received_at"])
    _table(rows, [("transaction_id", "TRANSACTION", 16), ("applicant_email", "APPLICANT", 28), ("fee_amount", "BAHT", 7),
                  ("when", "SLIP RECEIVED", 14), ("slip", "SLIP", 40)])


@payments.command("confirm")
@click.argument("transaction_id")
@click.option("--ref", required=True, help="The bank or PromptPay reference of the payment.")
@now_option
@click.pass_context
@friendly
def payments_confirm(ctx: click.Context, transaction_id: str, ref: str, now: str | None) -> None:
    """Confirm a payment; the applicant is told (finance).

    Example: mailintake payments confirm SRB-2568-000001 --ref 20251210-778812
    """
    _step(ctx, "confirm-payment", transaction_id, now, ref=ref)


@payments.command("reject")
@click.argument("transaction_id")
@click.option("--reason", required=True, help="Why the slip is not accepted (sent to the applicant).")
@now_option
@click.pass_context
@friendly
def payments_reject(ctx: click.Context, transaction_id: str, reason: str, now: str | None) -> None:
    """Refuse a slip and ask for another (finance).

    Example: mailintake payments reject SRB-2568-000001 --reason "amount does not match"
    """
    _step(ctx, "reject-payment", transaction_id, now, reason=reason)


@cli.group()
def inquiries() -> None:
    """Questions sent to the central mailbox (process 1).

    Example: mailintake inquiries faq --json
    """


@inquiries.command("faq")
@json_option
@click.pass_context
@friendly
def inquiries_faq(ctx: click.Context, as_json: bool) -> None:
    """Question and answer pairs of answered inquiries, for publishing.

    Example: mailintake inquiries faq > faq.txt
    """
    from mailintake.base.data.db import Registry
    from mailintake.base.store import Store
    from mailintake.ops.reports import faq

    cfg = _config(ctx)
    rows = faq(Registry(cfg.db_path), Store(cfg.store_path))
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        click.echo(f"Q: {r['question']}\nA: {r['answer']}\n")


@cli.group("log")
def log_group() -> None:
    """The service log of Table 2 of the Email Baseline Procedure (R11).

    Example: mailintake log export --from 2025-12-01 --to 2025-12-31 --csv --lang th
    """


@log_group.command("export")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
@click.option("--csv", "fmt", flag_value="csv", default=True, help="CSV (the default).")
@click.option("--json", "fmt", flag_value="json", help="JSON.")
@click.option("--lang", type=click.Choice(["en", "th"]), default="en", help="Column headers in Thai or English.")
@click.pass_context
@friendly
def log_export(ctx: click.Context, start: datetime, end: datetime, fmt: str, lang: str) -> None:
    """Date received, date replied, requester, subject, source, remarks.

    Example: mailintake log export --from 2025-12-01 --to 2025-12-31 --csv --lang th
    """
    from mailintake.base.data.db import Registry
    from mailintake.ops.reports import log_csv, service_log

    rows = service_log(Registry(_config(ctx).db_path), start.date(), end.date())
    if fmt == "json":
        _print_json(rows)
    else:
        click.echo(log_csv(rows, lang), nl=False)


@cli.group()
def permit() -> None:
    """Permits: issue, deliver with a separate password, verify, revoke, publish (R18, R19).

    Example: mailintake permit issue SRB-2568-000001
    """


@permit.command("issue")
@click.argument("transaction_id")
@click.option("--valid-until", type=click.DateTime(["%Y-%m-%d"]), help="Last day of validity (default: [permits] valid_days).")
@now_option
@click.pass_context
@friendly
def permit_issue(ctx: click.Context, transaction_id: str, valid_until: datetime | None, now: str | None) -> None:
    """Issue the permit of an approved or paid application and send it (approver).

    Example: mailintake permit issue SRB-2568-000001 --valid-until 2026-12-31
    """
    desk = _desk(ctx)
    when = parse_now(now, desk.cfg)
    until = None
    if valid_until is not None:
        until = valid_until.replace(hour=23, minute=59, second=59, tzinfo=desk.cfg.hours.timezone)
    row = desk.issue_permit(transaction_id, when, until)
    _send_now(desk, when)
    state = desk.reg.one("SELECT status FROM permits WHERE number = ?", (row["number"],))
    click.echo(f"permit {row['number']} issued for {transaction_id.upper()}, valid until {row['valid_until'][:10]}; "
               f"{state['status'] if state else row['status']}")


@permit.command("resend")
@click.argument("transaction_id")
@now_option
@click.pass_context
@friendly
def permit_resend(ctx: click.Context, transaction_id: str, now: str | None) -> None:
    """Send the permit again with a new password and a newly encrypted file.

    Example: mailintake permit resend SRB-2568-000001
    """
    desk = _desk(ctx)
    when = parse_now(now, desk.cfg)
    row = desk.resend_permit(transaction_id, when)
    _send_now(desk, when)
    click.echo(f"permit {row['number']} sent again to {row['holder_email']}")


@permit.command("revoke")
@click.argument("number")
@click.option("--reason", required=True, help="Why (told to the holder and shown on verification).")
@now_option
@click.pass_context
@friendly
def permit_revoke(ctx: click.Context, number: str, reason: str, now: str | None) -> None:
    """Revoke a permit (approver).

    Example: mailintake permit revoke EVT-2568-0001 --reason "event cancelled"
    """
    desk = _desk(ctx)
    when = parse_now(now, desk.cfg)
    desk.revoke_permit(number, reason, when)
    _send_now(desk, when)
    click.echo(f"permit {number.upper()} revoked")


@permit.command("status")
@click.argument("number")
@now_option
@json_option
@click.pass_context
@friendly
def permit_status(ctx: click.Context, number: str, now: str | None, as_json: bool) -> None:
    """valid, expired, revoked or unknown.

    Example: mailintake permit status EVT-2568-0001 --json
    """
    from mailintake.base.data.db import Registry
    from mailintake.permits.document import status_of

    cfg = _config(ctx)
    state = status_of(Registry(cfg.db_path), number, parse_now(now, cfg))
    if as_json:
        _print_json(state)
        return
    click.echo(f"{state['number']}: {state['status']}" + (f" (holder {state['holder']}, valid until {state['valid_until'][:10]})"
                                                           if state["status"] != "unknown" else ""))


@permit.command("list")
@json_option
@click.pass_context
@friendly
def permit_list(ctx: click.Context, as_json: bool) -> None:
    """The permit register.

    Example: mailintake permit list --json
    """
    from mailintake.base.data.db import Registry

    rows = Registry(_config(ctx).db_path).all(
        "SELECT number, transaction_id, service, holder_name, holder_email, issued_at, valid_until, status, signed, "
        "delivered_at, revoked_at FROM permits ORDER BY issued_at, number")
    if as_json:
        _print_json(rows)
        return
    _table(rows, [("number", "NUMBER", 16), ("transaction_id", "TRANSACTION", 16), ("service", "SERVICE", 14),
                  ("holder_name", "HOLDER", 22), ("valid_until", "VALID UNTIL", 11), ("status", "STATUS", 15)])


@permit.command("verify")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False))
@click.option("--password", help="The file's password (to read the number inside and check the signature).")
@now_option
@json_option
@click.pass_context
@friendly
def permit_verify(ctx: click.Context, pdf: str, password: str | None, now: str | None, as_json: bool) -> None:
    """Check a permit file: the register, the QR's keyed hash and the signature.

    Example: mailintake permit verify permit-EVT-2568-0001.pdf --password K7mPq3RtXa
    """
    from mailintake.base.data.db import Registry
    from mailintake.permits.document import verify_file

    cfg = _config(ctx)
    result = verify_file(cfg, Registry(cfg.db_path), Path(pdf).read_bytes(), password, parse_now(now, cfg))
    if as_json:
        _print_json(result)
    else:
        click.echo(f"permit {result.get('number') or '?'}: {result['status']}; file in register: "
                   f"{'yes' if result['file_matches_register'] else 'no'}; keyed hash: "
                   f"{'-' if result['hash_ok'] is None else ('ok' if result['hash_ok'] else 'WRONG')}; signature: "
                   + ("none" if not result["signature"] else
                      ("valid, by the agency's certificate" if result["signature"]["valid"] and result["signature"]["intact"]
                       and result["signature"]["trusted"] else
                       ("valid, but not by the agency's certificate" if result["signature"]["intact"] else "BROKEN"))))
    sig_bad = result["signature"] is not None and not (result["signature"]["intact"] and result["signature"]["valid"]
                                                        and result["signature"]["trusted"])
    if result["status"] != "valid" or result["hash_ok"] is False or sig_bad:
        ctx.exit(1)


@permit.command("publish")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@now_option
@click.pass_context
@friendly
def permit_publish(ctx: click.Context, out_dir: str, now: str | None) -> None:
    """Write a static bilingual register (HTML and JSON) for the agency's website.

    Example: mailintake permit publish --out /var/www/permits
    """
    from mailintake.base.data.db import Registry
    from mailintake.permits.document import publish

    cfg = _config(ctx)
    written = publish(Registry(cfg.db_path), Path(out_dir), parse_now(now, cfg), cfg.agency)
    click.echo("wrote " + ", ".join(str(p) for p in written))


@cli.group()
def backup() -> None:
    """Backups of the registry and the file store (R14, R27).

    Example: mailintake backup create
    """


@backup.command("create")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Directory to write into (default [backup] path).")
@now_option
@click.pass_context
@friendly
def backup_create(ctx: click.Context, out_dir: str | None, now: str | None) -> None:
    """Online backup of the registry, the file store and a manifest of hashes.

    Example: mailintake backup create --out /mnt/nas/mailintake
    """
    from mailintake.ops.backup import create, prune, verify

    cfg = _config(ctx)
    path = create(cfg, parse_now(now, cfg), Path(out_dir) if out_dir else None)
    result = verify(path)
    if out_dir is None:
        prune(cfg)
    click.echo(f"backup written to {path}: {result['files']} files, {result['counts']['applications']} applications; "
               f"{'verified' if result['ok'] else 'DOES NOT VERIFY'}")


@backup.command("verify")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@json_option
@friendly
def backup_verify(path: str, as_json: bool) -> None:
    """Check every file's hash, the database and the audit chain of a backup.

    Example: mailintake backup verify var/backups/backup-20251209T180000
    """
    from mailintake.ops.backup import verify

    result = verify(Path(path))
    if as_json:
        _print_json(result)
    else:
        click.echo(f"{path}: {'ok' if result['ok'] else 'PROBLEMS'}; {result['files']} files; {result['counts']}")
        for p in result["problems"]:
            click.echo(f"  {p}")
    if not result["ok"]:
        raise click.exceptions.Exit(1)


@backup.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--into", "into", type=click.Path(file_okay=False), help="Storage directory (default [storage] path).")
@click.option("--force", is_flag=True, help="Restore over a storage directory that is not empty.")
@click.pass_context
@friendly
def backup_restore(ctx: click.Context, path: str, into: str | None, force: bool) -> None:
    """Restore a backup into an empty storage directory (admin).

    Example: mailintake backup restore var/backups/backup-20251209T180000 --into /srv/mailintake/var
    """
    from mailintake.desk.roles import require
    from mailintake.ops.backup import restore

    cfg = _config(ctx)
    if cfg.users:
        require(cfg, "admin")
    target = Path(into) if into else cfg.storage_path
    result = restore(Path(path), target, force=force)
    click.echo(f"restored {result['counts']['applications']} applications and {result['files']} files into {target}")


@cli.group("outbox")
def outbox_group() -> None:
    """Outgoing mail and its delivery attempts.

    Example: mailintake outbox list --status failed
    """


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "bounced", "blocked"]), help="Only this status.")
@json_option
@click.pass_context
@friendly
def outbox_list(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """Queued, sent, failed, bounced and blocked mail (blocked: not sent to an
    address that hard-bounced). NOTE is the last delivery note or read receipt.

    Example: mailintake outbox list --json
    """
    from mailintake.base.data.db import Registry
    from mailintake.desk.queries import list_outbox

    rows = list_outbox(Registry(_config(ctx).db_path), status=status)
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        r["when"] = _short_time(r["sent_at"] or r["next_attempt_at"])
        last = r["delivery_notes"][-1] if r["delivery_notes"] else None
        r["note"] = f"read {_short_time(r['read_at'])}" if r["read_at"] else \
            f"{last['action']} {last['status'] or ''}".strip() if last else ""
    _table(rows, [("id", "ID", 5), ("transaction_id", "TRANSACTION", 16), ("kind", "KIND", 8), ("recipient", "TO", 28),
                  ("status", "STATUS", 8), ("attempts", "TRIES", 5), ("when", "WHEN", 12), ("note", "NOTE", 14),
                  ("last_error", "LAST ERROR", 40)])


@outbox_group.command("send")
@now_option
@click.pass_context
@friendly
def outbox_send(ctx: click.Context, now: str | None) -> None:
    """Send what is due now (the sweep does this too).

    Example: mailintake outbox send
    """
    from mailintake.intake.sweep import Intake

    cfg = _config(ctx)
    intake = Intake(cfg)
    try:
        r = intake.drain(parse_now(now, cfg))
    finally:
        intake.close()
    click.echo(f"{r.sent} sent, {r.retried} to retry, {r.failed} failed")


@cli.group()
def quarantine() -> None:
    """Messages whose processing failed, kept with the stage and the error.

    Example: mailintake quarantine list
    """


@quarantine.command("list")
@json_option
@click.pass_context
@friendly
def quarantine_list(ctx: click.Context, as_json: bool) -> None:
    """Quarantined messages.

    Example: mailintake quarantine list --json
    """
    from mailintake.base.data.db import Registry
    from mailintake.desk.queries import list_quarantine

    rows = list_quarantine(Registry(_config(ctx).db_path))
    if as_json:
        _print_json(rows)
        return
    _table(rows, [("id", "ID", 5), ("folder", "FOLDER", 10), ("received_at", "RECEIVED", 26), ("stage", "STAGE", 9),
                  ("attempts", "TRIES", 5), ("error", "ERROR", 60)])


@quarantine.command("retry")
@click.argument("message_id", required=False, type=int)
@now_option
@click.pass_context
@friendly
def quarantine_retry(ctx: click.Context, message_id: int | None, now: str | None) -> None:
    """Run quarantined messages (all, or one by ID) through the pipeline again.

    Example: mailintake quarantine retry 12
    """
    from mailintake.intake.sweep import Intake, sweep_lock

    cfg = _config(ctx)
    with sweep_lock(cfg.storage_path, wait=True):
        intake = Intake(cfg)
        try:
            when = parse_now(now, cfg)
            outcomes = intake.retry_quarantined(when, message_id)
            intake.drain(when)
        finally:
            intake.close()
    if message_id is not None and not outcomes:
        raise click.ClickException(f"no quarantined message {message_id}")
    for o in outcomes:
        click.echo(f"message {o.message_row}: {o.kind}" + (f" {o.transaction_id}" if o.transaction_id else ""))


@cli.command()
@json_option
@click.option("--live/--no-live", default=True, help="Ask the mailbox for its backlog and quota (default on).")
@click.pass_context
@friendly
def status(ctx: click.Context, as_json: bool, live: bool) -> None:
    """Last sweep, backlog per folder, outbox, quarantine and mailbox quota.

    Example: mailintake status --json
    """
    from mailintake.base.data.db import Registry
    from mailintake.desk.queries import quota_warning
    from mailintake.desk.queries import status as get_status
    from mailintake.intake import health
    from mailintake.intake.source import open_source

    cfg = _config(ctx)
    reg = Registry(cfg.db_path)
    data = get_status(reg)
    sweeps = health.status(reg, cfg.storage_path)
    data["warnings"][:0] = sweeps.pop("sweep_warnings")
    data.update(sweeps)
    data["backlog"] = None
    if live:
        src = open_source(cfg.mailbox)
        try:
            data["backlog"] = {f.name: len(src.pending(f.name)) for f in src.folders(full=True)}
            q = src.quota()
            if q is not None:
                data["quota"] = {"used_kb": q.used_kb, "limit_kb": q.limit_kb, "percent": round(q.percent, 1)}
        except Exception as exc:  # noqa: BLE001 - status must still print what the registry knows
            data["warnings"].append(f"mailbox not reachable: {exc}")
        finally:
            src.close()
    warning = quota_warning(data["quota"])
    if warning:
        data["warnings"].insert(0, warning)
    del data["quota_warning"]
    if as_json:
        _print_json(data)
        return
    click.echo(f"Last sweep:   {health.describe(data['last_sweep'])}")
    if (data["last_sweep"] or {}).get("full") is not True and data["last_full_sweep"]:
        click.echo(f"Full sweep:   {health.describe(data['last_full_sweep'])}")
    if data["backlog"] is not None:
        click.echo("Backlog:      " + (", ".join(f"{k} {v}" for k, v in data["backlog"].items()) or "none"))
    click.echo(f"Messages:     {data['messages']}")
    click.echo(f"Applications: {data['applications']} ({data['unacknowledged']} not yet acknowledged)")
    click.echo(f"Outbox:       {data['outbox']}")
    q = data["quota"]
    click.echo(f"Quota:        {q['percent']}% of {q['limit_kb']} KB" if q else "Quota:        not reported by the server")
    for w in data["warnings"]:
        click.echo(f"WARNING: {w}")


@cli.group()
def audit() -> None:
    """The audit log: every action, hash-chained.

    Example: mailintake audit verify
    """


@audit.command("verify")
@click.pass_context
@friendly
def audit_verify(ctx: click.Context) -> None:
    """Prove the chain of events intact, or name the first broken event.

    Example: mailintake audit verify
    """
    from mailintake.base.data.audit import verify
    from mailintake.base.data.db import Registry

    result = verify(Registry(_config(ctx).db_path))
    if not result.ok:
        raise click.ClickException(f"audit chain broken at event {result.broken_id}: {result.reason}")
    click.echo(f"audit chain intact: {result.events} events")


@audit.command("list")
@click.option("--id", "transaction_id", help="Only events of this transaction ID.")
@click.option("--user", help="Only events by this user (system for automatic ones).")
@json_option
@click.pass_context
@friendly
def audit_list(ctx: click.Context, transaction_id: str | None, user: str | None, as_json: bool) -> None:
    """Read the audit log (admin).

    Example: mailintake audit list --id SRB-2568-000001
    """
    from mailintake.base.data.audit import list_events
    from mailintake.base.data.db import Registry
    from mailintake.desk.roles import require

    cfg = _config(ctx)
    require(cfg, "admin")
    rows = list_events(Registry(cfg.db_path), transaction_id=transaction_id, user=user)
    if as_json:
        _print_json(rows)
        return
    _table(rows, [("id", "ID", 6), ("at", "AT", 26), ("actor", "WHO", 10), ("action", "ACTION", 20),
                  ("transaction_id", "TRANSACTION", 16), ("status_after", "STATUS", 12), ("detail", "DETAIL", 50)])


@cli.group()
def rules() -> None:
    """Validate rules/ (mail rules and services).

    Example: mailintake rules check
    """


@rules.command("check")
@click.pass_context
def rules_check(ctx: click.Context) -> None:
    """Report every error in rules/mail.toml and rules/services/*.toml with file and key.

    Example: mailintake rules check
    """
    from mailintake.base.rules import RulesError, ServicesError, load_rules, load_services

    cfg = _config(ctx)
    errors: list[str] = []
    try:
        path = cfg.find("rules", "mail.toml")
        load_rules(path)
        click.echo(f"{path}: ok")
    except (RulesError, ConfigError) as exc:
        errors.append(str(exc))
    try:
        services = load_services(cfg.search_path("rules"))
        for s in services:
            click.echo(f"{s.source}: ok ({s.code}, {s.name_en})")
    except ServicesError as exc:
        errors += exc.errors
    for e in errors:
        click.echo(f"error: {e}", err=True)
    if errors:
        raise click.ClickException(f"{len(errors)} error(s) in rules")


def main() -> None:
    cli(prog_name="mailintake")


if __name__ == "__main__":
    main()
