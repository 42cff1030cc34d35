"""The stages of the road on their own, on real-looking mail (``tests/data/stages``):
no Dovecot, no SMTP. What a clerk or an applicant would check: what a message
was taken for and why, what is wrong with a company's application, which files
were accepted, and the acknowledgement as it would arrive (recipient, subject,
threading, Thai text).
"""

from __future__ import annotations

import email
from collections.abc import Iterable, Iterator
from datetime import datetime
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest
from conftest import Env
from mails import subject_of, text_of

from mailintake.base.config import load
from mailintake.base.data import outbox
from mailintake.base.data.records import OutgoingMail
from mailintake.base.deployment import Deployment
from mailintake.base.store import Store
from mailintake.intake.check import FileCheck, check_attachments, check_file
from mailintake.intake.classify import AUTOREPLY, BOUNCE, HELD, NEW, REPLY, VERIFY, Verdict, classify, transaction_pattern
from mailintake.intake.parse import Incoming, parse
from mailintake.intake.pipeline import STAGES, Budget, Letter, Road, register_stage, respond_stage

DATA = Path(__file__).parent / "data" / "stages"
NOW = datetime.fromisoformat("2025-12-09T14:00:00+07:00")
TID = transaction_pattern("{prefix}-{be_year}-{seq:06d}", "SRB")
OUR_ACK = "<srb-2568-000009.ack.1122334455667788@banmai.go.th>"


class Lookup:
    """What classify may ask the registry, answered from what a test says exists."""

    def __init__(
        self,
        transactions: Iterable[str] = (),
        sent: dict[str, str] | None = None,
        stored: dict[str, bytes] | None = None,
        applicants: dict[str, set[str]] | None = None,
    ):
        self.transactions, self.sent, self.stored = set(transactions), sent or {}, stored or {}
        self.applicants = applicants or {}

    def transaction_exists(self, tid: str) -> bool:
        return tid in self.transactions

    def transaction_of_sent(self, message_ids: Iterable[str]) -> str | None:
        return next((self.sent[m] for m in message_ids if m in self.sent), None)

    def is_our_message(self, message_id: str) -> bool:
        return message_id in self.sent

    def report_source(self, digest: str) -> bytes | None:
        return self.stored.get(digest)

    def last_sent_to(self, addresses: Iterable[str]) -> str | None:
        return None

    def applicant_addresses(self, tid: str) -> set[str]:
        return self.applicants.get(tid, set())


def eml(name: str) -> tuple[bytes, Incoming]:
    raw = (DATA / name).read_bytes()
    return raw, parse(raw)


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    env = Env(tmp_path_factory.mktemp("stages"), None, None)
    deployment = Deployment.build(load(env.config))
    yield deployment
    deployment.close()


def verdict_of(dep: Deployment, name: str, lookup: Lookup | None = None) -> Verdict:
    raw, msg = eml(name)
    return classify(dep.rules, msg, lookup or Lookup(stored={msg.sha256: raw}), TID, dep.services, NOW)


# --- the road as data ------------------------------------------------------------------------
def test_the_road_lists_its_stages_in_order() -> None:
    assert [s.name for s in STAGES] == ["limits", "parse", "dedupe", "classify", "check", "register", "respond"]
    assert [s.name for s in STAGES if not s.timed] == ["register", "respond"]


# --- classify ----------------------------------------------------------------------------------
def test_a_thai_application_with_a_form_is_a_new_application_for_its_service(dep: Deployment) -> None:
    v = verdict_of(dep, "application-thai-pdf.eml")
    assert (v.kind, v.reason, v.application_kind) == (NEW, "new application", "application")
    assert v.service is not None and v.service.id == "event-permit"
    assert not v.juristic and v.problems == () and v.flags == ()


