"""One set of output options for every listing, as sqlite-utils has: a table
by default, ``--json`` (an array), ``--csv`` (a header and a line a row) and
``--nl`` (one JSON object a line, for ``jq`` and log shippers).

The JSON forms print the rows as the data layer gives them (a record's
``as_dict()``); the table prints the listing's own shape (``ops.listings``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import click

from mailintake.ops.listings import Paint, TableView, plain
from mailintake.ops.reports import spreadsheet_safe

F = TypeVar("F", bound=Callable[..., Any])

TABLE, JSON, CSV, NL = "table", "json", "csv", "nl"
FORMATS = (TABLE, JSON, CSV, NL)


def output_options(default: str = TABLE, formats: tuple[str, ...] = FORMATS) -> Callable[[F], F]:
    """``--table``, ``--json``, ``--csv`` and ``--nl``, all into one ``fmt``
    argument (a listing with no table form leaves ``--table`` out)."""
    help_of = {
        TABLE: "Print a table.",
        JSON: "Print a JSON array.",
        CSV: "Print CSV with a header line.",
        NL: "Print newline-delimited JSON, one object a line.",
    }

    def decorate(f: F) -> F:
        for name in reversed(formats):
            extra: dict[str, Any] = {"default": True} if name == default else {}
            f = click.option(
                f"--{name}", "fmt", flag_value=name, **extra, help=help_of[name] + (" (the default)" if name == default else "")
            )(f)
        return f

    return decorate


def json_option(f: F) -> F:
    """``--json`` for a command that shows one thing, not a listing."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(f)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _jsonable(data: Any) -> Any:
    if isinstance(data, (list, tuple)):
        return [_jsonable(d) for d in data]
    return plain(data) if hasattr(data, "as_dict") else data


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return spreadsheet_safe(json.dumps(value, ensure_ascii=False, default=str))
    if isinstance(value, str):
        # A carriage return inside a cell becomes a newline, which the writer
        # quotes (it is its line terminator): every CSV reader takes the line.
        return spreadsheet_safe(value.replace("\r\n", "\n").replace("\r", "\n"))
    return str(value)


def csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """A header of every key seen, then a line a row; nothing for no rows.
    Lists and mappings in a cell are written as JSON; text a spreadsheet would
    run as a formula is neutralised (``spreadsheet_safe``)."""
    rows = list(rows)
    if not rows:
        return ""
    fields: dict[str, None] = {}
    for row in rows:
        fields.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow(_cell(row.get(k)) for k in fields)
    return out.getvalue()


def colour_wanted(stream: Any = None, environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set to
    anything (https://no-color.org): piped, redirected or logged output stays
    plain. Only tables and text use it, never ``--json``, ``--csv`` or ``--nl``."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    out = sys.stdout if stream is None else stream
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def painter() -> Paint | None:
    """``click.style`` when colour is wanted, else None (plain text)."""
    if not colour_wanted():
        return None

    def paint(text: str, colour: str) -> str:
        return click.style(text, fg=colour, bold=True if colour == "red" else None)

    return paint


def emit(rows: Iterable[Any], fmt: str, table: TableView | Callable[[list[Any]], list[str]]) -> None:
    """Print a listing's rows (records or mappings) in the chosen format; the
    table is a ``TableView`` or a function giving the lines."""
    rows = list(rows)
    if fmt == JSON:
        print_json(_jsonable(rows))
    elif fmt == NL:
        for row in rows:
            click.echo(json.dumps(_jsonable(row), ensure_ascii=False, default=str))
    elif fmt == CSV:
        click.echo(csv_text(plain(r) for r in rows), nl=False)
    else:
        lines = table.lines(rows, painter()) if isinstance(table, TableView) else table(rows)
        for line in lines:
            click.echo(line)


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """A nested mapping as ``field``/``value`` rows (``last_sweep.result``),
    the CSV form of a command that reports one thing in many fields."""
    out: list[dict[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out += flatten(value, name + ".")
        else:
            out.append({"field": name, "value": value})
    return out


def warnings_painted(lines: list[str]) -> list[str]:
    """Lines starting ``WARNING:`` in yellow, on a terminal only."""
    paint = painter()
    if paint is None:
        return lines
    return [paint(line, "yellow") if line.startswith("WARNING:") else line for line in lines]


def emit_one(data: Mapping[str, Any], fmt: str, lines: Callable[[Any], list[str]]) -> None:
    """Print a report of one thing in many fields (``status``): its own text
    (its ``WARNING:`` lines coloured on a terminal) as the table, the mapping
    as JSON, one JSON line, or ``field,value`` CSV."""
    if fmt == JSON:
        print_json(data)
    elif fmt == NL:
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
    elif fmt == CSV:
        click.echo(csv_text(flatten(data)), nl=False)
    else:
        for line in warnings_painted(lines(data)):
            click.echo(line)


# --- a sweep's progress ----------------------------------------------------------------------
PROGRESS_AFTER = 5  # a folder with more messages than this gets a bar


class SweepProgress:
    """A progress bar on stderr for each folder of more than a few messages
    (the ``progress`` of ``run_sweep``). Made only for a terminal: logs, pipes
    and ``--json`` never see it (``sweep_progress``)."""

    def __init__(self) -> None:
        self.folder: str | None = None
        self.bar: Any = None

    def __call__(self, folder: str, done: int, total: int) -> None:
        if folder != self.folder:
            self.close()
            self.folder = folder
            if total > PROGRESS_AFTER:
                self.bar = click.progressbar(length=total, label=folder, show_pos=True, file=sys.stderr).__enter__()
        if self.bar is not None:
            self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def sweep_progress(as_json: bool) -> SweepProgress | None:
    """A bar when stderr is a terminal and the output is not JSON, else None."""
    if as_json or not colour_wanted(sys.stderr, {}):
        return None
    return SweepProgress()
