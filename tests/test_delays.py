"""The service clock and s.10 delay notices (issue 12) against Dovecot and the
SMTP sink, with --now moving through the weeks: a late application gets a
bilingual notice with a copy to OPDC on days 7, 14 and 21 past due, the clerk
is emailed the working day before, a second run at the same time sends
nothing, nothing goes once it is finished; the clock pauses while information
is requested; a holiday moves the due date; the register exports for OPDC.

Dates: a CERT application (3 working days) deemed received Mon 15 Dec 2025 is
due Thu 18 Dec 16:30. Notice 1 is due Thu 25 Dec (reminder Wed 24 Dec), notice
2 Thu 1 Jan 2026 (New Year's Day; reminder Tue 30 Dec, as 31 Dec is a
holiday), notice 3 Thu 8 Jan (reminder Wed 7 Jan)."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import Env
from mails import at, mail
from mails import subject_of as subject
from mails import text_of as text

from samples.make_samples import jpeg, scanned_pdf

OFFICE = """
[users]
somchai = { roles = ["clerk"], name = "สมชาย", email = "somchai@banmai.go.th" }
malee = ["approver"]

[lifecycle]
opdc_email = "delay@opdc.go.th"
"""
CLERK, APPROVER = {"MAILINTAKE_USER": "somchai"}, {"MAILINTAKE_USER": "malee"}
TID = "SRB-2568-000001"
CITIZEN = "somchai.jaidee@example.com"


@pytest.fixture
def office(deploy: Env) -> Env:
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    return deploy


def apply(office: Env, when: str, now: str) -> None:
    assert office.mailbox is not None
    office.mailbox.append(
        mail(
            "[CERT] ขอรับรองสำเนา",
            sender=f"สมชาย ใจดี <{CITIZEN}>",
            attachments=[("doc.pdf", scanned_pdf(2480, 3508), "application/pdf")],
        ).as_bytes(),
        at(when),
    )
    office.run("sweep", "--now", now)


def run_job(office: Env, now: str) -> list[dict[str, object]]:
    """One run of the notice job; returns what SMTP received during it."""
    assert office.smtp is not None
    before = len(office.smtp.received)
    office.run("delays", "run", "--now", now, env=CLERK)
    return office.smtp.received[before:]


def test_late_application_gets_notices_every_7_days_with_opdc_copy(office: Env) -> None:
    assert office.smtp is not None
    apply(office, "2025-12-15 09:00", "2025-12-15T09:05:00+07:00")
    office.run("triage", "take", TID, "--now", "2025-12-15T09:30:00+07:00", env=CLERK)
    office.run("triage", "review", TID, "--now", "2025-12-15T10:00:00+07:00", env=CLERK)
    shown = office.json("triage", "show", TID, "--now", "2025-12-16T09:00:00+07:00")
    assert shown["due_at"] == "2025-12-18T16:30:00+07:00" and shown["working_days_left"] == 2
    assert shown["delay_notices"] == []

    # Not late yet; then late, but no notice before day 7 and no reminder before the day before.
    assert run_job(office, "2025-12-18T12:00:00+07:00") == []
    assert run_job(office, "2025-12-23T09:00:00+07:00") == []
    late = office.json("triage", "list", "--now", "2025-12-23T09:00:00+07:00")[0]
    assert late["working_days_left"] == -3  # 19, 22, 23 Dec

    # The working day before notice 1: the assigned clerk is emailed, once.
    assert run_job(office, "2025-12-24T08:00:00+07:00") == []  # before opening
    [reminder] = run_job(office, "2025-12-24T09:00:00+07:00")
    assert reminder["to"] == ["somchai@banmai.go.th"]
    body = text(office.smtp.messages()[-1])
    assert "หนังสือแจ้งเหตุแห่งความล่าช้า ครั้งที่ 1" in body and "Delay notice 1 goes to the applicant" in body
    assert f'mailintake triage delay-reason {TID} "reason"' in body
    assert run_job(office, "2025-12-24T09:00:00+07:00") == []

    # The clerk records the reason (audited); notice 1 goes on day 7 with it, and a copy to OPDC.
    office.run(
        "triage", "delay-reason", TID, "รอผลตรวจสถานที่ / waiting for the site inspection",
        "--now", "2025-12-24T10:00:00+07:00", env=CLERK,
    )  # fmt: skip
    sent = run_job(office, "2025-12-25T09:00:00+07:00")
    assert [r["to"] for r in sent] == [[CITIZEN], ["delay@opdc.go.th"]]
    notice, copy = office.smtp.messages()[-2:]
    assert subject(notice) == (
        f"[{TID}] แจ้งเหตุแห่งความล่าช้าในการพิจารณาคำขอ (ครั้งที่ 1) / Delay in considering your application (notice 1)"
    )
    body = text(notice)
    assert "มาตรา 10 แห่งพระราชบัญญัติการอำนวยความสะดวกในการพิจารณาอนุญาตของทางราชการ" in body
    assert "ครบกำหนดเมื่อวันพฤหัสบดีที่ 18 ธันวาคม 2568 เวลา 16:30 น." in body  # Buddhist era in the Thai text
    assert "which ended Thursday 18 December 2025, 16:30" in body
    assert body.count("รอผลตรวจสถานที่ / waiting for the site inspection") == 2
    assert "สำนักงาน ก.พ.ร." in body and notice["In-Reply-To"]
    assert subject(copy).startswith(f"[{TID}] สำเนาแจ้งเหตุแห่งความล่าช้า (ครั้งที่ 1)")
    assert f"ส่งถึงผู้ยื่นคำขอ ({CITIZEN})" in text(copy) and "waiting for the site inspection" in text(copy)
    # The same run again sends nothing twice.
    assert run_job(office, "2025-12-25T09:00:00+07:00") == []
    assert run_job(office, "2025-12-26T15:00:00+07:00") == []

    # Notice 2: the reminder the working day before (30 Dec: 31 Dec is a holiday), then day 14
    # with no fresh reason: the last one goes again.
    assert run_job(office, "2025-12-29T09:00:00+07:00") == []
    assert [r["to"] for r in run_job(office, "2025-12-30T09:00:00+07:00")] == [["somchai@banmai.go.th"]]
    assert [r["to"] for r in run_job(office, "2026-01-01T09:00:00+07:00")] == [[CITIZEN], ["delay@opdc.go.th"]]
    assert "(ครั้งที่ 2)" in subject(office.smtp.messages()[-2]) and "waiting for the site inspection" in text(
        office.smtp.messages()[-2]
    )
    assert len(run_job(office, "2026-01-07T09:00:00+07:00")) == 1  # reminder 3
    assert [r["to"] for r in run_job(office, "2026-01-08T09:00:00+07:00")] == [[CITIZEN], ["delay@opdc.go.th"]]

    shown = office.json("triage", "show", TID, "--now", "2026-01-08T10:00:00+07:00")
    notices = shown["delay_notices"]
    assert [(n["number"], n["sent_at"][:10], n["to"], n["opdc"]) for n in notices] == [
        (1, "2025-12-25", CITIZEN, "delay@opdc.go.th"),
        (2, "2026-01-01", CITIZEN, "delay@opdc.go.th"),
        (3, "2026-01-08", CITIZEN, "delay@opdc.go.th"),
    ]
    assert shown["working_days_left"] == -12  # 19-30 Dec (8), 5-8 Jan (4)
    listed = office.json("triage", "list", "--now", "2026-01-08T10:00:00+07:00")[0]
    assert [n["number"] for n in listed["delay_notices"]] == [1, 2, 3]
    actions = [e["action"] for e in shown["events"]]
    assert actions.count("delay_notice") == 3 and actions.count("delay_reminder") == 3
    assert (
        actions.count("delay_sent") == 3 and actions.count("delay_opdc_sent") == 3 and actions.count("delay_reminder_sent") == 3
    )
    assert ("somchai", "delay_reason") in [(e["actor"], e["action"]) for e in shown["events"]]

    assert [a["transaction_id"] for a in office.json("triage", "list", "--overdue", "--now", "2026-01-09T09:00:00+07:00")] == [
        TID
    ]

    # Finished: nothing more on day 21 + 7 and after, and no longer overdue.
    office.run("triage", "approve", TID, "--now", "2026-01-09T10:00:00+07:00", env=APPROVER)
    assert office.json("triage", "list", "--overdue", "--now", "2026-01-09T11:00:00+07:00") == []
    assert run_job(office, "2026-01-14T09:00:00+07:00") == []
    assert run_job(office, "2026-01-15T09:00:00+07:00") == []
    assert run_job(office, "2026-01-22T09:00:00+07:00") == []
    shown = office.json("triage", "show", TID, "--now", "2026-01-22T10:00:00+07:00")
    assert shown["working_days_left"] is None and shown["clock"]["state"] == "stopped"
    assert shown["result_due_at"] == "2026-01-16T10:00:00+07:00" and shown["result_told_at"]

    # The register OPDC asks for: JSON, and CSV with a BOM, the form's columns, each notice's date.
    [row] = office.json("delays", "list", "--now", "2026-01-22T10:00:00+07:00")
    assert row["request_number"] == TID and row["process"] == "document-certification"
    assert row["time_per_manual_days"] == 3 and row["due_at"] == "2025-12-18T16:30:00+07:00"
    assert row["citizen_manual"] == "document-certification.toml" and len(row["notices"]) == 3
    raw = office.run("delays", "export", "--csv", "--now", "2026-01-22T10:00:00+07:00", env=CLERK).stdout_bytes
    assert raw.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:7] == [
        "เลขที่คำขอ",
        "หน่วยงานรับผิดชอบ",
        "กระบวนการ",
        "วันที่ประชาชนยื่นคำขอ",
        "คู่มือ",
        "ระยะเวลาดำเนินการรวมตามคู่มือ (วันทำการ)",
        "วันที่ครบกำหนดการดำเนินการ",
    ]
    assert table[1][0] == TID and table[1][1].startswith("เทศบาลตำบลบ้านใหม่") and table[1][5] == "3"
    assert "1: 2025-12-25" in table[1][7] and "3: 2026-01-08" in table[1][7]
    english = office.run("delays", "export", "--csv", "--lang", "en", "--now", "2026-01-22T10:00:00+07:00").stdout
    assert english.lstrip("\ufeff").startswith("Request number,Agency,Process,Date of application,Citizen manual")


def test_the_reason_is_neutralised_in_the_csv_and_needs_the_clerk(office: Env) -> None:
    apply(office, "2025-12-15 09:00", "2025-12-15T09:05:00+07:00")
    refused = office.run("triage", "delay-reason", TID, "x", env={"MAILINTAKE_USER": "nobody"}, ok=False)
    assert refused.exit_code == 1
    empty = office.run("triage", "delay-reason", TID, "   ", "--now", "2025-12-22T09:00:00+07:00", env=CLERK, ok=False)
    assert empty.exit_code == 1 and "the reason is empty" in empty.output
    # An agency name a spreadsheet would run as a formula stays text.
    office.config.write_text(
        office.config.read_text()
        .replace('name_en = "Ban Mai Subdistrict Municipality"', 'name_en = "x"')
        .replace('name_th = "เทศบาลตำบลบ้านใหม่"', 'name_th = "=HYPERLINK(1)"'),
        encoding="utf-8",
    )
    raw = office.run("delays", "export", "--csv", "--now", "2025-12-22T09:00:00+07:00").stdout
    assert "'=HYPERLINK(1) / x" in raw


def test_clock_pauses_while_information_is_requested(office: Env) -> None:
    assert office.mailbox is not None
    apply(office, "2025-12-15 09:00", "2025-12-15T09:05:00+07:00")
    assert office.json("triage", "show", TID)["due_at"] == "2025-12-18T16:30:00+07:00"
    office.run(
        "triage", "request-info", TID, "--reason", "สำเนาไม่ชัด / the copy is unreadable",
        "--now", "2025-12-15T10:00:00+07:00", env=CLERK,
    )  # fmt: skip
    paused = office.json("triage", "show", TID, "--now", "2025-12-16T10:00:00+07:00")
    assert paused["due_at"] is None and paused["clock"]["state"] == "paused" and paused["working_days_left"] == 3
    # Nothing is late while the applicant is asked: no notice even weeks later.
    assert run_job(office, "2025-12-29T09:00:00+07:00") == []
    request = office.smtp.messages()[-1] if office.smtp else None
    assert request is not None
    reply = mail(
        f"Re: {subject(request)}",
        sender=f"สมชาย ใจดี <{CITIZEN}>",
        headers={"In-Reply-To": request["Message-ID"], "References": request["Message-ID"]},
        attachments=[("copy.jpg", jpeg(2480, 3508, 300), "image/jpeg")],
    )
    office.mailbox.append(reply.as_bytes(), at("2025-12-17 09:00"))
    office.run("sweep", "--now", "2025-12-17T09:05:00+07:00")
    # Paused on Mon 15 Dec, resumed Wed 17 Dec: 16 and 17 Dec held, so due moves 2 working days.
    resumed = office.json("triage", "show", TID, "--now", "2025-12-17T10:00:00+07:00")
    assert resumed["status"] == "received" and resumed["due_at"] == "2025-12-22T16:30:00+07:00"
    assert resumed["clock"]["paused_days"] == 2 and resumed["working_days_left"] == 3


def test_a_holiday_inside_the_service_period_moves_due_at(office: Env) -> None:
    # Tue 9 Dec 2025 + 3 working days: 10 Dec (Constitution Day) is skipped -> Mon 15 Dec.
    apply(office, "2025-12-09 09:00", "2025-12-09T09:05:00+07:00")
    assert office.json("triage", "show", TID)["due_at"] == "2025-12-15T16:30:00+07:00"
    # The office then declares Fri 12 Dec a special holiday: the next run of the job moves the due date.
    office.config.write_text(
        office.config.read_text() + '\n[hours]\nextra_holidays = ["2025-12-12 วันหยุดพิเศษ"]\n', encoding="utf-8"
    )
    run_job(office, "2025-12-11T09:00:00+07:00")
    assert office.json("triage", "show", TID)["due_at"] == "2025-12-16T16:30:00+07:00"
    # A request for information across the holiday holds only the working days.
    office.run("triage", "request-info", TID, "--reason", "ขอเอกสาร", "--now", "2025-12-11T10:00:00+07:00", env=CLERK)
    assert office.json("triage", "show", TID)["due_at"] is None


def test_rejected_application_is_closed_with_the_result(office: Env) -> None:
    assert office.smtp is not None
    apply(office, "2025-12-15 09:00", "2025-12-15T09:05:00+07:00")
    office.run("triage", "reject", TID, "--reason", "ไม่ใช่เอกสารของสำนักงาน", "--now", "2025-12-16T10:00:00+07:00", env=APPROVER)
    # Closed once SMTP accepted the rejection, the result told.
    assert len(run_job(office, "2025-12-16T11:00:00+07:00")) == 1
    shown = office.json("triage", "show", TID)
    assert shown["status"] == "closed"
    closed = office.smtp.messages()[-1]
    assert subject(closed) == f"[{TID}] การพิจารณาคำขอของท่านเสร็จสิ้นแล้ว / Your application is finished"
    assert "ผลการพิจารณา: ไม่อนุมัติ (เหตุผล: ไม่ใช่เอกสารของสำนักงาน)" in text(closed)
    assert "Result: not approved" in text(closed)
    assert run_job(office, "2025-12-17T09:00:00+07:00") == []
    assert office.json("triage", "list") == []


def test_delivered_permit_closes_the_application_with_the_result(office: Env) -> None:
    assert office.smtp is not None
    office.config.write_text(office.config.read_text() + "\n[permits]\npassword_delay_minutes = 0\n", encoding="utf-8")
    apply(office, "2025-12-15 09:00", "2025-12-15T09:05:00+07:00")
    office.run("triage", "review", TID, "--now", "2025-12-15T10:00:00+07:00", env=CLERK)
    office.run("triage", "approve", TID, "--now", "2025-12-15T10:30:00+07:00", env=APPROVER)
    assert run_job(office, "2025-12-15T10:40:00+07:00") == []  # approved, not yet delivered: stays open
    office.run("permit", "issue", TID, "--now", "2025-12-15T11:00:00+07:00", env=APPROVER)
    assert office.json("triage", "show", TID)["status"] == "delivered"
    assert run_job(office, "2025-12-15T11:10:00+07:00") == []  # delivered: closed the next working day
    [told] = run_job(office, "2025-12-16T09:00:00+07:00")
    assert told["to"] == [CITIZEN] and office.json("triage", "show", TID)["status"] == "closed"
    closed = office.smtp.messages()[-1]
    assert "ผลการพิจารณา: อนุมัติ และได้จัดส่งใบอนุญาตเลขที่ CERT-2568-0001 ให้ท่านทางอีเมลแล้ว" in text(closed)
    assert "permit No. CERT-2568-0001 has been sent to you by email" in text(closed)
    assert "แล้วเสร็จเมื่อวันจันทร์ที่ 15 ธันวาคม 2568 เวลา 10:30 น." in text(closed)