def test_a_reply_is_known_by_the_transaction_id_in_its_subject_from_the_applicant_only(dep: Deployment) -> None:
    tid = "SRB-2568-000007"
    v = verdict_of(
        dep, "reply-with-transaction-id.eml", Lookup(transactions={tid}, applicants={tid: {"somying.rakdee@gmail.com"}})
    )
    assert (v.kind, v.transaction_id) == (REPLY, tid)
    assert v.reason == f"transaction ID {tid} in subject, from the applicant's address"
    # From anyone else (and answering none of our mail) it is held for the clerk (issue 11).
    v = verdict_of(dep, "reply-with-transaction-id.eml", Lookup(transactions={tid}, applicants={tid: {"other@example.com"}}))
    assert (v.kind, v.transaction_id) == (HELD, tid)
    assert (
        v.reason
        == f"quotes {tid} but comes from somying.rakdee@gmail.com, not the applicant's address, and answers none of our mail"
    )


def test_a_reply_is_known_by_its_threading_when_the_id_is_unknown(dep: Deployment) -> None:
    ack = "<srb-2568-000007.ack.0f3a9c1e2b4d6a8c@banmai.go.th>"
    v = verdict_of(dep, "reply-with-transaction-id.eml", Lookup(sent={ack: "SRB-2568-000004"}))
    assert (v.kind, v.transaction_id, v.reason) == (REPLY, "SRB-2568-000004", "In-Reply-To/References name our message")


def test_an_out_of_office_reply_is_a_robots_and_never_an_application(dep: Deployment) -> None:
    v = verdict_of(dep, "autoreply-out-of-office.eml", Lookup(transactions={"SRB-2568-000003"}))
    assert v.kind == AUTOREPLY
    assert "auto-submitted" in v.reason.lower() and "auto-replied" in v.reason


def test_a_bounce_names_the_acknowledgement_it_returns_and_why(dep: Deployment) -> None:
    raw, msg = eml("dsn-bounce.eml")
    v = classify(dep.rules, msg, Lookup(sent={OUR_ACK: "SRB-2568-000009"}, stored={msg.sha256: raw}), TID)
    assert v.kind == BOUNCE and v.outbox_message_id == OUR_ACK
    assert v.report is not None and v.report.failed
    assert "nobody.here@example.co.th" in v.reason and "5.1.1" in v.reason


def test_a_permit_verification_names_the_permit_in_upper_case(dep: Deployment) -> None:
    v = verdict_of(dep, "verify-request.eml")
    assert (v.kind, v.permit) == (VERIFY, "EVT-2568-0012")
    assert v.reason == "permit verification of evt-2568-0012"


def test_a_question_marked_info_is_an_inquiry(dep: Deployment) -> None:
    v = verdict_of(dep, "inquiry-info.eml")
    assert (v.kind, v.application_kind, v.reason) == (NEW, "inquiry", "new inquiry")
    assert not v.juristic and v.problems == ()


def test_a_company_writing_from_webmail_without_a_power_of_attorney_gets_both_r9_problems(dep: Deployment) -> None:
    v = verdict_of(dep, "juristic-webmail-no-poa.eml")
    assert (v.kind, v.application_kind, v.juristic) == (NEW, "application", True)
    assert v.service is not None and v.service.id == "event-permit"
    assert v.problems == ("juristic_webmail", "juristic_no_poa")


def test_a_date_far_from_the_time_of_receipt_is_flagged(dep: Deployment) -> None:
    raw, msg = eml("application-thai-pdf.eml")
    v = classify(dep.rules, msg, Lookup(), TID, dep.services, datetime.fromisoformat("2025-12-12T09:00:00+07:00"), 24)
    assert v.flags == ("date_skew",)


# --- check -------------------------------------------------------------------------------------
def checked(dep: Deployment, tmp_path: Path, name: str) -> tuple[list[tuple[str, FileCheck]], list[str]]:
    """The files of ``name`` checked; PDFs and images in-process, their names noted."""
    sandboxed: list[str] = []

    def in_process(data: bytes, file_name: str, declared: str) -> FileCheck:
        sandboxed.append(file_name)
        return check_file(data, file_name, declared, dep.cfg.checks, dep.wording, dep.cfg.limits)

    _raw, msg = eml(name)
    return check_attachments(msg.attachments, Store(tmp_path), dep.cfg.checks, dep.cfg.limits, dep.wording, in_process), sandboxed


