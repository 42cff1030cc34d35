"""What each listing shows as a table: its columns, the row shaped for them,
and the text table itself, aligned for Thai.

The command line prints these (``mailintake triage list``, ``outbox list``...)
and so does the demo; the JSON, CSV and newline-delimited forms print the rows
as the data layer gives them, not these shapes. Thai tone marks and upper and
lower vowels take no column of their own on a terminal, and wide (East Asian)
characters take two, so widths are measured in display cells, not characters.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int


def plain(row: Any) -> dict[str, Any]:
    """A row as a dict, whether it came as a record (``as_dict``) or a mapping."""
    as_dict = getattr(row, "as_dict", None)
    return as_dict() if callable(as_dict) else dict(row)


def char_width(char: str) -> int:
    """Display cells of one character: 0 for combining marks and format
    characters (Thai tone marks and vowels above and below are category Mn
    though some have combining class 0), 2 for wide ones, else 1."""
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def fit(text: str, width: int) -> str:
    """``text`` padded to ``width`` cells, or cut to ``width - 1`` cells and an ellipsis."""
    used = display_width(text)
    if used <= width:
        return text + " " * (width - used)
    out, cells = [], 0
    for char in text:
        w = char_width(char)
        if cells + w > width - 1:
            break
        out.append(char)
        cells += w
    return "".join(out) + "…" + " " * (width - 1 - cells)


def table_lines(rows: Iterable[Row], columns: Iterable[Column]) -> list[str]:
    """A header, a rule and one line a row; ``(none)`` for no rows."""
    rows, columns = list(rows), list(columns)
    if not rows:
        return ["(none)"]
    header = "  ".join(fit(c.title, c.width) for c in columns).rstrip()
    lines = [header, "-" * display_width(header)]
    for row in rows:
        cells = [fit("" if row.get(c.key) is None else str(row.get(c.key)), c.width) for c in columns]
        lines.append("  ".join(cells).rstrip())
    return lines


def short_time(iso: str | None) -> str:
    return "" if not iso else datetime.fromisoformat(iso).strftime("%d %b %H:%M")


@dataclass(frozen=True)
class TableView:
    """How one listing prints as a table: a row shaped for its columns."""

    columns: tuple[Column, ...]
    shape: Callable[[Row], Row] = dict

    def lines(self, rows: Iterable[Any]) -> list[str]:
        return table_lines((self.shape(plain(r)) for r in rows), self.columns)


def _cols(*spec: tuple[str, str, int]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


# --- the listings ----------------------------------------------------------------------------
def _application(r: Row) -> Row:
    files = r.get("files") or []
    return {
        "tid": r["transaction_id"],
        "service": r["service"] or ("inquiry" if r["kind"] == "inquiry" else "unassigned"),
        "applicant": r["applicant_email"],
        "received": short_time(r["received_at"]),
        "deemed": short_time(r["deemed_received_at"]),
        "status": r["status"],
        "ack": "sent " + short_time(r["acknowledged_at"]) if r["acknowledged_at"] else "due " + short_time(r["ack_due_at"]),
        "due": short_time(r["due_at"]),
        "files": f"{sum(bool(f['accepted']) for f in files)}/{len(files)} ok",
        "problems": ",".join([*r["problems"], *r["flags"]]),
    }


APPLICATIONS = TableView(
    _cols(
        ("tid", "TRANSACTION", 16),
        ("service", "SERVICE", 22),
        ("applicant", "APPLICANT", 26),
        ("received", "RECEIVED", 12),
        ("deemed", "DEEMED", 12),
        ("status", "STATUS", 10),
        ("ack", "ACK", 17),
        ("due", "DUE", 12),
        ("files", "FILES", 8),
        ("problems", "PROBLEMS/FLAGS", 30),
    ),
    _application,
)


def triage_table(applications: Iterable[Any]) -> list[str]:
    """The triage list as the clerk reads it (``mailintake triage list``, the demo)."""
    return APPLICATIONS.lines(applications)


def _numbered_files(files: Iterable[Any]) -> list[Row]:
    return [
        {**f, "n": i, "verdict": "ok" if f["accepted"] else ",".join(f["problems"])}
        for i, f in enumerate((plain(f) for f in files), 1)
    ]


FILES = TableView(
    _cols(
        ("n", "#", 3),
        ("name", "NAME", 40),
        ("content_type", "TYPE", 24),
        ("size", "BYTES", 9),
        ("dpi", "DPI", 6),
        ("verdict", "CHECK", 30),
    )
)


def files_table(files: Iterable[Any]) -> list[str]:
    return FILES.lines(_numbered_files(files))


def _payment(r: Row) -> Row:
    return {**r, "slip": ", ".join(s["name"] for s in r["slips"]), "when": short_time(r["slip_received_at"])}


PAYMENTS = TableView(
    _cols(
        ("transaction_id", "TRANSACTION", 16),
        ("applicant_email", "APPLICANT", 28),
        ("fee_amount", "BAHT", 7),
        ("when", "SLIP RECEIVED", 14),
        ("slip", "SLIP", 40),
    ),
    _payment,
)


def _outgoing(r: Row) -> Row:
    notes = r.get("delivery_notes") or []
    last = notes[-1] if notes else None
    note = (
        f"read {short_time(r['read_at'])}" if r["read_at"] else f"{last['action']} {last['status'] or ''}".strip() if last else ""
    )
    return {**r, "when": short_time(r["sent_at"] or r["next_attempt_at"]), "note": note}


OUTBOX = TableView(
    _cols(
        ("id", "ID", 5),
        ("transaction_id", "TRANSACTION", 16),
        ("kind", "KIND", 8),
        ("recipient", "TO", 28),
        ("status", "STATUS", 8),
        ("attempts", "TRIES", 5),
        ("when", "WHEN", 12),
        ("note", "NOTE", 14),
        ("last_error", "LAST ERROR", 40),
    ),
    _outgoing,
)

QUARANTINE = TableView(
    _cols(
        ("id", "ID", 5),
        ("folder", "FOLDER", 10),
        ("received_at", "RECEIVED", 26),
        ("stage", "STAGE", 9),
        ("attempts", "TRIES", 5),
        ("error", "ERROR", 60),
    )
)

EVENTS = TableView(
    _cols(
        ("id", "ID", 6),
        ("at", "AT", 26),
        ("actor", "WHO", 10),
        ("action", "ACTION", 20),
        ("transaction_id", "TRANSACTION", 16),
        ("status_after", "STATUS", 12),
        ("detail", "DETAIL", 50),
    )
)

PERMITS = TableView(
    _cols(
        ("number", "NUMBER", 16),
        ("transaction_id", "TRANSACTION", 16),
        ("service", "SERVICE", 14),
        ("holder_name", "HOLDER", 22),
        ("valid_until", "VALID UNTIL", 11),
        ("status", "STATUS", 15),
    )
)


def faq_lines(pairs: Iterable[Any]) -> list[str]:
    """Question and answer pairs as text to publish."""
    return [f"Q: {p['question']}\nA: {p['answer']}\n" for p in (plain(p) for p in pairs)]
