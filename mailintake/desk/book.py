"""The official registry book (ทะเบียนหนังสือรับ, issue 16): one book for every
channel, numbered, printed in the regulation's columns, routed, stamped.

The number (เลขทะเบียนรับ) comes from the yearly sequence ``book`` and commits
with its line (``Registry.next_number``), so it is never reused; a cancelled
number stays in the book, marked. The year of a number is the year of its
registration day, as the Regulation on Registry Work has the book record the
day of registration: for mail, the day it is deemed received (mail arriving at
23:00 on 31 December is deemed received, and so registered, on the next working
day: the new year's book, from 1); for a document the clerk adds, the day it is
added. The date and time the mail actually arrived are kept beside it.

The sender's own reference (ที่) of a mail is a Thai government reference (two
to four Thai letters, a number, "/", a number: ``มท 0808.2/ว 1234``) in the
subject, else on a line of the text that begins with "ที่"; none, when neither
has one. The letter's date (ลงวันที่) is the day of its Date: header.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mailintake.base import thaitext
from mailintake.base.data import applications
from mailintake.base.data import book as lines
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.deployment import Deployment
from mailintake.base.errors import NotFound, UserError
from mailintake.desk.roles import require
from mailintake.permits import stamp as stamping

SYSTEM = "system"
REFERENCE = re.compile(r"[ก-ฮ]{1,4}\.?\s?\d[\d.]*\s?/\s?(?:ว\.?\s?)?\d+")
START_KEY = "book_start_{year}"  # kv: the first number of the year kept here (``start-at``)
# The eight columns of the regulation's register, then what clerks add: key, Thai, English.
COLUMNS = (
    ("number", "เลขทะเบียนรับ", "Register no."),
    ("reference", "ที่", "Reference"),
    ("dated", "ลงวันที่", "Dated"),
    ("from", "จาก", "From"),
    ("to", "ถึง", "To"),
    ("subject", "เรื่อง", "Subject"),
    ("action", "การปฏิบัติ", "Action"),
    ("remarks", "หมายเหตุ", "Remarks"),
    ("received", "วันเวลาที่รับ", "Received"),
    ("registered_by", "ผู้ลงทะเบียน", "Registered by"),
)


# --- the number -----------------------------------------------------------------------------
def reference_in(subject: str, body: str) -> str | None:
    """The sender's own reference (ที่) of a mail, or None (see the module)."""
    found = REFERENCE.search(subject or "")
    if found is None:
        for line in (body or "")[:5000].splitlines():
            text = line.strip()
            if text.startswith("ที่") and text[3:4].isspace():
                found = REFERENCE.search(text)
                if found:
                    break
    return re.sub(r"\s+", " ", found.group(0)).strip()[:80] if found else None


def _take_number(reg: Registry, year: int) -> int:
    return reg.next_number(lines.SEQUENCE, year)


def register_mail(
    reg: Registry,
    *,
    tid: str,
    subject: str,
    body: str,
    sender: str,
    to: str,
    dated: datetime | None,
    received: datetime,
    deemed: datetime,
    files: int,
    now: datetime,
) -> int:
    """The book line of a registered application (inside the caller's
    transaction): the next number of the deemed receipt day's year."""
    day = deemed.date()
    number = _take_number(reg, day.year)
    lines.add(
        reg,
        {
            "year": day.year,
            "number": number,
            "channel": "email",
            "transaction_id": tid,
            "registered_on": day.isoformat(),
            "received_at": to_iso(received),
            "reference": reference_in(subject, body),
            "dated": dated.astimezone(received.tzinfo).date().isoformat() if dated else None,
            "sender": sender[:300],
            "addressee": to[:300] or None,
            "subject": subject[:500],
            "remarks": f"อีเมล {tid}" + (f", แนบ {files} ไฟล์" if files else ""),
            "registered_by": SYSTEM,
            "registered_at": to_iso(now),
        },
    )
    return number


def label(line: dict[str, Any]) -> str:
    """A number as quoted outside the book: ``12/2570`` (its B.E. year)."""
    return f"{line['number']}/{thaitext.be_year(line['year'])}"


def number_of(reg: Registry, tid: str) -> str | None:
    line = lines.of_transaction(reg, tid)
    return label(line) if line else None


