"""Retention and the destruction list (issue 16), by the Regulation on Registry
Work: a document is kept for its service's retention class (``retention`` in the
service file: 10 years by default, or "permanent") counted from the year its
application finished (closed, withdrawn, rejected, or an inquiry answered): its
keep-until year is that B.E. year plus the class, and it may go once that year
has ended. Each January the clerk makes the list of what has run out
(บัญชีหนังสือขอทำลาย, ``make_list``); nothing is erased until an admin records the
committee's approval (``approve``); ``ops.purge`` then erases the files (its
third source: approved destruction items), leaving the book line and one audit
event per item. ``export`` feeds another e-saraban (layout in README).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mailintake.base import thaitext
from mailintake.base.data import retention as table
from mailintake.base.data.db import to_iso
from mailintake.base.deployment import Deployment
from mailintake.base.errors import NotFound, UserError
from mailintake.base.rules import RETENTION_DEFAULT
from mailintake.desk import book
from mailintake.desk.roles import require
from mailintake.permits.bookprint import book_pdf

PERMANENT = "permanent"
# The columns of บัญชีหนังสือขอทำลาย: key, Thai, English; the committee fills การพิจารณา.
COLUMNS = (
    ("position", "ลำดับที่", "No."),
    ("reference", "ที่", "Reference"),
    ("dated", "ลงวันที่", "Dated"),
    ("from", "จาก", "From"),
    ("to", "ถึง", "To"),
    ("subject", "เรื่อง", "Subject"),
    ("decision", "การพิจารณา", "Committee's decision"),
    ("remarks", "หมายเหตุ", "Remarks"),
)
WIDTHS = (14, 30, 24, 40, 30, 70, 35, 34)  # mm, 277 across landscape A4
EXPORT_FIELDS = (
    "number",
    "be_year",
    "registered_on",
    "received_at",
    "channel",
    "reference",
    "dated",
    "from",
    "to",
    "subject",
    "action",
    "remarks",
    "registered_by",
    "transaction_id",
    "cancelled",
    "keep_until",
    "file",
    "file_sha256",
)


def keep_until(dep: Deployment, line: dict[str, Any] | None) -> int | str | None:
    """The keep-until B.E. year of a book line (``data.retention`` row), "permanent",
    or None while its application is open (or it has none)."""
    if line is None or line.get("status") not in table.FINISHED:
        return None
    service = dep.service(line.get("service"))
    years = service.retention_years if service else RETENTION_DEFAULT
    if years is None:
        return PERMANENT
    finished = datetime.fromisoformat(line["finished_at"] or line["updated_at"])
    return thaitext.be_year(dep.calendar.local(finished).year) + years


def keep_until_of(dep: Deployment, tid: str) -> int | str | None:
    """``triage show``'s keep-until."""
    return keep_until(dep, table.line_of(dep.registry, tid.upper()))


