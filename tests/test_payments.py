"""Payments that add up (R17, issue 13) against Dovecot and the SMTP sink,
with --now: a PNG slip is explained to the applicant (Thai and English) and
moves nothing; finance records the amount and reference, and an amount that is
not the fee is refused with one line; the official e-receipt PDF (its own
yearly number, the agency's name and the fee's legal basis from the service
file) goes with the confirmation and is read back with pdftotext; past the
fee deadline the application lapses to ``fee_expired`` with a notice. The
receipt is kept (number, date, amount, reference) and `payments receipt`
gives the PDF again, byte for byte.

The application is an [EVT] event permit (fee 200 baht) put at ``fee_due``
directly (the road to it is tests/test_lifecycle.py's)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from mails import at, mail
from mails import attachments_of as attachments
from mails import subject_of as subject
from mails import text_of as text
from PIL import Image
from pypdf import PdfReader

from mailintake.base.config import load
from mailintake.base.data import applications
from mailintake.base.deployment import Deployment
from samples.make_samples import jpeg, scanned_pdf

OFFICE = """
[users]
somchai = ["clerk"]
kanya = ["finance"]
"""
CLERK, FINANCE = {"MAILINTAKE_USER": "somchai"}, {"MAILINTAKE_USER": "kanya"}
TID = "SRB-2568-000001"
CITIZEN = "somchai.jaidee@example.com"


@pytest.fixture
def office(deploy: Env) -> Env:
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    return deploy


def fee_due(office: Env, deadline: str = "2025-12-18T16:30:00+07:00") -> None:
    """An event-permit application, received Tue 9 Dec 2025, waiting for its 200 baht fee."""
    assert office.mailbox is not None
    form = [("แบบคำขอ.pdf", scanned_pdf(2480, 3508), "application/pdf")]
    office.mailbox.append(
        mail("[EVT] งานวัด", sender=f"สมชาย ใจดี <{CITIZEN}>", attachments=form).as_bytes(), at("2025-12-09 09:00")
    )
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    dep = Deployment.build(load(office.config))
    try:
        with dep.registry.transaction():
            applications.update(dep.registry, TID, status="fee_due", fee_amount=200, fee_due_at=deadline)
    finally:
        dep.close()


def send_slip(office: Env, when: str, name: str, data: bytes, ctype: str) -> None:
    assert office.mailbox is not None
    slip = mail(f"[{TID}] หลักฐานการโอน", sender=f"สมชาย ใจดี <{CITIZEN}>", attachments=[(name, data, ctype)])
    office.mailbox.append(slip.as_bytes(), at(when))
    office.run("sweep", "--now", when.replace(" ", "T") + ":30+07:00")


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1080, 1920), "white").save(buf, "PNG")
    return buf.getvalue()


def status(office: Env) -> str:
    return str(office.json("triage", "show", TID)["status"])


def test_a_png_slip_is_explained_and_moves_nothing(office: Env) -> None:
    assert office.smtp is not None
    fee_due(office)
    send_slip(office, "2025-12-11 08:40", "slip.png", png(), "image/png")
    assert status(office) == "fee_due"
    told = office.smtp.messages()[-1]
    assert subject(told) == f"[{TID}] หลักฐานการชำระเงินใช้ไม่ได้ / Payment slip cannot be used"
    body = text(told)
    assert "slip.png" in body and "JPEG หรือ PDF" in body and "as a JPEG or PDF file" in body
    assert "Payment slip received" not in subject(told)
    actions = [e["action"] for e in office.json("triage", "show", TID)["events"]]
    assert "slip_refused" in actions and "slip_received" not in actions
    # A JPEG slip (a phone's photo, 72 dpi) then does move it.
    send_slip(office, "2025-12-11 09:40", "slip.jpg", jpeg(1080, 1920, 72), "image/jpeg")
    assert status(office) == "fee_submitted"


def test_the_amount_is_checked_and_the_e_receipt_goes_with_the_confirmation(office: Env, tmp_path: Path) -> None:
    assert office.smtp is not None
    fee_due(office)
    send_slip(office, "2025-12-11 08:40", "slip.jpg", jpeg(1080, 1920, 72), "image/jpeg")
    assert status(office) == "fee_submitted"
    now = "2025-12-11T10:00:00+07:00"
    wrong = office.run(
        "payments", "confirm", TID, "--amount", "150", "--reference", "KTB-0042", "--now", now, ok=False, env=FINANCE
    )
    assert wrong.exit_code == 1
    assert wrong.output.strip() == f"Error: {TID}: the amount paid (150 baht) is not the fee (200 baht); not confirmed"
    assert status(office) == "fee_submitted"
    missing = office.run("payments", "confirm", TID, "--reference", "KTB-0042", "--now", now, ok=False, env=FINANCE)
    assert missing.exit_code == 2 and "--amount" in missing.output

    office.run("payments", "confirm", TID, "--amount", "200", "--reference", "KTB-0042", "--now", now, env=FINANCE)
    assert status(office) == "fee_confirmed"
    confirmed = office.smtp.messages()[-1]
    assert subject(confirmed).endswith("Payment confirmed")
    assert "000001/2568" in text(confirmed) and "e-receipt No. 000001/2568 is attached" in text(confirmed)
    pdf = attachments(confirmed)["receipt-000001-2568.pdf"]
    (tmp_path / "r.pdf").write_bytes(pdf)
    printed = subprocess.run(["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, check=True)
    words = " ".join(printed.stdout.split())
    assert "ใบเสร็จรับเงินอิเล็กทรอนิกส์" in words and "Official e-Receipt" in words
    assert "000001/2568" in words and "200 บาท / baht" in words and "KTB-0042" in words and TID in words
    assert "ข้อบัญญัติเทศบาล" in words and "Legal basis" in words
    assert "Ban Mai Subdistrict Municipality" in words  # the agency's name, from the config
    events = office.json("triage", "show", TID)["events"]
    issued = [e for e in events if e["action"] == "receipt_issued"]
    assert len(issued) == 1 and issued[0]["actor"] == "kanya"


def test_the_fee_expires_with_a_notice(office: Env) -> None:
    assert office.smtp is not None
    fee_due(office, "2025-12-18T16:30:00+07:00")
    office.run("deadlines", "run", "--now", "2025-12-18T16:00:00+07:00", env=CLERK)
    assert status(office) == "fee_due"
    out = json.loads(office.run("deadlines", "run", "--now", "2025-12-19T08:31:00+07:00", "--json", env=CLERK).stdout)
    assert [r["transaction_id"] for r in out["fee_expired"]] == [TID]
    assert status(office) == "fee_expired"
    told = office.smtp.messages()[-1]
    assert subject(told) == f"[{TID}] คำขอสิ้นผลเนื่องจากไม่ได้ชำระค่าธรรมเนียม / Application lapsed: fee not paid"
    assert "has lapsed" in text(told) and "คำขอของท่านจึงสิ้นผล" in text(told)
    again = json.loads(office.run("deadlines", "run", "--now", "2025-12-19T09:00:00+07:00", "--json", env=CLERK).stdout)
    assert again["fee_expired"] == []
    # A slip after the lapse moves nothing.
    send_slip(office, "2025-12-19 10:00", "slip.jpg", jpeg(1080, 1920, 72), "image/jpeg")
    assert status(office) == "fee_expired"


def test_the_receipt_number_is_kept_and_a_copy_is_the_pdf_as_sent(office: Env, tmp_path: Path) -> None:
    assert office.smtp is not None
    fee_due(office)
    send_slip(office, "2025-12-11 08:40", "slip.jpg", jpeg(1080, 1920, 72), "image/jpeg")
    now = "2025-12-11T10:00:00+07:00"
    office.run("payments", "confirm", TID, "--amount", "200", "--reference", "KTB-0042", "--now", now, env=FINANCE)
    sent = attachments(office.smtp.messages()[-1])["receipt-000001-2568.pdf"]

    # Stored with its date, amount and reference: in `triage show` and the finance listing.
    [kept] = office.json("triage", "show", TID)["receipts"]
    assert kept["label"] == "000001/2568" and kept["amount"] == 200 and kept["reference"] == "KTB-0042"
    assert kept["issued_at"] == "2025-12-11T10:00:00+07:00" and kept["issued_by"] == "kanya"
    assert "e-Receipt:     000001/2568  200 baht" in office.run("triage", "show", TID, env=FINANCE).stdout
    listed = json.loads(office.run("payments", "list", "--receipts", "--json", env=FINANCE).stdout)
    assert [(r["label"], r["transaction_id"]) for r in listed] == [("000001/2568", TID)]

    # A copy later, by the application's ID or the receipt's number: the same bytes.
    out = tmp_path / "copy.pdf"
    said = office.run("payments", "receipt", TID, "--out", str(out), env=CLERK).stdout
    assert said.strip() == f"e-receipt 000001/2568 of {TID} (200 baht) written to {out}"
    assert out.read_bytes() == sent
    by_number = office.run("payments", "receipt", "000001/2568", "--out", "-", env=FINANCE).stdout_bytes
    assert by_number == sent
    words = " ".join(" ".join(page.extract_text() or "" for page in PdfReader(out).pages).split())
    assert "000001/2568" in words and TID in words and "KTB-0042" in words
    missing = office.run("payments", "receipt", "SRB-2568-000099", env=FINANCE, ok=False)
    assert missing.exit_code == 1 and missing.output.strip() == "Error: no e-receipt for SRB-2568-000099"


def test_the_reference_is_one_line_and_the_amount_whole_baht_however_written(office: Env, tmp_path: Path) -> None:
    assert office.smtp is not None
    fee_due(office)
    send_slip(office, "2025-12-11 08:40", "slip.jpg", jpeg(1080, 1920, 72), "image/jpeg")
    now = "2025-12-11T10:00:00+07:00"

    def confirm(amount: str, ref: str) -> Any:
        return office.run("payments", "confirm", TID, "--amount", amount, "--reference", ref, "--now", now, ok=False, env=FINANCE)

    # A reference with a line break (a header smuggled in) or too long is refused in one line.
    broken = confirm("200", "R1\r\nBcc: x@y.z")
    assert broken.exit_code == 1
    assert broken.output.strip() == (
        "Error: the reference must be one line of text: it holds the control or invisible character U+000D"
    )
    long = confirm("200", "K" * 65)
    assert long.exit_code == 1 and long.output.strip() == "Error: the reference is 65 characters; at most 64"
    # A fraction of a baht, or no number, is refused in one line; the fee is whole baht.
    half = confirm("200.50", "KTB-0042")
    assert half.exit_code == 1
    assert half.output.strip() == (
        "Error: --amount 200.50: fees are in whole baht; give the amount paid in whole baht (e.g. 200)"
    )
    word = confirm("two hundred", "KTB-0042")
    assert word.exit_code == 1
    assert word.output.strip() == "Error: --amount 'two hundred' is not an amount in baht (e.g. 200 or 200.00)"
    assert status(office) == "fee_submitted" and len(office.smtp.messages()) == 2  # the ack and "slip received"
    # 200.00 in Thai digits is the fee.
    done = confirm("๒๐๐.๐๐", "  KTB-0042  ")
    assert done.exit_code == 0 and status(office) == "fee_confirmed"
    [kept] = office.json("triage", "show", TID)["receipts"]
    assert kept["amount"] == 200 and kept["reference"] == "KTB-0042"
    table = office.run("payments", "list", "--receipts", env=FINANCE).stdout.splitlines()
    assert len(table) == 3 and "KTB-0042" in table[2]  # a header, its rule and one line


def test_a_receipt_copy_to_a_folder_that_is_not_there_is_refused_in_one_line(office: Env, tmp_path: Path) -> None:
    fee_due(office)
    send_slip(office, "2025-12-11 08:40", "slip.jpg", jpeg(1080, 1920, 72), "image/jpeg")
    office.run(
        "payments", "confirm", TID, "--amount", "200", "--reference", "KTB-0042",
        "--now", "2025-12-11T10:00:00+07:00", env=FINANCE,
    )  # fmt: skip
    target = tmp_path / "nonexistent" / "x.pdf"
    refused = office.run("payments", "receipt", "000001/2568", "--out", str(target), ok=False, env=FINANCE)
    assert refused.exit_code == 1
    assert refused.output.strip() == f"Error: cannot write {target}: No such file or directory"
    assert not target.parent.exists()
    # Under a file, not a folder: the same one line.
    plain_file = tmp_path / "notes.txt"
    plain_file.write_text("x", encoding="utf-8")
    under = office.run("payments", "receipt", TID, "--out", str(plain_file / "r.pdf"), ok=False, env=FINANCE)
    assert under.exit_code == 1
    assert under.output.strip() == f"Error: cannot write {plain_file / 'r.pdf'}: Not a directory"