def find(reg: Registry, ref: str, today: date) -> dict[str, Any]:
    """A line by transaction ID, by number (this year) or by ``N/YYYY`` (B.E. year)."""
    text = ref.strip()
    number = re.fullmatch(r"(\d+)(?:/(\d{4}))?", text)
    if number:
        year = int(number.group(2)) - 543 if number.group(2) else today.year
        found = lines.by_number(reg, year, int(number.group(1)))
        if not found:
            raise NotFound(f"no number {number.group(1)} in the book of {thaitext.be_year(year)}")
        return found[0]
    line = lines.of_transaction(reg, text.upper())
    if line is None:
        raise NotFound(f"{text} has no line in the book")
    return line


# --- the clerk's entries ----------------------------------------------------------------------
def add(
    dep: Deployment,
    *,
    sender: str,
    subject: str,
    now: datetime,
    to: str = "",
    reference: str = "",
    dated: date | None = None,
    scan: Path | None = None,
    channel: str = "walk-in",
) -> dict[str, Any]:
    """Register a document that came by hand or by post: the next number."""
    user = require(dep.cfg, "clerk")
    if not sender.strip() or not subject.strip():
        raise UserError("book add: --from and --subject must not be empty")
    digest = None
    if scan is not None:
        try:
            digest = dep.store.put(scan.read_bytes())
        except OSError as exc:
            raise UserError(f"--file: {scan}: {exc.strerror or exc}") from None
    local = dep.calendar.local(now)
    reg = dep.registry
    with reg.transaction():
        number = _take_number(reg, local.year)
        row = {
            "year": local.year,
            "number": number,
            "channel": channel,
            "registered_on": local.date().isoformat(),
            "received_at": to_iso(local),
            "reference": reference.strip() or None,
            "dated": dated.isoformat() if dated else None,
            "sender": sender.strip()[:300],
            "addressee": to.strip()[:300] or None,
            "subject": subject.strip()[:500],
            "remarks": {"walk-in": "ยื่นด้วยตนเอง", "post": "ทางไปรษณีย์"}.get(channel, channel),
            "file_sha256": digest,
            "file_name": scan.name[:200] if scan else None,
            "registered_by": user.login,
            "registered_at": to_iso(now),
        }
        lines.add(reg, row)
        reg.add_event(at=now, actor=user.login, action="book_added", detail={"number": label(row), "channel": channel})
    return row


def cancel(dep: Deployment, ref: str, reason: str, now: datetime) -> dict[str, Any]:
    """Mark a number cancelled: the line stays, the number is never given again."""
    user = require(dep.cfg, "clerk")
    if not reason.strip():
        raise UserError("book cancel: --reason must not be empty")
    reg = dep.registry
    with reg.transaction():
        line = find(reg, ref, dep.calendar.local(now).date())
        if line["cancelled_at"]:
            raise UserError(f"number {label(line)} was cancelled already, on {line['cancelled_at']}")
        changes = {"cancelled_at": to_iso(now), "cancelled_by": user.login, "cancel_reason": reason.strip()[:500]}
        lines.update(reg, line["id"], changes)
        reg.add_event(
            at=now,
            actor=user.login,
            action="book_cancelled",
            transaction_id=line["transaction_id"],
            detail={"number": label(line), "reason": reason.strip()[:500]},
        )
    return {**line, **changes}


def start_at(dep: Deployment, first: int, now: datetime) -> dict[str, Any]:
    """Go on from the paper book: the year's next number is ``first`` (never
    back over a number already given)."""
    user = require(dep.cfg, "clerk")
    year = dep.calendar.local(now).year
    reg = dep.registry
    with reg.transaction():
        last = lines.last_number(reg, year)
        if first <= last:
            raise UserError(f"number {last}/{thaitext.be_year(year)} is given already: the book can only go on from {last + 1}")
        lines.set_last_number(reg, year, first - 1)
        reg.set_kv(START_KEY.format(year=year), str(first))
        reg.add_event(at=now, actor=user.login, action="book_start_at", detail={"year": year, "next": first})
    return {"year": year, "be_year": thaitext.be_year(year), "next": first}


