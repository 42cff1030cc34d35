"""``mailintake inquiries``: questions sent to the central mailbox, and the FAQ
to publish, written by the clerks in their own words (``desk.faq``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO

import click

from mailintake.cli.common import deployment, moment, now_option
from mailintake.cli.output import emit, output_options
from mailintake.cli.triage import desk, send_now
from mailintake.desk.faq import add_entry, published, remove_entry
from mailintake.desk.office import Office
from mailintake.ops.listings import plain


def faq_lines(entries: Iterable[Any]) -> list[str]:
    """The FAQ as text to publish: each entry in Thai, then in English (R28)."""
    out = []
    for p in (plain(e) for e in entries):
        english = f"Q: {p['question_en']}\nA: {p['answer_en']}\n" if p.get("question_en") else ""
        out.append(f"ถาม: {p['question']}\nตอบ: {p['answer']}\n{english}")
    return out


def numbered_lines(entries: Iterable[Any]) -> list[str]:
    """The clerk's view: each entry's number first (what `faq remove N`
    takes), its texts indented beside it, and where it came from."""
    out = []
    for p in (plain(e) for e in entries):
        texts = [f"ถาม: {p['question']}", f"ตอบ: {p['answer']}", f"Q: {p['question_en']}", f"A: {p['answer_en']}"]
        texts.append(f"(from {p['transaction_id']}, added by {p['added_by']} at {p['added_at']})")
        number = str(p["id"])
        out += [f"{number:<5} {texts[0]}", *(f"{'':<5} {t}" for t in texts[1:]), ""]
    return out


def _faq(ctx: click.Context, fmt: str, publish: bool) -> None:
    emit(published(Office(deployment(ctx))), fmt, faq_lines if publish else numbered_lines)


publish_option = click.option(
    "--publish", is_flag=True, help="The text to publish: the entries without their numbers (e.g. > faq.txt)."
)


def _text(value: str | None, file: TextIO | None, name: str) -> str:
    if value is not None and file is not None:
        raise click.UsageError(f"give --{name} or --{name}-file, not both")
    return file.read() if file is not None else value or ""


@click.group()
def inquiries() -> None:
    """Questions sent to the central mailbox (process 1).

    Example: mailintake inquiries faq --json
    """


@inquiries.group("faq", invoke_without_command=True)
@publish_option
@output_options()
@click.pass_context
def inquiries_faq(ctx: click.Context, fmt: str, publish: bool) -> None:
    """The FAQ: only the entries clerks added with `faq add`, each with its
    number (for `faq remove N`) first; --publish gives the text to publish.

    Example: mailintake inquiries faq --publish > faq.txt
    """
    if ctx.invoked_subcommand is None:
        _faq(ctx, fmt, publish)


@inquiries_faq.command("list")
@publish_option
@output_options()
@click.pass_context
def inquiries_faq_list(ctx: click.Context, fmt: str, publish: bool) -> None:
    """The FAQ (the same as `inquiries faq`).

    Example: mailintake inquiries faq list --json
    """
    _faq(ctx, fmt, publish)


@inquiries.command("answer")
@click.argument("transaction_id")
@click.option("--th", "th", help="The answer in Thai, with Thai letters (needed: the office's record).")
@click.option("--th-file", type=click.File("r", encoding="utf-8"), help="The Thai answer, from a file.")
@click.option("--en", "en", help="The answer in English; without it the mail offers an English answer on request.")
@click.option("--en-file", type=click.File("r", encoding="utf-8"), help="The English answer, from a file.")
@now_option
@click.pass_context
def inquiries_answer(
    ctx: click.Context,
    transaction_id: str,
    th: str | None,
    th_file: TextIO | None,
    en: str | None,
    en_file: TextIO | None,
    now: str | None,
) -> None:
    """Answer an inquiry by email, Thai then English (R28), threaded on the question (clerk).

    Example: mailintake inquiries answer SRB-2568-000007 --th "เปิดวันจันทร์ถึงศุกร์" --en "Open Monday to Friday."
    """
    when = moment(ctx, now)
    desk(ctx).reply_inquiry(transaction_id, _text(th, th_file, "th"), when, _text(en, en_file, "en"))
    send_now(ctx, when)
    click.echo(f"{transaction_id.upper()}: answered")


@inquiries_faq.command("add")
@click.argument("transaction_id")
@click.option(
    "--question", "--question-th", "question", required=True, help="The question in Thai (Thai letters), in your own words."
)
@click.option("--answer", "--answer-th", "answer", required=True, help="The answer in Thai (Thai letters).")
@click.option("--question-en", required=True, help="The question in English (published beside the Thai, R28).")
@click.option("--answer-en", required=True, help="The answer in English.")
@now_option
@click.pass_context
def inquiries_faq_add(
    ctx: click.Context, transaction_id: str, question: str, answer: str, question_en: str, answer_en: str, now: str | None
) -> None:
    """Add an answered inquiry to the public FAQ, in Thai and English, worded
    by you: nothing the citizen wrote is copied (clerk).

    Example: mailintake inquiries faq add SRB-2568-000007 --question "เปิดวันเสาร์หรือไม่" --answer "ไม่เปิด" --question-en "Open on Saturdays?" --answer-en "No."
    """
    entry = add_entry(Office(deployment(ctx)), transaction_id, question, answer, moment(ctx, now), question_en, answer_en)
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
