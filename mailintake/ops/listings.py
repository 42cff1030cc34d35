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
from email import policy
from email.parser import BytesParser
from typing import Any

from mailintake.base.data.outbox import SECRET_KINDS
from mailintake.base.data.records import OutgoingMail
from mailintake.base.headers import decode
from mailintake.base.wording import whole_dpi

Row = Mapping[str, Any]
# Colours a cell's text (``click.style`` on a terminal); a table printed
# elsewhere is drawn without one, so it never carries escape codes.
Paint = Callable[[str, str], str]


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    # The colour of a cell by its value (None: plain), used only when painted.
    colour: Callable[[Any], str | None] | None = None


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


def _cell(row: Row, column: Column, paint: Paint | None) -> str:
    """One cell fitted to its column; painted, the colour spans the text and
    not the padding, so the widths stay as measured."""
    value = row.get(column.key)
    cell = fit("" if value is None else str(value), column.width)
    colour = column.colour(value) if paint is not None and column.colour is not None else None
    text = cell.rstrip(" ")
    if paint is None or not colour or not text:
        return cell
    return paint(text, colour) + cell[len(text) :]


def table_lines(rows: Iterable[Row], columns: Iterable[Column], paint: Paint | None = None) -> list[str]:
    """A header, a rule and one line a row; ``(none)`` for no rows."""
    rows, columns = list(rows), list(columns)
    if not rows:
        return ["(none)"]
    header = "  ".join(fit(c.title, c.width) for c in columns).rstrip()
    lines = [header, "-" * display_width(header)]
    for row in rows:
        lines.append("  ".join(_cell(row, c, paint) for c in columns).rstrip())
    return lines


def short_time(iso: str | None) -> str:
    return "" if not iso else datetime.fromisoformat(iso).strftime("%d %b %H:%M")


@dataclass(frozen=True)
class TableView:
    """How one listing prints as a table: a row shaped for its columns."""

    columns: tuple[Column, ...]
    shape: Callable[[Row], Row] = dict

    def lines(self, rows: Iterable[Any], paint: Paint | None = None) -> list[str]:
        return table_lines((self.shape(plain(r)) for r in rows), self.columns, paint)


def _cols(*spec: tuple[str, str, int] | Column) -> tuple[Column, ...]:
    return tuple(s if isinstance(s, Column) else Column(*s) for s in spec)


def _problems_colour(value: Any) -> str | None:
    return "yellow" if value else None


def _outbox_status_colour(value: Any) -> str | None:
    return "red" if value in ("failed", "bounced", "blocked") else None


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
        Column("problems", "PROBLEMS/FLAGS", 30, _problems_colour),
    ),
    _application,
)

# The demo's view of the same rows, within 120 columns: what the demo is about
# (when each mail counts as received, and what is wrong with its files).
DEMO_APPLICATIONS = TableView(
    _cols(
        ("tid", "TRANSACTION", 16),
        ("service", "SERVICE", 22),
        ("received", "RECEIVED", 12),
        ("deemed", "DEEMED", 12),
        ("files", "FILES", 8),
        Column("problems", "PROBLEMS/FLAGS", 32, _problems_colour),
    ),
    _application,
)


def triage_table(applications: Iterable[Any]) -> list[str]:
    """The triage list as the clerk reads it (``mailintake triage list``)."""
    return APPLICATIONS.lines(applications)


def demo_table(applications: Iterable[Any]) -> list[str]:
    """The triage list as the demo prints it, narrower than ``triage list``."""
    return DEMO_APPLICATIONS.lines(applications)


def _numbered_files(files: Iterable[Any]) -> list[Row]:
    return [
        {**f, "n": i, "dpi": whole_dpi(f.get("dpi")), "verdict": "ok" if f["accepted"] else ",".join(f["problems"])}
        for i, f in enumerate((plain(f) for f in files), 1)
    ]


FILES = TableView(
    _cols(
        ("n", "#", 3),
        ("name", "NAME", 40),
        ("content_type", "TYPE", 24),
        ("size", "BYTES", 9),
        ("dpi", "DPI", 6),
        Column("verdict", "CHECK", 30, lambda v: None if v == "ok" else "yellow"),
    )
)


def files_table(files: Iterable[Any], paint: Paint | None = None) -> list[str]:
    return FILES.lines(_numbered_files(files), paint)


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
        Column("status", "STATUS", 8, _outbox_status_colour),
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
        ("backdated", "BACKDATED", 9),
        ("actor", "WHO", 10),
        ("action", "ACTION", 20),
        ("transaction_id", "TRANSACTION", 16),
        ("status_after", "STATUS", 12),
        ("detail", "DETAIL", 50),
    ),
    # --now was used: AT is not when the event was written (written_at in --json)
    lambda r: {**r, "backdated": "yes" if r.get("backdated") else ""},
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


# --- one sent mail (``mailintake outbox show``) ----------------------------------------------
def sent_mail(mail: OutgoingMail) -> dict[str, Any]:
    """An outgoing mail as a person reads it: its headers decoded, its text part
    (Thai as Thai, whatever the transfer encoding) and its attachments by name
    and size. The JSON of ``outbox show`` is this mapping. Mail that carries
    a secret shows its row only: sealed until sent, its body removed after."""
    if mail.kind in SECRET_KINDS or mail.key_id or not mail.raw:
        row = {"from": mail.sender, "to": mail.recipient, "subject": mail.subject, "date": "", "message_id": mail.message_id}
        kept = {"text": "(not kept: it carries a secret; sealed until sent, removed once sent)", "attachments": []}
        return {"id": mail.id, "transaction_id": mail.transaction_id, "kind": mail.kind, "status": mail.status} | {
            "sent_at": mail.sent_at,
            **row,
            **kept,
        }
    msg = BytesParser(policy=policy.default).parsebytes(mail.raw)
    body = msg.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    attachments = []
    for part in msg.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append({"name": part.get_filename() or "", "content_type": part.get_content_type(), "size": len(payload)})

    raw_headers = BytesParser(policy=policy.compat32).parsebytes(mail.raw, headersonly=True)

    def header(name: str) -> str:
        # Adjacent encoded-words joined before decoding (``base.headers``): a Thai
        # word the composer split across two of them comes back whole.
        return " ".join(decode(str(raw_headers.get(name, ""))).split())

    return {
        "id": mail.id,
        "transaction_id": mail.transaction_id,
        "kind": mail.kind,
        "status": mail.status,
        "sent_at": mail.sent_at,
        "from": header("From"),
        "to": header("To"),
        "subject": header("Subject"),
        "date": header("Date"),
        "message_id": header("Message-ID"),
        "text": text,
        "attachments": attachments,
    }


def sent_mail_lines(view: Mapping[str, Any]) -> list[str]:
    """The headers, the attachments and the text of ``sent_mail``."""
    state = f"sent {view['sent_at']}" if view["sent_at"] else view["status"]
    lines = [
        f"Outbox #{view['id']}  {view['kind']}  {state}" + (f"  ({view['transaction_id']})" if view["transaction_id"] else ""),
        f"From:        {view['from']}",
        f"To:          {view['to']}",
        f"Subject:     {view['subject']}",
        f"Date:        {view['date']}",
        f"Message-ID:  {view['message_id']}",
    ]
    files = view["attachments"]
    lines.append("Attachments: none" if not files else "Attachments:")
    lines += [f"  {i}. {a['name']} ({a['content_type']}, {a['size']:,} bytes)" for i, a in enumerate(files, 1)]
    lines += ["", *view["text"].rstrip("\n").splitlines()]
    return lines
