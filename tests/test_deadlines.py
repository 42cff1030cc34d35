"""The deadline jobs of issue 12 besides the s.10 notices (tests/test_delays.py),
against Dovecot and the SMTP sink with --now moving through the days: the
acknowledgement watchdog (R4) fires while SMTP is down and its alert reaches the
admin when SMTP is back; first acknowledgements are not capped like other
automatic answers; each reminder goes once and an unanswered request ends in
withdrawal; the clerks' digest lists what it should, once a day; a satisfaction
reply is recorded; `deadlines run` twice at the same time sends nothing twice.

Dates: Tue 9 Dec and Mon 15 - Tue 23 Dec 2025 are working days (10 Dec is
Constitution Day); a CERT application (3 working days) deemed received Mon 15
Dec 09:00 is due Thu 18 Dec 16:30."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from mails import at, mail
from mails import subject_of as subject
from mails import text_of as text
from servers import free_port
from test_senders import trusted, with_hosts

from mailintake.base.config import load
from mailintake.base.data import applications
from mailintake.base.deployment import Deployment
from mailintake.base.rules import load_service
from samples.make_samples import scanned_pdf

OFFICE = """
[users]
somchai = { roles = ["clerk"], name = "สมชาย", email = "somchai@banmai.go.th" }
suda = { roles = ["clerk"], name = "สุดา", email = "suda@banmai.go.th" }
malee = ["approver"]

[daemon]
admin_email = "admin@banmai.go.th"
"""
CLERK, APPROVER = {"MAILINTAKE_USER": "somchai"}, {"MAILINTAKE_USER": "malee"}
TID, TID2 = "SRB-2568-000001", "SRB-2568-000002"
CITIZEN = "somchai.jaidee@example.com"


@pytest.fixture
def office(deploy: Env) -> Env:
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    return deploy


def pdf() -> list[tuple[str, bytes, str]]:
    return [("doc.pdf", scanned_pdf(1240, 1754), "application/pdf")]


def apply(office: Env, when: str, now: str, subject_: str = "[CERT] ขอรับรองสำเนา", sender: str = CITIZEN) -> None:
    assert office.mailbox is not None
    office.mailbox.append(mail(subject_, sender=f"ผู้ยื่น <{sender}>", attachments=pdf()).as_bytes(), at(when))
    office.run("sweep", "--now", now)


def run(office: Env, now: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One `deadlines run --json`; what it reported and what SMTP received during it."""
    assert office.smtp is not None
    before = len(office.smtp.received)
    out = json.loads(office.run("deadlines", "run", "--now", now, "--json", env=CLERK).stdout)
    return out, office.smtp.received[before:]


def to(sent: list[dict[str, Any]], address: str) -> list[dict[str, Any]]:
    return [r for r in sent if r["to"] == [address]]


def subjects(office: Env, address: str) -> list[str]:
    assert office.smtp is not None
    return [subject(m) for m in office.smtp.messages() if m["To"] == address]


def last_to(office: Env, address: str) -> str:
    """The text of the last message to ``address``."""
    assert office.smtp is not None
    return text([m for m in office.smtp.messages() if m["To"] == address][-1])


def registry(office: Env) -> Deployment:
    return Deployment.build(load(office.config))


def smtp_port(office: Env, port: int) -> None:
    office.config.write_text(re.sub(r"(\[smtp\]\nhost = \"127.0.0.1\"\nport = )\d+", rf"\g<1>{port}", office.config.read_text()))