def test_a_text_pdf_form_is_accepted_and_kept(dep: Deployment, tmp_path: Path) -> None:
    checks, sandboxed = checked(dep, tmp_path, "application-thai-pdf.eml")
    assert sandboxed == ["แบบคำขอ.pdf"]
    [(digest, fc)] = checks
    assert (fc.name, fc.kind, fc.accepted, fc.problems) == ("แบบคำขอ.pdf", "pdf", True, ())
    assert Store(tmp_path).has(digest)


def test_winmail_dat_is_refused_with_the_tnef_problem_and_never_sandboxed(dep: Deployment, tmp_path: Path) -> None:
    checks, sandboxed = checked(dep, tmp_path, "juristic-webmail-no-poa.eml")
    assert sandboxed == ["หนังสือรับรองบริษัท.pdf"]
    assert [(fc.name, fc.kind, fc.accepted, fc.problem) for _d, fc in checks] == [
        ("หนังสือรับรองบริษัท.pdf", "pdf", True, None),
        ("winmail.dat", "tnef", False, "tnef"),
    ]
    assert "winmail.dat" in checks[1][1].problems[0].th


# --- register and respond ----------------------------------------------------------------------
def registered(
    dep: Deployment, name: str, verdict: Verdict, checks: list[tuple[str, FileCheck]] | None = None, when: datetime = NOW
) -> tuple[Letter, list[OutgoingMail]]:
    """Run the register and respond stages on one message, in one transaction,
    as the road does; the mail they queued."""
    raw, msg = eml(name)
    road = Road(dep)
    before = {m.id for m in outbox.due(dep.registry, datetime.max.replace(tzinfo=NOW.tzinfo), 1000)}
    letter = Letter(None, raw, when, when, Budget(60), msg=msg, verdict=verdict, checks=checks or [])
    with dep.registry.transaction():
        register_stage(road, letter)
        respond_stage(road, letter)
    queued = [m for m in outbox.due(dep.registry, datetime.max.replace(tzinfo=NOW.tzinfo), 1000) if m.id not in before]
    return letter, queued


def received(mail: OutgoingMail) -> Message:
    """The queued mail as the SMTP server will receive it."""
    return email.message_from_bytes(mail.raw, policy=compat32)


def test_the_acknowledgement_threads_on_the_application_and_lists_its_form_in_thai(dep: Deployment, tmp_path: Path) -> None:
    checks, _ = checked(dep, tmp_path, "application-thai-pdf.eml")
    letter, queued = registered(dep, "application-thai-pdf.eml", verdict_of(dep, "application-thai-pdf.eml"), checks)
    assert letter.outcome is not None and letter.outcome.kind == "application"
    tid = letter.outcome.transaction_id
    assert tid is not None and tid.startswith("SRB-2568-")
    [ack] = queued
    assert (ack.kind, ack.recipient, ack.transaction_id) == ("ack", "somchai.jaidee@banmai-trade.co.th", tid)
    m = received(ack)
    # Our own subject: the sender's is never repeated (issue 11).
    assert subject_of(m) == f"[{tid}] ได้รับอีเมลของท่านแล้ว / Your email has been received"
    assert m["In-Reply-To"] == "<CAF3n9Qx7Lk2p@mail.banmai-trade.co.th>"
    assert m["References"] == "<CAF3n9Qx7Lk2p@mail.banmai-trade.co.th>"
    assert m["Auto-Submitted"] == "auto-replied" and m["X-Mailintake-ID"] == tid
    body = text_of(m)
    assert body.startswith("เรียน ผู้ยื่นคำขอ")  # no display name the sender chose
    assert f"เลขรับ (เลขที่อ้างอิง): {tid}" in body
    assert "บริการ: การขออนุญาตจัดงานหรือกิจกรรมในที่สาธารณะ" in body
    assert "1. แบบคำขอ.pdf - ใช้ได้" in body