def route(dep: Deployment, ref: str, unit: str, note: str, now: datetime) -> dict[str, Any]:
    """Record which unit the document went to, and when (การปฏิบัติ)."""
    user = require(dep.cfg, "clerk", "approver")
    units = dep.cfg.book.units
    if unit not in units:
        known = ", ".join(units) if units else "none: add them to [book] units in the config"
        raise UserError(f"no unit {unit!r}; the units are {known}")
    reg = dep.registry
    with reg.transaction():
        line = find(reg, ref, dep.calendar.local(now).date())
        if line["cancelled_at"]:
            raise UserError(f"number {label(line)} is cancelled")
        changes = {"routed_to": unit, "routed_at": to_iso(now), "routed_by": user.login, "route_note": note.strip()[:500] or None}
        lines.update(reg, line["id"], changes)
        reg.add_event(
            at=now,
            actor=user.login,
            action="routed",
            transaction_id=line["transaction_id"],
            detail={"number": label(line), "unit": unit, "note": note.strip()[:500]},
        )
    return {**line, **changes}


# --- reading the book -------------------------------------------------------------------------
def check(reg: Registry, year: int | None = None) -> list[dict[str, Any]]:
    """Every gap and duplicate number, per year (all years, or ``year``)."""
    found: list[dict[str, Any]] = []
    for y in [year] if year is not None else sorted({*lines.years(reg)}):
        given = lines.numbers(reg, y)
        start = int(reg.get_kv(START_KEY.format(year=y)) or 1)
        top = max([lines.last_number(reg, y), *given]) if given else lines.last_number(reg, y)
        present = set(given)
        missing = [n for n in range(start, top + 1) if n not in present]
        doubled = sorted({n for n in given if given.count(n) > 1})
        found += [{"year": y, "be_year": thaitext.be_year(y), "problem": "gap", "number": n} for n in missing]
        found += [{"year": y, "be_year": thaitext.be_year(y), "problem": "duplicate", "number": n} for n in doubled]
    return found


def _when(value: str | None) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value)
    return f"{thaitext.thai_date(moment, with_weekday=False, with_time=False)} {moment:%H:%M} น."


def _day(value: str | None) -> str:
    return thaitext.thai_date(datetime.fromisoformat(value), with_weekday=False, with_time=False) if value else ""


def plain(line: dict[str, Any]) -> dict[str, Any]:
    """A line as the book prints it (the CLI's JSON contract)."""
    action = ""
    if line["routed_to"]:
        action = f"{line['routed_to']} ({_when(line['routed_at'])})" + (f": {line['route_note']}" if line["route_note"] else "")
    remarks = line["remarks"] or ""
    if line["cancelled_at"]:
        remarks = f"ยกเลิก (cancelled): {line['cancel_reason']}" + (f"; {remarks}" if remarks else "")
    return {
        "number": line["number"],
        "year": line["year"],
        "be_year": thaitext.be_year(line["year"]),
        "reference": line["reference"] or "",
        "dated": _day(line["dated"]),
        "from": line["sender"],
        "to": line["addressee"] or "",
        "subject": line["subject"],
        "action": action,
        "remarks": remarks,
        "received": _when(line["received_at"]),
        "registered_by": line["registered_by"],
        "registered_on": line["registered_on"],
        "received_at": line["received_at"],
        "channel": line["channel"],
        "transaction_id": line["transaction_id"],
        "cancelled": bool(line["cancelled_at"]),
        "routed_to": line["routed_to"],
        "routed_at": line["routed_at"],
        "file_sha256": line["file_sha256"],
    }


def heading(day: date) -> str:
    """``ทะเบียนหนังสือรับ วันที่ 5 เดือน มกราคม พ.ศ. 2570``"""
    return f"ทะเบียนหนังสือรับ วันที่ {day.day} เดือน {thaitext.TH_MONTHS[day.month - 1]} พ.ศ. {thaitext.be_year(day.year)}"


def pages(reg: Registry, first: date, last: date) -> list[dict[str, Any]]:
    """The book from ``first`` to ``last``, grouped by registration day, each
    under the paper book's heading."""
    days: dict[str, list[dict[str, Any]]] = {}
    for line in lines.between(reg, first.isoformat(), last.isoformat()):
        days.setdefault(line["registered_on"], []).append(plain(line))
    return [{"day": d, "heading": heading(date.fromisoformat(d)), "lines": rows} for d, rows in days.items()]