# --- the acknowledgement watchdog (R4) -----------------------------------------------------------
def test_watchdog_fires_while_smtp_is_down_and_the_alert_reaches_the_admin_when_it_is_back(
    office: Env, caplog: pytest.LogCaptureFixture
) -> None:
    assert office.smtp is not None
    up = office.smtp.port
    apply(office, "2025-12-09 08:40", "2025-12-09T08:45:00+07:00")  # acknowledged at once
    smtp_port(office, free_port())  # the SMTP server is down
    apply(office, "2025-12-09 09:00", "2025-12-09T09:05:00+07:00", sender="other@example.org")
    due = datetime.fromisoformat(office.json("triage", "show", TID2)["ack_due_at"])
    assert office.json("triage", "show", TID)["acknowledged_at"] and len(to(office.smtp.received, CITIZEN)) == 1

    # More than 30 minutes before the deadline: nothing yet.
    early = (due - timedelta(minutes=40)).isoformat()
    assert run(office, early)[0]["watchdog"] == []
    assert office.json("status", "--no-live", "--now", early)["late_acks"] == []

    # 30 minutes before: the alert, in the log at ERROR, in status, queued for the admin.
    late = (due - timedelta(minutes=25)).isoformat()
    with caplog.at_level(logging.ERROR):
        result, sent = run(office, late)
    assert [a["transaction_id"] for a in result["watchdog"]] == [TID2] and sent == []
    assert any(TID2 in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    status = office.json("status", "--no-live", "--now", late)
    assert [a["transaction_id"] for a in status["late_acks"]] == [TID2]
    assert any("R4" in w and TID2 in w for w in status["warnings"])
    # Once per application, however often the job runs.
    assert run(office, late)[0]["watchdog"] == []
    assert run(office, (due + timedelta(minutes=10)).isoformat())[0]["watchdog"] == []

    # SMTP is back: the admin gets the alert, the applicant the (late) acknowledgement.
    smtp_port(office, up)
    office.run("outbox", "send", "--now", (due + timedelta(minutes=30)).isoformat(), env=CLERK)
    [alert] = [m for m in office.smtp.messages() if m["To"] == "admin@banmai.go.th"]
    assert "acknowledgement" in subject(alert) and TID2 in text(alert)
    assert subjects(office, "other@example.org") != []
    assert office.json("status", "--no-live", "--now", (due + timedelta(minutes=31)).isoformat())["late_acks"] == []

    # The month's on-time rate: one of two, the late one listed.
    report = office.json("report", "acks", "--month", "2025-12")
    assert (report["applications"], report["on_time"], report["rate_percent"]) == (2, 1, 50.0)
    assert [a["transaction_id"] for a in report["late"]] == [TID2]
    assert "1 of 2 applications acknowledged on time (50.0%)" in office.run("report", "acks", "--month", "2025-12").stdout
    assert office.run("report", "acks", "--month", "12-2025", ok=False).exit_code == 2  # a usage error


# --- first acknowledgements and the caps (issues 11 and 12) -----------------------------------------
def test_seven_tm30_notifications_get_seven_acks_but_seven_verify_mails_get_five_answers(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    with_hosts(office, "\n[limits]\nfirst_acks_per_address_per_hour = 6\n")
    hotel, guest = "frontdesk@hotel.example", "desk@guesthouse.example"
    for i in range(7):  # a hotel whose domain passes DMARC: seven notifications in an hour
        m = mail(f"[TM30] แจ้งที่พักคนต่างด้าว ห้อง {i}", sender=f"Hotel <{hotel}>", attachments=pdf())
        office.mailbox.append(trusted(m.as_bytes(), "dmarc=pass header.from=hotel.example"), at(f"2025-12-09 09:{i:02d}"))
    for i in range(7):  # a guesthouse with no DMARC result: its own, generous cap (6 here)
        m = mail(f"[TM30] แจ้งที่พักคนต่างด้าว ห้อง {i}", sender=f"Guesthouse <{guest}>", attachments=pdf())
        office.mailbox.append(m.as_bytes(), at(f"2025-12-09 09:{10 + i:02d}"))
    office.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    assert len(to(office.smtp.received, hotel)) == 7  # the old code sent 5
    assert len(to(office.smtp.received, guest)) == 6

    # Mail that is no application stays capped, and the acknowledgements did not use up its cap.
    for i in range(7):
        m = mail("VERIFY CERT-2568-0001", sender=f"Hotel <{hotel}>")
        office.mailbox.append(trusted(m.as_bytes(), "dmarc=pass header.from=hotel.example"), at(f"2025-12-09 09:{31 + i:02d}"))
    office.run("sweep", "--now", "2025-12-09T09:45:00+07:00")
    assert len(to(office.smtp.received, hotel)) == 7 + 5


# --- reminders (R26) -----------------------------------------------------------------------------
def test_documents_reminder_once_then_withdrawal_told_to_the_applicant(office: Env) -> None:
    office.config.write_text(office.config.read_text() + "\n[reminders]\ninfo_answer_days = 5\ninfo_days_before = 2\n")
    apply(office, "2025-12-15 09:00", "2025-12-15T09:05:00+07:00")
    office.run("triage", "request-info", TID, "--reason", "สำเนาไม่ชัด", "--now", "2025-12-16T10:00:00+07:00", env=CLERK)
    # Due at the close of the 5th working day after the request (Tue 23 Dec); reminded 2 working days before.
    assert to(run(office, "2025-12-18T09:00:00+07:00")[1], CITIZEN) == []
    [reminder] = to(run(office, "2025-12-19T09:00:00+07:00")[1], CITIZEN)
    assert "เตือนกำหนดส่งเอกสารเพิ่มเติม / Reminder: the documents requested are due" in subjects(office, CITIZEN)[-1]
    assert "วันอังคารที่ 23 ธันวาคม 2568" in last_to(office, CITIZEN)
    assert to(run(office, "2025-12-19T09:00:00+07:00")[1], CITIZEN) == []
    assert to(run(office, "2025-12-23T16:00:00+07:00")[1], CITIZEN) == []  # the last day: not yet
    assert office.json("triage", "show", TID)["status"] == "info_requested"

    [told] = to(run(office, "2025-12-23T16:45:00+07:00")[1], CITIZEN)
    shown = office.json("triage", "show", TID)
    assert shown["status"] == "withdrawn" and shown["clock"]["state"] == "stopped"
    assert "Application withdrawn" in subjects(office, CITIZEN)[-1]
    assert to(run(office, "2025-12-24T09:00:00+07:00")[1], CITIZEN) == []
    listed = office.json("reminders", "list")
    assert [(r["transaction_id"], r["kind"], r["due_on"]) for r in listed] == [
        (TID, "docs_due", "2025-12-23"),
        (TID, "withdrawn", "2025-12-23"),
    ]
    assert reminder and told


def test_fee_permit_expiry_and_periodic_report_reminders_go_once(office: Env) -> None:
    assert office.smtp is not None
    office.config.write_text(office.config.read_text() + "\n[permits]\npassword_delay_minutes = 0\n")
    # A TM.30 notification (the 90-day report, 15 days ahead) and a CERT application with a permit.
    apply(office, "2025-12-09 09:00", "2025-12-09T09:05:00+07:00", "[TM30] แจ้งที่พักคนต่างด้าว", "hotel@hotel.example")
    apply(office, "2025-12-15 09:00", "2025-12-15T09:05:00+07:00")
    office.run("triage", "review", TID2, "--now", "2025-12-15T10:00:00+07:00", env=CLERK)
    # The 150 dpi scan has a problem, so no automatic match: the clerk takes it as the document (issue 13).
    office.run("triage", "doc", TID2, "1", "1", "--now", "2025-12-15T10:10:00+07:00", env=CLERK)
    office.run("triage", "approve", TID2, "--now", "2025-12-15T10:30:00+07:00", env=APPROVER)
    office.run("permit", "issue", TID2, "--valid-until", "2026-01-31", "--now", "2025-12-15T11:00:00+07:00", env=APPROVER)

    # The fee: a deadline set on the first application (the payment room is test_lifecycle's).
    dep = registry(office)
    try:
        with dep.registry.transaction():
            applications.update(dep.registry, TID, status="fee_due", fee_amount=500, fee_due_at="2025-12-19T16:30:00+07:00")
    finally:
        dep.close()
    assert to(run(office, "2025-12-16T09:00:00+07:00")[1], "hotel@hotel.example") == []
    assert len(to(run(office, "2025-12-17T08:31:00+07:00")[1], "hotel@hotel.example")) == 1
    assert "Reminder: fee payment due" in subjects(office, "hotel@hotel.example")[-1]
    assert to(run(office, "2025-12-18T09:00:00+07:00")[1], "hotel@hotel.example") == []
    # Paid in time (unpaid, it would lapse after 19 Dec: tests/test_payments.py), so the reports go on.
    dep = registry(office)
    try:
        with dep.registry.transaction():
            applications.update(dep.registry, TID, status="fee_confirmed")
    finally:
        dep.close()

    # The permit (valid to 31 Jan 2026) 30 days ahead; the closing notice went before.
    assert to(run(office, "2025-12-31T09:00:00+07:00")[1], CITIZEN) == []
    assert len(to(run(office, "2026-01-02T09:00:00+07:00")[1], CITIZEN)) == 1
    assert "Your permit expires soon" in subjects(office, CITIZEN)[-1]
    assert "CERT-2568-0001" in last_to(office, CITIZEN)
    assert to(run(office, "2026-01-05T09:00:00+07:00")[1], CITIZEN) == []

    # The 90-day report: due 9 Mar 2026 (90 days from 9 Dec), reminded from 22 Feb.
    def reports(now: str) -> list[str]:
        before = len(subjects(office, "hotel@hotel.example"))
        run(office, now)
        return [s for s in subjects(office, "hotel@hotel.example")[before:] if "90-day" in s]

    assert reports("2026-02-21T09:00:00+07:00") == []
    [report] = reports("2026-02-22T09:00:00+07:00")
    assert "Reminder: 90-day residence report of the foreigner (TM.47)" in report
    assert reports("2026-02-22T09:00:00+07:00") == [] and reports("2026-03-01T09:00:00+07:00") == []
    kinds = [r["kind"] for r in office.json("reminders", "list")]
    assert kinds == ["fee_due", "permit_expiry", "report:report-90-days"]


# --- the daily digest ----------------------------------------------------------------------------
def test_the_digest_goes_to_each_clerk_once_a_working_day_and_lists_what_it_should(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    for i, who in enumerate((CITIZEN, "other@example.org")):
        office.mailbox.append(mail("[CERT] ขอรับรองสำเนา", sender=who, attachments=pdf()).as_bytes(), at(f"2025-12-16 07:5{i}"))
    office.run("sweep", "--now", "2025-12-16T08:00:00+07:00")  # before the morning sweep time: no digest
    office.run("triage", "take", TID, "--now", "2025-12-16T08:10:00+07:00", env=CLERK)
    assert run(office, "2025-12-16T08:20:00+07:00")[0]["digest"] == []

    result, sent = run(office, "2025-12-16T08:31:00+07:00")
    assert sorted(r["to"][0] for r in sent) == ["somchai@banmai.go.th", "suda@banmai.go.th"]
    assert len(result["digest"]) == 2
    mine = next(m for m in office.smtp.messages() if m["To"] == "somchai@banmai.go.th")
    body = text(mine)
    assert "สรุปงานประจำวัน" in subject(mine) and "Daily digest" in subject(mine)
    new_part = body.split("New applications since the last digest (2):")[1].split("Due today")[0]
    assert TID in new_part and TID2 in new_part
    assert f"Waiting for you (assigned) (1):\n  {TID}" in body
    theirs = text(next(m for m in office.smtp.messages() if m["To"] == "suda@banmai.go.th"))
    assert "Waiting for you (assigned) (0):" in theirs
    # Once a day; none on a day off.
    assert run(office, "2025-12-16T13:30:00+07:00")[1] == []
    assert run(office, "2025-12-20T09:00:00+07:00")[1] == []  # Saturday
    # Friday 19 Dec: both are due today (deemed received Tue 08:30); Monday 22 Dec: both overdue, nothing new.
    run(office, "2025-12-19T08:40:00+07:00")
    friday = last_to(office, "suda@banmai.go.th")
    assert "Due today (2):" in friday and "New applications since the last digest (0):" in friday
    run(office, "2025-12-22T08:40:00+07:00")
    monday = last_to(office, "suda@banmai.go.th")
    assert "Overdue (2):" in monday and "Due today (0):" in monday


def test_digest_goes_to_the_admin_when_no_clerk_has_an_address(deploy: Env) -> None:
    assert deploy.smtp is not None
    deploy.config.write_text(deploy.config.read_text() + '\n[daemon]\nadmin_email = "admin@banmai.go.th"\n')
    assert deploy.mailbox is not None
    deploy.mailbox.append(mail("[CERT] ขอรับรองสำเนา", sender=CITIZEN, attachments=pdf()).as_bytes(), at("2025-12-16 07:50"))
    deploy.run("sweep", "--now", "2025-12-16T08:00:00+07:00")
    out = json.loads(deploy.run("deadlines", "run", "--now", "2025-12-16T09:00:00+07:00", "--json").stdout)
    assert [d["to"] for d in out["digest"]] == ["admin@banmai.go.th"]
    assert json.loads(deploy.run("deadlines", "run", "--now", "2025-12-16T09:00:00+07:00", "--json").stdout)["digest"] == []


# --- the satisfaction question (R26) ----------------------------------------------------------------
def test_the_closing_notice_asks_and_a_thai_digit_reply_is_recorded(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    apply(office, "2025-12-15 09:00", "2025-12-15T09:05:00+07:00")
    office.run("triage", "reject", TID, "--reason", "ไม่ใช่เอกสารของสำนักงาน", "--now", "2025-12-16T10:00:00+07:00", env=APPROVER)
    run(office, "2025-12-16T11:00:00+07:00")
    assert office.json("triage", "show", TID)["status"] == "closed"
    closing = text([m for m in office.smtp.messages() if m["To"] == CITIZEN][-1])
    assert "แบบสอบถามความพึงพอใจ" in closing and "from 1 (very dissatisfied) to 5 (very satisfied)" in closing

    office.mailbox.append(mail(f"Re: [{TID}] ผลการพิจารณา", "๕\n\nขอบคุณครับ\n", sender=CITIZEN).as_bytes(), at("2025-12-16 13:00"))
    office.run("sweep", "--now", "2025-12-16T13:05:00+07:00")
    counted = office.json("report", "satisfaction", "--month", "2025-12")
    assert (counted["answers"], counted["scores"]["5"], counted["mean"]) == (1, 1, 5.0)
    shown = office.json("triage", "show", TID)
    assert [json.loads(e["detail"]) for e in shown["events"] if e["action"] == "satisfaction"] == [{"score": 5}]
    # A reply that is no score records nothing more.
    office.mailbox.append(mail(f"Re: [{TID}] ผลการพิจารณา", "ขอบคุณครับ 5 ดาว\n", sender=CITIZEN).as_bytes(), at("2025-12-16 14:00"))
    office.run("sweep", "--now", "2025-12-16T14:05:00+07:00")
    assert office.json("report", "satisfaction")["answers"] == 1


# --- replaying a day -----------------------------------------------------------------------------
def test_deadlines_run_twice_at_the_same_time_sends_nothing_twice(office: Env) -> None:
    apply(office, "2025-12-15 09:00", "2025-12-15T09:05:00+07:00")
    first, sent = run(office, "2025-12-25T09:00:00+07:00")  # digest, the s.10 notice and its OPDC copy
    assert sent and first["digest"] and first["delay_notices"]
    again, sent = run(office, "2025-12-25T09:00:00+07:00")
    assert sent == [] and all(again[k] == [] for k in ("watchdog", "delay_notices", "closed", "reminders", "digest"))
    # A sweep at that time runs them too, and finds nothing left to send.
    swept = office.json("sweep", "--now", "2025-12-25T09:00:00+07:00")
    assert swept["deadlines"]["digest"] == [] and swept["deadlines"]["errors"] == []


# --- a service's periodic reports are data, checked like the rest of its file ---------------------
def test_a_services_reminders_are_validated_with_file_and_key(tmp_path: Path) -> None:
    shipped = Path(__file__).parents[1] / "rules" / "services" / "tm30.toml"
    [report] = load_service(shipped)[0].reminders  # type: ignore[union-attr]
    assert (report.id, report.every_days, report.days_before) == ("report-90-days", 90, 15)
    bad = tmp_path / "tm30.toml"
    bad.write_text(
        shipped.read_text(encoding="utf-8").replace("days_before = 15", "days_before = 90\nevery = 3"), encoding="utf-8"
    )
    service, errors = load_service(bad)
    assert service is None
    assert errors == [
        "tm30.toml: reminders[1].every: unknown key",
        "tm30.toml: reminders[1].days_before: must be fewer than every_days",
    ]


def test_the_daemon_runs_the_jobs_after_a_sweep_and_sends_at_once(office: Env) -> None:
    from mailintake.ops.daemon import Daemon

    assert office.mailbox is not None and office.smtp is not None
    office.mailbox.append(mail("[CERT] ขอรับรองสำเนา", sender=CITIZEN, attachments=pdf()).as_bytes(), at("2025-12-16 07:50"))
    office.run("sweep", "--now", "2025-12-16T08:00:00+07:00")  # before the morning sweep time: no digest
    assert subjects(office, "suda@banmai.go.th") == []
    Daemon(load(office.config), clock=lambda: at("2025-12-16 08:35")).poll()
    [digest] = subjects(office, "suda@banmai.go.th")
    assert "Daily digest" in digest
