"""Reports: the service log of Table 2 of the Email Baseline Procedure (R11) and
the export of one application's record for printing or the e-saraban system
(R14). The FAQ is the clerks' own (``desk.faq``)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mailintake.base import thaitext
from mailintake.base.data import applications, book
from mailintake.base.data.db import Registry
from mailintake.base.store import Store
from mailintake.desk.queries import show_application
from mailintake.intake.parse import clean_filename

LOG_COLUMNS = [
    ("date_received", "วันที่รับเรื่อง", "Date received"),
    ("date_replied", "วันที่ตอบกลับ", "Date replied"),
    ("requester", "ผู้ขอรับบริการ", "Requester"),
    ("subject", "เรื่อง", "Subject"),
    ("source", "แหล่งข้อมูล", "Source"),
    ("remarks", "หมายเหตุ", "Remarks"),
]


def service_log(reg: Registry, start: date, end: date) -> list[dict[str, Any]]:
    """Applications and inquiries received from ``start`` to ``end`` (inclusive), as rows of Table 2."""
    rows = []
    for app in applications.by_deemed_receipt(reg):
        received = datetime.fromisoformat(app.received_at)
        if not start <= received.date() <= end:
            continue
        # The first answer sent, the acknowledgement included: it never moves.
        answered = [t for t in (app.acknowledged_at, app.replied_at) if t]
        replied = min(answered, key=datetime.fromisoformat) if answered else None
        remarks = [app.transaction_id, "inquiry" if app.kind == "inquiry" else (app.service or "unassigned"), app.status]
        rows.append(
            {
                "date_received": app.received_at,
                "date_replied": replied,
                "requester": f"{app.applicant_name or ''} <{app.applicant_email}>".strip(),
                "subject": app.subject,
                # An officer's forward of a citizen's mail (R23) carries the flag "forwarded".
                "source": "forwarded" if "forwarded" in app.flags else "email",
                "remarks": "; ".join(remarks),
            }
        )
    # Documents registered at the counter or by post (``book add``) are received
    # too: their channel is the source; an email's line is the application above.
    for line in book.between(reg, start.isoformat(), end.isoformat()):
        if line["channel"] == "email" or line["cancelled_at"]:
            continue
        rows.append(
            {
                "date_received": line["received_at"],
                "date_replied": None,
                "requester": line["sender"],
                "subject": line["subject"],
                "source": SOURCES.get(line["channel"], line["channel"]),
                "remarks": f"{line['number']}/{thaitext.be_year(line['year'])}",
            }
        )
    return sorted(rows, key=lambda r: str(r["date_received"]))


# The channel a book line came by, as Table 2's "source" names it.
SOURCES = {"walk-in": "counter", "post": "post"}


# A text cell a spreadsheet would read as a formula (or, after a tab or carriage
# return, as the start of one) begins with one of these.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: text starting with
    ``= + - @``, a tab or a carriage return gets a leading single quote (the
    OWASP advice for CSV injection). Numbers, and text that is only a number such
    as ``-5``, stay as they are, so sums still work."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_STARTS):
        return value
    if _NUMBER.fullmatch(value):
        return value
    return "'" + value


def log_csv(rows: list[dict[str, Any]], lang: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([th if lang == "th" else en for _k, th, en in LOG_COLUMNS])
    for r in rows:
        writer.writerow([spreadsheet_safe(r[k] or "") for k, _th, _en in LOG_COLUMNS])
    return buf.getvalue()


def safe_name(index: int, name: str) -> str:
    """A file name safe on any file system, keeping Thai letters."""
    cleaned = re.sub(r"[^\w.\- ()]", "_", clean_filename(name, index)).strip(" .")
    if re.fullmatch(r"(?i)(con|prn|aux|nul|com\d|lpt\d)(\..*)?", cleaned):
        cleaned = "_" + cleaned
    return f"{index:02d}-{cleaned or 'file'}"


def export(reg: Registry, store: Store, tid: str, out: Path, stamped: list[dict[str, Any]] | None = None) -> list[Path]:
    """Write the raw emails, every file under a safe name (and the ``stamped``
    copies, ``desk.book.stamped_files``) and a one-page summary."""
    app = show_application(reg, tid)
    app["files"] = app["files"] + list(stamped or [])
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, m in enumerate(app["messages"], start=1):
        if store.has(m["sha256"]):
            p = out / f"message-{i:02d}.eml"
            p.write_bytes(store.get(m["sha256"]))
            written.append(p)
    for i, f in enumerate(app["files"], start=1):
        p = out / safe_name(i, f["name"])
        p.write_bytes(store.get(f["sha256"]))
        written.append(p)
    lines = [
        f"{app['transaction_id']}  ({app['status']})",
        f"ผู้ยื่นคำขอ / Applicant: {app['applicant_name'] or ''} <{app['applicant_email']}>",
        f"เรื่อง / Subject: {app['subject']}",
        f"บริการ / Service: {app['service'] or 'unassigned'}",
        f"รับเมื่อ / Received: {app['received_at']}",
        f"ถือว่ารับเมื่อ / Deemed received: {app['deemed_received_at']} ({app['ack_reason']})",
        f"ตอบรับเมื่อ / Acknowledged: {app['acknowledged_at'] or '-'}",
        f"กำหนดเสร็จ / Due: {app.get('due_at') or '-'}",
        "",
        "เอกสาร / Files:",
    ]
    for i, f in enumerate(app["files"], start=1):
        verdict = "ok" if f["accepted"] else ", ".join(f["problems"])
        lines.append(
            f"  {safe_name(i, f['name'])}  {f['content_type']}  {f['size']} bytes  sha256 {f['sha256'][:16]}…  {verdict}"
        )
    lines += ["", "เหตุการณ์ / Events:"]
    lines += [
        f"  {e['at']}  {e['actor']}  {e['action']}" + (f"  -> {e['status_after']}" if e["status_after"] else "")
        for e in app["events"]
    ]
    p = out / "summary.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(p)
    return written