def test_a_company_is_told_what_r9_needs_and_to_resend_winmail_dat(dep: Deployment, tmp_path: Path) -> None:
    checks, _ = checked(dep, tmp_path, "juristic-webmail-no-poa.eml")
    letter, [ack] = registered(dep, "juristic-webmail-no-poa.eml", verdict_of(dep, "juristic-webmail-no-poa.eml"), checks)
    assert ack.recipient == "siamevent.official@gmail.com"
    body = text_of(received(ack))
    assert "หมายเหตุ: คำขอในนามนิติบุคคลต้องส่งจากอีเมลโดเมนของบริษัท ไม่ใช่อีเมลฟรี (gmail.com)" in body
    assert "หมายเหตุ: คำขอในนามนิติบุคคลต้องแนบหนังสือมอบอำนาจ" in body
    assert "2. winmail.dat - " in body and "กรุณาส่งเอกสารที่ระบุข้างต้นใหม่" in body
    app = dep.registry.one(
        "SELECT juristic, problems FROM applications WHERE transaction_id = ?",
        (letter.outcome.transaction_id if letter.outcome else "",),
    )
    assert app == {"juristic": 1, "problems": '["tnef", "juristic_webmail", "juristic_no_poa"]'}


def test_an_inquiry_is_acknowledged_as_a_question(dep: Deployment) -> None:
    _letter, [ack] = registered(dep, "inquiry-info.eml", verdict_of(dep, "inquiry-info.eml"))
    m = received(ack)
    assert ack.recipient == "manee.meena@gmail.com" and m["In-Reply-To"] == "<CAM9mAnee@mail.gmail.com>"
    body = text_of(m)
    assert "ไม่พบเอกสารแนบในอีเมลนี้" in body and "เจ้าหน้าที่จะตอบข้อสอบถามของท่านทางอีเมลนี้" in body


def test_a_verification_is_answered_with_the_permits_status(dep: Deployment) -> None:
    letter, [answer] = registered(dep, "verify-request.eml", verdict_of(dep, "verify-request.eml"))
    assert letter.outcome is not None and letter.outcome.kind == "verify"
    assert (answer.kind, answer.recipient) == ("verify_answer", "hr@siamhotel.co.th")
    m = received(answer)
    # A number not in the register is not repeated (issue 11).
    assert subject_of(m) == "ผลการตรวจสอบใบอนุญาต / Permit check: unknown"
    assert m["In-Reply-To"] == "<5f1e2d3c.hr@siamhotel.co.th>"
    assert "สถานะ: ไม่พบในทะเบียน" in text_of(m)


def test_an_auto_reply_is_recorded_and_never_answered(dep: Deployment) -> None:
    letter, queued = registered(dep, "autoreply-out-of-office.eml", verdict_of(dep, "autoreply-out-of-office.eml"))
    assert letter.outcome is not None and letter.outcome.kind == "autoreply" and queued == []


def test_automatic_answers_to_one_sender_stop_at_the_hourly_limit(dep: Deployment) -> None:
    limit = dep.cfg.limits.answers_per_address_per_hour
    verdict = verdict_of(dep, "inquiry-info.eml")
    answered = [
        len(registered(dep, "inquiry-info.eml", verdict, when=datetime.fromisoformat("2025-12-10T10:00:00+07:00"))[1])
        for _ in range(limit + 2)
    ]
    # Earlier tests answered this sender on another day: outside the hour.
    assert answered == [1] * limit + [0, 0]
    events = dep.registry.all("SELECT action FROM events WHERE action = 'answer_withheld'")
    assert len(events) == 2