def annotate(dep: Deployment, days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``book print``'s days with each line's keep-until."""
    for day in days:
        for line in day["lines"]:
            line["keep_until"] = keep_until_of(dep, line["transaction_id"]) if line["transaction_id"] else None
    return days


def _be(year: int) -> int:
    return year if year > 2400 else thaitext.be_year(year)


def due(dep: Deployment, be_year: int) -> list[tuple[dict[str, Any], int]]:
    """Lines whose retention ran out before ``be_year`` began, with their keep-until."""
    out = []
    for line in table.finished_lines(dep.registry):
        until = keep_until(dep, line)
        if isinstance(until, int) and until < be_year:
            out.append((line, until))
    return out


def _row(position: int, line: dict[str, Any], until: int) -> dict[str, Any]:
    shown = book.plain(line)
    remarks = f"เลขรับ {book.label(line)}" + (f", {line['transaction_id']}" if line["transaction_id"] else "")
    return {
        "position": position,
        "reference": shown["reference"] or f"เลขรับ {book.label(line)}",
        "dated": shown["dated"] or book._day(line["registered_on"]),
        "from": shown["from"],
        "to": shown["to"],
        "subject": shown["subject"],
        "decision": "",
        "remarks": f"{remarks}; เก็บถึง พ.ศ. {until}",
        "transaction_id": line["transaction_id"],
        "keep_until": until,
    }


def _safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(rows: list[dict[str, Any]], columns: tuple[tuple[str, str, str], ...] | tuple[str, ...]) -> str:
    """CSV with a BOM (Excel reads UTF-8 Thai), cells neutralised against formulas."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    keys = [c[0] if isinstance(c, tuple) else c for c in columns]
    writer.writerow([c[1] if isinstance(c, tuple) else c for c in columns])
    for row in rows:
        writer.writerow([_safe(row.get(k)) for k in keys])
    return "\ufeff" + buf.getvalue()


def title(be_year: int, list_id: int, agency: str) -> str:
    """The form's heading: the year, the agency (ส่วนราชการ), the list's number."""
    return f"บัญชีหนังสือขอทำลาย ประจำปี พ.ศ. {be_year} ส่วนราชการ {agency} (บัญชีที่ {list_id})"


def make_list(dep: Deployment, year: int, out: Path, now: datetime) -> dict[str, Any]:
    """Record the list of files past retention at the start of ``year`` (B.E. or
    C.E.) and write it to ``out`` as CSV and PDF; nothing is erased."""
    user = require(dep.cfg, "clerk", "admin")
    be_year = _be(year)
    this_year = thaitext.be_year(dep.calendar.local(now).year)
    if be_year > this_year:
        raise UserError(f"--year {be_year} has not begun: the list is made in the January of its year")
    found = due(dep, be_year)
    if not found:
        return {"id": None, "be_year": be_year, "items": [], "csv": None, "pdf": None}
    reg = dep.registry
    with reg.transaction():
        list_id = table.add_list(reg, {"year": be_year, "made_at": to_iso(now), "made_by": user.login})
        rows = []
        for n, (line, until) in enumerate(found, start=1):
            table.add_item(
                reg,
                {
                    "list_id": list_id,
                    "position": n,
                    "book_id": line["id"],
                    "transaction_id": line["transaction_id"],
                    "keep_until": until,
                },
            )
            rows.append(_row(n, line, until))
        reg.add_event(
            at=now, actor=user.login, action="destruction_listed", detail={"list": list_id, "year": be_year, "items": len(rows)}
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"destruction-list-{be_year}-{list_id}"
        stem.with_suffix(".csv").write_text(write_csv(rows, COLUMNS), encoding="utf-8")
        heading = title(be_year, list_id, dep.cfg.agency.name_th)
        stem.with_suffix(".pdf").write_bytes(book_pdf(heading, [{"heading": heading, "lines": rows}], COLUMNS, WIDTHS))
    except OSError as exc:
        raise UserError(
            f"--out {out}: {exc.strerror or exc} (list {list_id} is recorded; `book destruction-list` again "
            "will not list its items twice)"
        ) from None
    return {
        "id": list_id,
        "be_year": be_year,
        "items": rows,
        "csv": str(stem.with_suffix(".csv")),
        "pdf": str(stem.with_suffix(".pdf")),
    }


def approve(dep: Deployment, list_id: int, approved_by: str, on: date, now: datetime) -> dict[str, Any]:
    """Record the committee's approval of list ``list_id`` (admin): its items are
    then due for ``ops.purge``."""
    user = require(dep.cfg, "admin")
    if not approved_by.strip():
        raise UserError("--approved-by must name who approved (the committee's chair)")
    if on > dep.calendar.local(now).date():
        raise UserError(f"--date {on.isoformat()} is in the future")
    reg = dep.registry
    with reg.transaction():
        found = table.get_list(reg, list_id)
        if found is None:
            raise NotFound(f"no destruction list {list_id}")
        if found["approved_at"]:
            raise UserError(f"list {list_id} was approved already, by {found['approved_by']} on {found['approved_on']}")
        changes = {
            "approved_by": approved_by.strip()[:200],
            "approved_on": on.isoformat(),
            "approved_at": to_iso(now),
            "recorded_by": user.login,
        }
        table.approve(reg, list_id, changes)
        reg.add_event(at=now, actor=user.login, action="destruction_approved", detail={"list": list_id, **changes})
    return {**found, **changes}


def export(dep: Deployment, since: date, out: Path, now: datetime) -> dict[str, Any]:
    """The book lines registered from ``since`` with their stamped PDFs, laid out
    for another system (README: "Feeding an e-saraban")."""
    require(dep.cfg, "clerk", "admin")
    rows: list[dict[str, Any]] = []
    try:
        (out / "files").mkdir(parents=True, exist_ok=True)
        for line in table.lines_since(dep.registry, since.isoformat()):
            row = book.plain(line)
            row["keep_until"] = keep_until_of(dep, line["transaction_id"]) if line["transaction_id"] else None
            row["file"], row["file_sha256"] = _file(dep, line, out, now)
            rows.append(row)
        (out / "book.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        (out / "book.csv").write_text(write_csv(rows, EXPORT_FIELDS), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--out {out}: {exc.strerror or exc}") from None
    return {"since": since.isoformat(), "lines": len(rows), "files": sum(1 for r in rows if r["file"]), "out": str(out)}


def _file(dep: Deployment, line: dict[str, Any], out: Path, now: datetime) -> tuple[str | None, str | None]:
    """The line's PDF in ``files/``: the stamped copy of an application (made on
    demand), the scan of a document the clerk added; none when erased."""
    name = f"files/{thaitext.be_year(line['year'])}-{line['number']:06d}"
    digest = line["file_sha256"]
    if line["transaction_id"]:
        try:
            digest = book.stamp(dep, line["transaction_id"], now)["sha256"]
        except (NotFound, UserError):
            return None, None
    if not digest or not dep.store.has(digest):
        return None, None
    data = dep.store.get(digest)
    name += ".pdf" if data[:5] == b"%PDF-" else ".bin"
    (out / name).write_bytes(data)
    return name, digest
