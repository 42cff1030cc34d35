"""The official registry book (issue 16) against Dovecot and the SMTP sink,
with --now: the register number (from 1 each calendar year, the year of the
registration day: mail deemed received in the new year is the new year's),
quoted in the acknowledgement; the receipt stamp on a copy of the first PDF
(drawn top right, its number read back, the original untouched); the register
printed in its eight columns by day in Thai with B.E. dates (table, JSON, CSV,
PDF); a walk-in document taking the next number; routing; cancel, start-at
and ``book check`` finding a gap and a duplicate made on purpose.

Dates: Tue 30 Dec 2025 is a working day, 31 Dec and 1 Jan are holidays, so mail
arriving at 23:00 on 31 Dec 2025 is deemed received on the next working day of
2026 and takes number 1 of the book of 2569."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import Env
from mails import at, mail
from mails import text_of as text
from PIL import Image

from mailintake.base.store import Store
from samples.make_samples import scanned_pdf

OFFICE = """
[users]
somchai = { roles = ["clerk"], name = "สมชาย" }
malee = ["approver"]
kanda = ["finance"]

[book]
units = ["กองช่าง", "กองคลัง"]
"""
CLERK, APPROVER, FINANCE = {"MAILINTAKE_USER": "somchai"}, {"MAILINTAKE_USER": "malee"}, {"MAILINTAKE_USER": "kanda"}
HEADINGS = ("เลขทะเบียนรับ", "ที่", "ลงวันที่", "จาก", "ถึง", "เรื่อง", "การปฏิบัติ", "หมายเหตุ")
ORIGINAL = scanned_pdf(2480, 3508)


@pytest.fixture
def office(deploy: Env) -> Env:
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    return deploy


def apply(office: Env, when: str, now: str, subject: str = "[CERT] ขอรับรองสำเนา", pdf: bool = True) -> str:
    """One application arriving at ``when``, swept at ``now``; its transaction ID."""
    assert office.mailbox is not None
    files = [("doc.pdf", ORIGINAL, "application/pdf")] if pdf else []
    office.mailbox.append(
        mail(subject, sender="สมชาย ใจดี <somchai.jaidee@example.com>", date=at(when), attachments=files).as_bytes(), at(when)
    )
    office.run("sweep", "--now", now)
    return str(office.json("triage", "list", "--all", "--now", now)[-1]["transaction_id"])


def lines_of(office: Env, *args: str) -> list[dict[str, object]]:
    return [line for day in office.json("book", "print", *args) for line in day["lines"]]


def ink(png: Path, box: tuple[int, int, int, int]) -> int:
    """Non-white pixels of ``png`` inside ``box`` (left, top, right, bottom)."""
    data = Image.open(png).convert("L").crop(box).tobytes()
    return sum(1 for v in data if v < 200)


def render(pdf: bytes, tmp: Path, name: str) -> Path:
    (tmp / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(tmp / f"{name}.pdf"), str(tmp / name)],
        check=True,
    )
    return tmp / f"{name}.png"


def test_ack_quotes_the_number_and_the_stamped_copy_carries_it(office: Env, tmp_path: Path) -> None:
    assert office.smtp is not None
    tid = apply(office, "2026-01-05 09:00", "2026-01-05T09:05:00+07:00")
    ack = text(office.smtp.messages()[-1])
    assert "เลขทะเบียนรับ: 1/2569" in ack and "Register number (incoming book): 1/2569" in ack

    files = office.json("triage", "files", tid)
    original = next(f for f in files if f["kind"] != "stamped")
    stamped = next(f for f in files if f["kind"] == "stamped")
    assert original["sha256"] == hashlib.sha256(ORIGINAL).hexdigest() and stamped["stamped_from"] == original["sha256"]
    store = Store(office.storage / "store")
    assert hashlib.sha256(store.get(original["sha256"])).hexdigest() == original["sha256"]  # the original, unchanged
    copy = store.get(stamped["sha256"])
    assert copy != ORIGINAL and copy.startswith(b"%PDF")

    # The stamp is drawn in the top right box (A4 at 80 dpi: 661 x 935 px; the box 62 x 27 mm, 8 mm in).
    box = (445, 30, 630, 105)
    assert ink(render(ORIGINAL, tmp_path, "original"), box) == 0
    page = render(copy, tmp_path, "stamped")
    assert ink(page, box) > 500
    assert ink(page, (20, 30, 200, 105)) == 0  # and not at the top left
    (tmp_path / "stamped.pdf").write_bytes(copy)
    words = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(tmp_path / "stamped.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert (
        "เลขรับ 1" in words and "5 มกราคม 2569" in words and "09:00 น." in words and "เทศบาลตำบลบ้านใหม่" in words.replace(" ", "")
    )

    # Made once: the same copy again, and `triage export` writes it beside the original.
    assert [f["sha256"] for f in office.json("triage", "files", tid) if f["kind"] == "stamped"] == [stamped["sha256"]]
    office.run("triage", "export", tid, "--out", str(tmp_path / "export"), env=CLERK)
    exported = {p.name: p.read_bytes() for p in (tmp_path / "export").iterdir()}
    assert copy in exported.values() and ORIGINAL in exported.values()
    assert "stamped" in (tmp_path / "export" / "summary.txt").read_text(encoding="utf-8")


def test_mail_without_pdf_is_stamped_as_a_pdf_of_its_text(office: Env, tmp_path: Path) -> None:
    tid = apply(office, "2026-01-05 09:00", "2026-01-05T09:05:00+07:00", subject="[CERT] ขอรับรองสำเนา ไม่มีไฟล์", pdf=False)
    office.run("book", "stamp", tid, "--now", "2026-01-05T10:00:00+07:00", env=CLERK)
    stamped = [f for f in office.json("triage", "files", tid) if f["kind"] == "stamped"]
    assert len(stamped) == 1
    copy = Store(office.storage / "store").get(stamped[0]["sha256"])
    (tmp_path / "mail.pdf").write_bytes(copy)
    words = subprocess.run(["pdftotext", str(tmp_path / "mail.pdf"), "-"], capture_output=True, text=True).stdout
    assert "เลขรับ 1" in words and "ขออนุญาตจัดงานครับ" in words
    assert ink(render(copy, tmp_path, "mail"), (445, 30, 630, 105)) > 500


def test_numbers_run_from_one_and_restart_on_the_new_years_first_working_day(office: Env) -> None:
    assert office.smtp is not None
    first = apply(office, "2025-12-30 10:00", "2025-12-30T10:05:00+07:00")
    second = apply(office, "2025-12-30 11:00", "2025-12-30T11:05:00+07:00")
    late = apply(office, "2025-12-31 23:00", "2025-12-31T23:05:00+07:00")
    assert "เลขทะเบียนรับ: 1/2569" in text(office.smtp.messages()[-1])

    december = lines_of(office, "--month", "2025-12")
    assert [(x["number"], x["be_year"], x["transaction_id"]) for x in december] == [(1, 2568, first), (2, 2568, second)]
    (new,) = lines_of(office, "--month", "2569-01")  # a B.E. year is read as one
    assert (new["number"], new["be_year"], new["transaction_id"]) == (1, 2569, late)
    assert new["registered_on"] > "2026-01-01" and new["received"] == "31 ธันวาคม 2568 23:00 น."

    # A walk-in document takes the next number of the year it is registered in.
    done = office.run(
        "book",
        "add",
        "--from",
        "อำเภอบ้านใหม่",
        "--subject",
        "ขอเชิญประชุม",
        "--reference",
        "มท 0808.2/ว 12",
        "--dated",
        "2568-12-29",
        "--now",
        "2026-01-05T10:00:00+07:00",
        env=CLERK,
    )
    assert "2/2569" in done.stdout
    walk_in = lines_of(office, "--date", "2026-01-05")[-1]
    assert (walk_in["number"], walk_in["reference"], walk_in["dated"], walk_in["registered_by"]) == (
        2,
        "มท 0808.2/ว 12",
        "29 ธันวาคม 2568",
        "somchai",
    )
    assert office.run("book", "check").stdout.strip() == "no gap, no duplicate"


def test_register_prints_eight_columns_by_day_in_thai(office: Env, tmp_path: Path) -> None:
    tid = apply(office, "2026-01-05 09:00", "2026-01-05T09:05:00+07:00", subject="[CERT] ขอรับรองสำเนา ที่ ศธ 04001/123")
    apply(office, "2026-01-06 09:00", "2026-01-06T09:05:00+07:00")
    office.run(
        "book",
        "add",
        "--from",
        '=HYPERLINK("http://x")',
        "--subject",
        "หนังสือเวียน",
        "--now",
        "2026-01-06T10:00:00+07:00",
        env=CLERK,
    )

    # Routing fills the การปฏิบัติ column and the audit log; only the units of the config.
    office.run("triage", "route", tid, "กองช่าง", "--note", "ตรวจสถานที่", "--now", "2026-01-05T11:00:00+07:00", env=APPROVER)
    refused = office.run("triage", "route", tid, "กองไม่มี", "--now", "2026-01-05T11:00:00+07:00", env=CLERK, ok=False)
    assert refused.exit_code == 1 and "กองช่าง, กองคลัง" in refused.output
    assert office.run("triage", "route", tid, "กองคลัง", env=FINANCE, ok=False).exit_code == 1
    events = office.json("triage", "show", tid)["events"]
    assert any(e["action"] == "routed" and "กองช่าง" in e["detail"] for e in events)

    days = office.json("book", "print", "--month", "2026-01")
    assert [d["heading"] for d in days] == [
        "ทะเบียนหนังสือรับ วันที่ 5 เดือน มกราคม พ.ศ. 2569",
        "ทะเบียนหนังสือรับ วันที่ 6 เดือน มกราคม พ.ศ. 2569",
    ]
    first = days[0]["lines"][0]
    assert first["number"] == 1 and first["reference"] == "ศธ 04001/123" and first["dated"] == "5 มกราคม 2569"
    assert first["from"] == "สมชาย ใจดี <somchai.jaidee@example.com>" and first["to"] == "saraban@banmai.go.th"
    assert first["subject"].startswith("[CERT]") and first["action"].startswith("กองช่าง (5 มกราคม 2569 11:00 น.): ตรวจสถานที่")
    assert tid in first["remarks"] and first["received"] == "5 มกราคม 2569 09:00 น." and first["registered_by"] == "system"
    assert [x["number"] for x in days[1]["lines"]] == [2, 3]

    table = office.run("book", "print", "--month", "2026-01").stdout
    assert table.index("วันที่ 5 เดือน มกราคม") < table.index("วันที่ 6 เดือน มกราคม")
    assert all(h in table.splitlines()[1] for h in HEADINGS)

    raw = office.run("book", "print", "--month", "2026-01", "--csv").stdout
    assert raw.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(raw[1:])))
    assert tuple(rows[0][1:9]) == HEADINGS and len(rows) == 4
    assert rows[3][4].startswith("'=HYPERLINK")  # neutralised

    out = tmp_path / "book.pdf"
    office.run("book", "print", "--month", "2026-01", "--pdf", str(out))
    words = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "ทะเบียนหนังสือรับ วันที่ 5 เดือน มกราคม พ.ศ. 2569" in words and "ทะเบียนหนังสือรับ วันที่ 6 เดือน" in words
    assert all(h in words.split() for h in ("ลงวันที่", "การปฏิบัติ", "หมายเหตุ", "ศธ", "04001/123", "system"))


def test_cancel_start_at_and_check_find_a_gap_and_a_duplicate(office: Env) -> None:
    def add(subject: str) -> str:
        return office.run(
            "book",
            "add",
            "--from",
            "ไปรษณีย์",
            "--subject",
            subject,
            "--channel",
            "post",
            "--now",
            "2026-02-02T10:00:00+07:00",
            env=CLERK,
        ).stdout

    assert "1/2569" in add("หนึ่ง") and "2/2569" in add("สอง")
    office.run("book", "cancel", "1", "--reason", "ลงซ้ำ", "--now", "2026-02-02T10:10:00+07:00", env=CLERK)
    assert (
        office.run(
            "book", "cancel", "1/2569", "--reason", "again", "--now", "2026-02-02T10:11:00+07:00", env=CLERK, ok=False
        ).exit_code
        == 1
    )
    assert office.run("book", "add", "--from", "x", "--subject", "y", env=APPROVER, ok=False).exit_code == 1  # a clerk's
    cancelled = lines_of(office, "--date", "2026-02-02")[0]
    assert cancelled["cancelled"] and cancelled["remarks"].startswith("ยกเลิก (cancelled): ลงซ้ำ")
    assert "3/2569" in add("สาม")  # a cancelled number is never given again
    assert office.run("book", "check").exit_code == 0

    # Going on from the paper book: the numbers below are the paper's, not gaps; never back.
    office.run("book", "start-at", "100", "--now", "2026-02-02T11:00:00+07:00", env=CLERK)
    assert "100/2569" in add("ร้อย")
    assert office.run("book", "start-at", "50", "--now", "2026-02-02T11:00:00+07:00", env=CLERK, ok=False).exit_code == 1
    assert office.json("book", "check") == []

    db = sqlite3.connect(office.storage / "mailintake.db")
    with db:  # a number taken and lost (a gap), and a line written twice (a duplicate)
        db.execute("UPDATE sequences SET value = value + 1 WHERE name = 'book'")
        db.execute(
            "INSERT INTO book (year, number, channel, registered_on, received_at, sender, subject, registered_by, registered_at) "
            "SELECT year, number, channel, registered_on, received_at, sender, subject, registered_by, registered_at FROM book WHERE number = 2"
        )
    db.close()
    assert "102/2569" in add("ร้อยสอง")
    found = office.run("book", "check", "--json", ok=False)
    assert found.exit_code == 1
    assert [(r["problem"], r["number"], r["be_year"]) for r in json.loads(found.stdout)] == [
        ("gap", 101, 2569),
        ("duplicate", 2, 2569),
    ]
    assert "gap: number 101/2569" in office.run("book", "check", ok=False).stdout


def test_purge_keeps_the_stamped_copy_of_what_is_on_the_book(office: Env) -> None:
    assert office.mailbox is not None
    office.config.write_text(office.config.read_text() + "\n[retention]\nfinished_days = 30\n", encoding="utf-8")
    office.mailbox.append(
        mail("สอบถามเวลาเปิดทำการ", body="นางสาวนกน้อย ใจดี โทร 081-234-5678", sender="นกน้อย <nok@example.com>").as_bytes(),
        at("2026-01-05 09:00"),
    )
    office.run("sweep", "--now", "2026-01-05T09:05:00+07:00")
    tid = office.json("triage", "list", "--all")[0]["transaction_id"]
    answer = office.tmp / "answer.txt"
    answer.write_text("จันทร์ถึงศุกร์ค่ะ", encoding="utf-8")
    office.run("triage", "reply", tid, "--file", str(answer), "--now", "2026-01-05T11:00:00+07:00", env=CLERK)
    office.run("book", "stamp", tid, "--now", "2026-01-05T11:05:00+07:00", env=CLERK)
    (made,) = [f for f in office.json("triage", "files", tid) if f["kind"] == "stamped"]
    store = Store(office.storage / "store")
    assert store.has(made["sha256"]) and store.has(made["stamped_from"])  # the copy, and the PDF made from the mail

    # On the book, finished_days does not apply: the retention class does, and
    # only an approved destruction list erases it, stamped copy included (test_retention).
    office.run("purge", "--now", "2026-02-20T09:00:00+07:00")
    assert store.has(made["sha256"]) and store.has(made["stamped_from"])
    assert lines_of(office, "--date", "2026-01-05")[0]["transaction_id"] == tid  # the register line stays


def test_the_stamp_moves_by_the_agencys_offsets(tmp_path: Path) -> None:
    from mailintake.permits.stamp import StampText, stamp_pdf

    text = StampText("เทศบาลตำบลบ้านใหม่", "7", "5 มกราคม 2569", "09:00 น.")
    moved = render(stamp_pdf(ORIGINAL, text, right_mm=120, top_mm=4), tmp_path, "moved")
    assert ink(moved, (445, 30, 630, 105)) == 0  # no longer in the default place
    assert ink(moved, (100, 15, 280, 90)) > 500  # 120 mm in from the right edge, 4 mm from the top
