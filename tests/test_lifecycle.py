"""The eight processes end to end against Dovecot and aiosmtpd, with --now moving
through the days: an application arrives, is acknowledged, the clerk asks for a
document, the citizen replies, identity is verified, the approver approves, the
fee notice goes out with its PromptPay QR, the citizen sends a slip, finance
confirms. Every email the citizen receives and every event is checked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Env
from mails import at, mail
from mails import attachments_of as attachments
from mails import subject_of as subject
from mails import text_of as text

from samples.make_samples import jpeg, scanned_pdf

OFFICE = """
[users]
somchai = ["clerk"]
malee = { roles = ["approver"], name = "นางมาลี ใจงาม", position = "ปลัดเทศบาล" }
kanya = ["finance"]

[payment]
bank_name = "ธนาคารกรุงไทย"
bank_account = "123-4-56789-0"
account_name = "เทศบาลตำบลบ้านใหม่"
promptpay_id = "0994000123456"
comp_code = "88123"
deadline_days = 5
"""
CLERK, APPROVER, FINANCE = ({"MAILINTAKE_USER": u} for u in ("somchai", "malee", "kanya"))


@pytest.fixture
def office(deploy: Env) -> Env:
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    return deploy


def zbar(png: bytes, tmp: Path) -> str:
    path = tmp / "qr.png"
    path.write_bytes(png)
    return subprocess.run(["zbarimg", "-q", "--raw", str(path)], capture_output=True, text=True, check=True).stdout.strip()


def test_application_from_arrival_to_confirmed_payment(office: Env, tmp_path: Path) -> None:
    assert office.mailbox is not None and office.smtp is not None
    citizen = "somchai.jaidee@example.com"
    tid = "SRB-2568-000001"
    original = mail(
        "ขออนุญาตจัดงานลอยกระทง",
        sender=f"สมชาย ใจดี <{citizen}>",
        attachments=[("แบบคำขอ.pdf", scanned_pdf(2480, 3508), "application/pdf")],
    )
    office.mailbox.append(original.as_bytes(), at("2025-12-09 09:00"))
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")

    # 1. Acknowledged, with the identity request of a medium-risk service (R10).
    [ack] = office.smtp.messages()
    assert subject(ack).startswith(f"[{tid}] ได้รับอีเมลของท่านแล้ว")
    assert "ภาพถ่ายของท่านคู่กับบัตรประจำตัวประชาชน" in text(ack) and "a photo of yourself holding your ID card" in text(ack)
    app = office.json("triage", "list")[0]
    assert (app["service"], app["status"], app["due_at"]) == ("event-permit", "received", "2025-12-19T16:30:00+07:00")

    # 2. The clerk asks for the site plan (R13).
    out = office.run(
        "triage",
        "request-info",
        tid,
        "--reason",
        "ไม่พบแผนผังบริเวณที่จัดงาน / The site plan is missing",
        "--doc",
        "แผนผังบริเวณที่จัดงาน",
        "--now",
        "2025-12-09T10:00:00+07:00",
        env=CLERK,
    )
    assert out.stdout.strip() == f"{tid}: info_requested"
    request = office.smtp.messages()[1]
    assert office.smtp.received[1]["to"] == [citizen]
    assert request["In-Reply-To"] == original["Message-ID"]
    assert subject(request) == f"[{tid}] ขอเอกสารหรือข้อมูลเพิ่มเติม / More information or documents needed"
    body = text(request)
    assert "เหตุผล: ไม่พบแผนผังบริเวณที่จัดงาน" in body and "- แผนผังบริเวณที่จัดงาน" in body
    assert "Reason: ไม่พบแผนผังบริเวณที่จัดงาน / The site plan is missing" in body

    # 3. The citizen replies to that email with the plan.
    reply = mail(
        f"Re: {subject(request)}",
        sender=f"สมชาย ใจดี <{citizen}>",
        headers={"In-Reply-To": request["Message-ID"], "References": request["Message-ID"]},
        attachments=[  # with the ID card copy, the application is complete (issue 13's checklist)
            ("แผนผัง.jpg", jpeg(2480, 3508, 300), "image/jpeg"),
            ("สำเนาบัตรประชาชน.jpg", jpeg(2480, 3508, 300), "image/jpeg"),
        ],
    )
    office.mailbox.append(reply.as_bytes(), at("2025-12-11 09:00"))
    office.run("sweep", "--now", "2025-12-11T09:05:00+07:00")
    app = office.json("triage", "show", tid)
    assert app["status"] == "received" and "new_documents" in app["flags"]
    assert [f["name"] for f in app["files"]] == ["แบบคำขอ.pdf", "แผนผัง.jpg", "สำเนาบัตรประชาชน.jpg"]
    back = office.smtp.messages()[2]
    assert subject(back) == f"[{tid}] ได้รับเอกสารเพิ่มเติมแล้ว / Additional documents received"
    assert back["In-Reply-To"] == reply["Message-ID"]

    # 4. The approver cannot approve yet: wrong status, then no identity check.
    refused = office.run("triage", "approve", tid, "--now", "2025-12-11T10:00:00+07:00", ok=False, env=APPROVER)
    assert refused.exit_code == 1
    assert (
        refused.output.strip() == f"Error: {tid}: cannot approve: status is received; allowed next: review, request-info, reject"
    )
    office.run("triage", "review", tid, "--now", "2025-12-11T10:00:00+07:00", env=CLERK)
    refused = office.run("triage", "approve", tid, "--now", "2025-12-11T10:05:00+07:00", ok=False, env=APPROVER)
    assert "identity not verified (medium-risk service)" in refused.output
    office.run(
        "triage",
        "verify-identity",
        tid,
        "--method",
        "photo",
        "--note",
        "ภาพถือบัตร ตรงกับชื่อ",
        "--now",
        "2025-12-11T10:10:00+07:00",
        env=CLERK,
    )

    # 5. Approved: the decision, then the fee notice with its QR code (R16, R17).
    out = office.run("triage", "approve", tid, "--now", "2025-12-11T11:00:00+07:00", env=APPROVER)
    assert out.stdout.strip() == f"{tid}: fee_due"
    review, approved, fee = office.smtp.messages()[3:6]
    assert subject(review).endswith("คำขอของท่านอยู่ระหว่างการพิจารณา / Your application is under review")
    assert subject(approved).endswith("คำขอของท่านได้รับอนุมัติ / Your application has been approved")
    assert subject(fee) == f"[{tid}] แจ้งชำระค่าธรรมเนียม / Fee notice"
    # A fee service's approval says the fee comes next, not the permit (issue 13).
    assert "The fee comes next" in text(approved) and "ขั้นตอนต่อไปคือการชำระค่าธรรมเนียม" in text(approved)
    assert "The permit will be sent" not in text(approved)
    fee_text = text(fee)
    assert "ค่าธรรมเนียม: 200 บาท" in fee_text and "Fee: 200 baht" in fee_text
    # Five working days from Thu 11 Dec 2025: 12, 15, 16, 17, 18 Dec.
    assert "วันพฤหัสบดีที่ 18 ธันวาคม 2568 เวลา 16:30 น." in fee_text and "Thursday 18 December 2025, 16:30" in fee_text
    assert "123-4-56789-0" in fee_text and "Comp Code 88123" in fee_text and f"[{tid}]" in fee_text
    qr = attachments(fee)[f"promptpay-{tid}.png"]
    payload = zbar(qr, tmp_path)
    assert "0213" + "0994000123456" in payload and "5406200.00" in payload and payload.startswith("000201010212")

    # 6. The citizen sends the slip, quoting the transaction ID.
    slip = mail(
        f"[{tid}] หลักฐานการโอน", sender=f"สมชาย ใจดี <{citizen}>", attachments=[("slip.jpg", jpeg(1080, 1920, 72), "image/jpeg")]
    )
    office.mailbox.append(slip.as_bytes(), at("2025-12-12 08:40"))
    office.run("sweep", "--now", "2025-12-12T08:45:00+07:00")
    assert office.json("triage", "show", tid)["status"] == "fee_submitted"
    assert subject(office.smtp.messages()[6]).endswith("ได้รับหลักฐานการชำระเงินแล้ว / Payment slip received")
    waiting = office.run("payments", "list", "--json", env=FINANCE).stdout
    assert tid in waiting and "slip.jpg" in waiting

    # 7. Finance confirms.
    office.run(
        "payments", "confirm", tid, "--amount", "200", "--ref", "KTB-20251212-0042", "--now", "2025-12-12T10:00:00+07:00",
        env=FINANCE,
    )  # fmt: skip
    confirmed = office.smtp.messages()[7]
    assert subject(confirmed).endswith("ยืนยันการชำระค่าธรรมเนียม / Payment confirmed")
    assert "KTB-20251212-0042" in text(confirmed)

    # Every email went to the citizen, threaded, with the transaction ID; one Message-ID each.
    assert all(r["to"] == [citizen] for r in office.smtp.received)
    assert all(f"[{tid}]" in subject(m) and m["In-Reply-To"] for m in office.smtp.messages())
    assert len({m["Message-ID"] for m in office.smtp.messages()}) == 8

    shown = office.json("triage", "show", tid)["events"]
    assert ("somchai", "identity_verified") in [(e["actor"], e["action"]) for e in shown]
    assert [e["action"] for e in shown].count("documents_added") == 2
    events = [(e["actor"], e["action"], e["status_after"]) for e in shown if e["status_before"] != e["status_after"]]
    assert events == [
        ("system", "registered", "received"),
        ("somchai", "request_info", "info_requested"),
        ("system", "documents_received", "received"),
        ("somchai", "review", "under_review"),
        ("malee", "approve", "approved"),
        ("system", "fee_due", "fee_due"),
        ("system", "slip_received", "fee_submitted"),
        ("kanya", "confirm_payment", "fee_confirmed"),
    ]
    assert office.run("audit", "verify").stdout.startswith("audit chain intact")


def test_rejection_and_payment_refusal_tell_the_reason(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    office.mailbox.append(
        mail("[CERT] ขอรับรองสำเนา", attachments=[("doc.pdf", scanned_pdf(2480, 3508), "application/pdf")]).as_bytes(),
        at("2025-12-09 09:00"),
    )
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    r = office.run(
        "triage", "reject", "SRB-2568-000001", "--reason", "", "--now", "2025-12-09T10:00:00+07:00", ok=False, env=APPROVER
    )
    assert r.exit_code == 1 and "reject needs --reason" in r.output
    office.run(
        "triage",
        "reject",
        "SRB-2568-000001",
        "--reason",
        "เอกสารไม่ใช่ของสำนักงานนี้",
        "--now",
        "2025-12-09T10:00:00+07:00",
        env=APPROVER,
    )
    rejected = office.smtp.messages()[-1]
    assert "เหตุผล: เอกสารไม่ใช่ของสำนักงานนี้" in text(rejected) and "has not been approved" in text(rejected)
    again = office.run("triage", "review", "SRB-2568-000001", ok=False, env=CLERK)
    assert again.output.strip() == "Error: SRB-2568-000001: cannot review: status is rejected; allowed next: none by this command"


def test_low_risk_free_service_is_approved_without_fee(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    office.mailbox.append(
        mail("[CERT] ขอรับรองสำเนา", attachments=[("doc.pdf", scanned_pdf(2480, 3508), "application/pdf")]).as_bytes(),
        at("2025-12-09 09:00"),
    )
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    assert "ภาพถ่ายของท่านคู่กับบัตร" not in text(office.smtp.messages()[0])
    office.run("triage", "review", "SRB-2568-000001", env=CLERK)
    out = office.run("triage", "approve", "SRB-2568-000001", env=APPROVER)
    assert out.stdout.strip() == "SRB-2568-000001: approved"
    assert "The permit will be sent to you by email." in text(office.smtp.messages()[-1])


def test_company_from_webmail_without_power_of_attorney_is_told(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    office.mailbox.append(
        mail(
            "[EVT] งานเปิดตัวสินค้า",
            body="บริษัท ตัวอย่าง จำกัด เลขทะเบียน 0105561234567",
            sender="Sales <company.sales@gmail.com>",
            attachments=[("form.pdf", scanned_pdf(2480, 3508), "application/pdf")],
        ).as_bytes(),
        at("2025-12-09 09:00"),
    )
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    app = office.json("triage", "list")[0]
    assert app["juristic"] and {"juristic_webmail", "juristic_no_poa"} <= set(app["problems"])
    body = text(office.smtp.messages()[0])
    assert "ไม่ใช่อีเมลฟรี (gmail.com)" in body and "must include a power of attorney" in body
    office.run("triage", "check", "SRB-2568-000001", "--poa", "ok", "--stamp", "na", env=CLERK)
    app = office.json("triage", "show", "SRB-2568-000001")
    assert (app["poa"], app["stamp"]) == ("ok", "na") and "juristic_no_poa" not in app["problems"]


def test_inquiry_answered_threaded_then_published_in_the_faq_and_the_log(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    question = mail("สอบถามเวลาเปิดทำการ", body="สำนักงานเปิดวันเสาร์หรือไม่คะ โทร 081-234-5678", sender="nok@example.com")
    office.mailbox.append(question.as_bytes(), at("2025-12-09 09:00"))
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    answer = office.tmp / "answer.txt"
    answer.write_text("สำนักงานเปิดวันจันทร์ถึงศุกร์ 08:30-16:30 น. ไม่เปิดวันเสาร์ค่ะ", encoding="utf-8")
    office.run("triage", "reply", "SRB-2568-000001", "--file", str(answer), "--now", "2025-12-09T11:00:00+07:00", env=CLERK)
    sent = office.smtp.messages()[-1]
    assert sent["In-Reply-To"] == question["Message-ID"]
    assert "ไม่เปิดวันเสาร์ค่ะ" in text(sent)
    # The FAQ holds only what a clerk wrote for it (tests/test_secrets.py checks it whole).
    assert office.json("inquiries", "faq") == []
    office.run(
        "inquiries",
        "faq",
        "add",
        "SRB-2568-000001",
        "--question",
        "เปิดวันเสาร์หรือไม่",
        "--answer",
        "ไม่เปิดค่ะ",
        "--question-en",
        "Open on Saturdays?",
        "--answer-en",
        "No.",
        env=CLERK,
    )
    faq = office.json("inquiries", "faq")
    assert [(f["question"], f["answer"]) for f in faq] == [("เปิดวันเสาร์หรือไม่", "ไม่เปิดค่ะ")]
    log = office.run("log", "export", "--from", "2025-12-01", "--to", "2025-12-31", "--lang", "th").stdout.splitlines()
    assert log[0] == "วันที่รับเรื่อง,วันที่ตอบกลับ,ผู้ขอรับบริการ,เรื่อง,แหล่งข้อมูล,หมายเหตุ"
    assert log[1].startswith("2025-12-09T09:00:00+07:00,2025-12-09T09:05:00+07:00,")  # the acknowledgement first
    assert "inquiry" in log[1] and "answered" in log[1]


def test_export_writes_raw_mail_files_and_summary(office: Env, tmp_path: Path) -> None:
    assert office.mailbox is not None
    office.mailbox.append(
        mail(
            "[EVT] งาน",
            attachments=[
                ("../../etc/แบบคำขอ.pdf", scanned_pdf(2480, 3508), "application/pdf"),
                ("CON.jpg", jpeg(2480, 3508, 300), "image/jpeg"),
            ],
        ).as_bytes(),
        at("2025-12-09 09:00"),
    )
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    out = tmp_path / "export"
    office.run("triage", "export", "SRB-2568-000001", "--out", str(out), env=CLERK)
    names = sorted(p.name for p in out.iterdir())
    # 03: the receipt stamp's copy of the first PDF (issue 16), made at first use.
    assert names == ["01-แบบคำขอ.pdf", "02-_CON.jpg", "03-stamped-1-แบบคำขอ.pdf", "message-01.eml", "summary.txt"]
    assert (out / "01-แบบคำขอ.pdf").read_bytes().startswith(b"%PDF")
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    assert "SRB-2568-000001" in summary and "01-แบบคำขอ.pdf" in summary


def test_clerk_marks_a_company_and_the_request_explains_r9(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    office.mailbox.append(
        mail(
            "[EVT] งานเปิดตัวสินค้า",
            sender="boss@hotmail.com",
            attachments=[("form.pdf", scanned_pdf(2480, 3508), "application/pdf")],
        ).as_bytes(),
        at("2025-12-09 09:00"),
    )
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    assert office.json("triage", "list")[0]["juristic"] is False
    office.run("triage", "set", "SRB-2568-000001", "--juristic", env=CLERK)
    app = office.json("triage", "list")[0]
    assert app["juristic"] and set(app["problems"]) == {"juristic_webmail", "juristic_no_poa"}
    office.run(
        "triage", "request-info", "SRB-2568-000001", "--reason", "นิติบุคคลต้องแนบหนังสือมอบอำนาจ", "--doc", "หนังสือมอบอำนาจ", env=CLERK
    )
    body = text(office.smtp.messages()[-1])
    assert "หมายเหตุ: คำขอในนามนิติบุคคลต้องส่งจากอีเมลโดเมนของบริษัท ไม่ใช่อีเมลฟรี (hotmail.com)" in body
    assert "Note: An application for a company must include a power of attorney" in body


def test_overdue_filter_by_acknowledgement_and_service_deadlines(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    office.mailbox.append(
        mail("[TM30] tenant", attachments=[("tm30.pdf", scanned_pdf(2480, 3508), "application/pdf")]).as_bytes(),
        at("2025-12-09 09:00"),
    )
    office.mailbox.append(
        mail("[CERT] copy", attachments=[("c.pdf", scanned_pdf(2480, 3508), "application/pdf")]).as_bytes(),
        at("2025-12-09 09:10"),
    )
    office.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    # TM.30 is due in 1 working day (11 Dec: 10 Dec is Constitution Day), CERT in 3 (15 Dec).
    due = {a["service"]: a["due_at"] for a in office.json("triage", "list")}
    assert due == {"tm30": "2025-12-11T16:30:00+07:00", "document-certification": "2025-12-15T16:30:00+07:00"}
    late = office.run("triage", "list", "--overdue", "--now", "2025-12-12T09:00:00+07:00", "--json").stdout
    assert '"tm30"' in late and "document-certification" not in late
    assert office.run("triage", "list", "--overdue", "--now", "2025-12-10T09:00:00+07:00", "--json").stdout.strip() == "[]"
    by_service = office.run("triage", "list", "--service", "tm30", "--json").stdout
    assert "document-certification" not in by_service and '"tm30"' in by_service