# --- the receipt stamp ------------------------------------------------------------------------
def stamped_files(dep: Deployment, tid: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """The stamped copies of ``tid``, made at first use (see README: the
    stamp costs too much to make during the sweep)."""
    reg = dep.registry
    made = lines.stamps_of(reg, tid)
    if not made and lines.of_transaction(reg, tid) is not None:
        made = [stamp(dep, tid, now or datetime.now().astimezone())]
    dpi = {f.sha256: f.dpi for f in applications.files_of(reg, tid)}  # the scan's, under the stamp
    return [
        {
            "name": m["name"],
            "content_type": "application/pdf",
            "kind": "stamped",
            "size": m["size"],
            "sha256": m["sha256"],
            "accepted": True,
            "dpi": dpi.get(m["original_sha256"]),
            "problem": None,
            "problems": [],
            "problem_th": None,
            "problem_en": None,
            "stamped_from": m["original_sha256"],
        }
        for m in made
    ]


def stamp(dep: Deployment, tid: str, now: datetime) -> dict[str, Any]:
    """Make (or find) the stamped copy of the first PDF of ``tid``, or of a
    PDF made from its mail when it brought none; the original stays as it is."""
    reg = dep.registry
    line = lines.of_transaction(reg, tid.upper())
    if line is None:
        raise NotFound(f"{tid} has no line in the book")
    tid = line["transaction_id"]
    for made in lines.stamps_of(reg, tid):
        return made
    original, name, data = _original(dep, tid)
    received = datetime.fromisoformat(line["received_at"])
    text = stamping.StampText(
        agency=dep.cfg.book.stamp_name or dep.cfg.agency.name_th,
        number=str(line["number"]),
        date_th=thaitext.thai_date(received, with_weekday=False, with_time=False),
        time_th=f"{received:%H:%M} น.",
    )
    book = dep.cfg.book
    try:
        stamped = stamping.stamp_pdf(data, text, book.stamp_right_mm, book.stamp_top_mm)
    except stamping.StampError:
        original, name, data = _mail_copy(dep, tid)
        stamped = stamping.stamp_pdf(data, text, book.stamp_right_mm, book.stamp_top_mm)
    digest = dep.store.put(stamped)
    row = {
        "transaction_id": tid,
        "original_sha256": original,
        "sha256": digest,
        "name": f"stamped-{line['number']}-{name}"[:200],
        "size": len(stamped),
        "made_at": to_iso(now),
    }
    with reg.transaction():
        for made in lines.stamps_of(reg, tid):  # made meanwhile by another process: the same copy
            return made
        lines.add_stamp(reg, row)
        reg.add_event(
            at=now, actor=SYSTEM, action="stamped", transaction_id=tid, detail={"number": label(line), "original": original}
        )
    return row


def _original(dep: Deployment, tid: str) -> tuple[str, str, bytes]:
    """The first accepted PDF of ``tid``: its hash, name and bytes."""
    for f in applications.files_of(dep.registry, tid):
        if f.content_type == "application/pdf" and dep.store.has(f.sha256):
            return f.sha256, f.name if f.name.lower().endswith(".pdf") else f"{f.name}.pdf", dep.store.get(f.sha256)
    return _mail_copy(dep, tid)


def _mail_copy(dep: Deployment, tid: str) -> tuple[str, str, bytes]:
    """A PDF made from the mail that opened ``tid``: its text and its images."""
    message = next((m for m in applications.messages_of(dep.registry, tid) if m.kind == "application"), None)
    if message is None or not dep.store.has(message.sha256):
        raise NotFound(f"{tid}: the mail that opened it is not in the store")
    body, images = stamping.body_and_images(dep.store.get(message.sha256))
    received = datetime.fromisoformat(message.received_at) if message.received_at else None
    data = stamping.mail_pdf(
        message.subject or "", message.from_addr or "", thaitext.thai_date(received) if received else "", body, images
    )
    return dep.store.put(data), "mail.pdf", data  # kept: the stamp's original
