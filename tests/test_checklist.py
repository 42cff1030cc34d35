"""Issue 13, the documents checklist and the rules that hold, against Dovecot
and the SMTP sink with --now: a required document missing is named in the
acknowledgement (Thai and English), asked for by default, received under a
name nobody could match and ticked by the clerk; an approval refused while a
document is missing and then overridden with an audited reason; a juristic
application refused until its power of attorney and e-Stamp are checked (R9, R15)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from mails import at, mail
from mails import subject_of as subject
from mails import text_of as text

from mailintake.base.rules import load_service
from samples.make_samples import jpeg, scanned_pdf

OFFICE = """
[users]
somchai = ["clerk"]
malee = { roles = ["approver"], name = "นางมาลี ใจงาม", position = "ปลัดเทศบาล" }
"""
CLERK, APPROVER = ({"MAILINTAKE_USER": u} for u in ("somchai", "malee"))
TID = "SRB-2568-000001"
CITIZEN = "somchai.jaidee@example.com"
ID_TH, ID_EN = "สำเนาบัตรประจำตัวประชาชนผู้ขอ", "Copy of the applicant's ID card"


@pytest.fixture
def office(deploy: Env) -> Env:
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    return deploy


def pdf(name: str) -> tuple[str, bytes, str]:
    return (name, scanned_pdf(2480, 3508), "application/pdf")


def event_without_id_card(office: Env) -> Any:
    """An event permit with the form and the site plan, the ID card copy missing."""
    assert office.mailbox is not None
    original = mail(
        "[EVT] ขออนุญาตจัดงานลอยกระทง",
        sender=f"สมชาย ใจดี <{CITIZEN}>",
        attachments=[pdf("แบบคำขอ.pdf"), pdf("แผนผังงาน.pdf")],
    )
    office.mailbox.append(original.as_bytes(), at("2025-12-09 09:00"))
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    return original


def events(office: Env, action: str) -> list[dict[str, Any]]:
    """The events of ``action``, their detail read back from its JSON text."""
    found = [e for e in office.json("triage", "show", TID)["events"] if e["action"] == action]
    return [e | {"detail": json.loads(e["detail"])} for e in found]


def test_missing_document_named_requested_received_and_ticked(office: Env) -> None:
    assert office.mailbox is not None and office.smtp is not None
    event_without_id_card(office)

    # The acknowledgement names the missing document, in Thai and in English.
    [ack] = office.smtp.messages()
    body = text(ack)
    assert f"เอกสารที่ยังไม่ได้รับ (กรุณาส่งเพิ่มเติมโดยตอบกลับอีเมลนี้):\n  - {ID_TH}\n" in body
    assert f"Documents not yet received (please send them by replying to this email):\n  - {ID_EN}\n" in body
    assert "แบบคำขออนุญาตจัดงาน" not in body.split("เอกสารที่ยังไม่ได้รับ")[1].split("\n\n")[0]

    # `triage show --json` gives the checklist: two matched automatically, one missing.
    shown = office.json("triage", "show", TID)
    assert [(d["name_en"], d["required"], d["file"], d["matched"]) for d in shown["checklist"]] == [
        ("Application form", True, "แบบคำขอ.pdf", "auto"),
        (ID_EN, True, None, None),
        ("Site plan", True, "แผนผังงาน.pdf", "auto"),
    ]
    assert shown["checklist"][1]["name_th"] == ID_TH
    assert f"  2. {ID_TH} / {ID_EN}: MISSING" in office.run("triage", "show", TID).stdout

    # request-info without --reason asks for the missing document.
    out = office.run("triage", "request-info", TID, "--now", "2025-12-09T10:00:00+07:00", env=CLERK)
    assert out.stdout.strip() == f"{TID}: info_requested"
    request = office.smtp.messages()[1]
    asked = text(request)
    assert f"ยังไม่ได้รับเอกสารที่จำเป็น: {ID_TH}" in asked and f"Required documents not yet received: {ID_EN}" in asked
    assert f"- {ID_TH} / {ID_EN}" in asked

    # The citizen sends it under a name no keyword finds: still missing until the clerk says.
    reply = mail(
        f"Re: {subject(request)}",
        sender=f"สมชาย ใจดี <{CITIZEN}>",
        headers={"In-Reply-To": request["Message-ID"], "References": request["Message-ID"]},
        attachments=[("scan0001.jpg", jpeg(2480, 3508, 300), "image/jpeg")],
    )
    office.mailbox.append(reply.as_bytes(), at("2025-12-10 09:00"))
    office.run("sweep", "--now", "2025-12-10T09:05:00+07:00")
    assert office.json("triage", "show", TID)["checklist"][1]["file"] is None

    # The clerk ticks it, by the document's name and the file's number; audited.
    refused = office.run("triage", "doc", TID, "passport", "3", ok=False, env=CLERK)
    assert refused.exit_code == 1 and refused.output.strip() == "Error: no document 'passport'; see `triage show`"
    out = office.run("triage", "doc", TID, ID_EN, "3", "--now", "2025-12-10T10:00:00+07:00", env=CLERK)
    assert out.stdout.strip() == f"{TID}: document 2 ({ID_EN}) is scan0001.jpg"
    shown = office.json("triage", "show", TID)
    assert shown["checklist"][1] | {"name_th": None} == {
        "number": 2,
        "name_th": None,
        "name_en": ID_EN,
        "required": True,
        "file": "scan0001.jpg",
        "file_number": 3,
        "matched": "clerk",
    }
    [ticked] = events(office, "document_matched")
    assert ticked["actor"] == "somchai" and ticked["detail"]["file"] == "scan0001.jpg"
    assert not [b for b in shown["approval_blocked_by"] if b["code"] == "document_missing"]

    # Complete: approved without an override.
    office.run("triage", "review", TID, "--now", "2025-12-10T10:05:00+07:00", env=CLERK)
    office.run("triage", "verify-identity", TID, "--method", "in-person", "--now", "2025-12-10T10:10:00+07:00", env=CLERK)
    out = office.run("triage", "approve", TID, "--now", "2025-12-10T11:00:00+07:00", env=APPROVER)
    assert out.stdout.strip() == f"{TID}: fee_due" and events(office, "approval_overridden") == []


def test_approval_refused_while_a_document_is_missing_then_overridden_with_a_reason(office: Env) -> None:
    event_without_id_card(office)
    office.run("triage", "review", TID, "--now", "2025-12-09T10:00:00+07:00", env=CLERK)
    office.run("triage", "verify-identity", TID, "--method", "in-person", "--now", "2025-12-09T10:10:00+07:00", env=CLERK)
    blocked = office.json("triage", "show", TID)["approval_blocked_by"]
    assert [(b["code"], b["overridable"]) for b in blocked] == [("document_missing", True)]

    refused = office.run("triage", "approve", TID, "--now", "2025-12-09T11:00:00+07:00", ok=False, env=APPROVER)
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        f"Error: {TID}: cannot approve: required document missing: {ID_EN} ({ID_TH}); "
        "match a file with `triage doc`; or approve with --override REASON"
    )
    assert office.json("triage", "show", TID)["status"] == "under_review"

    reason = "บัตรประชาชนตรวจที่เคาน์เตอร์แล้ว / ID card seen at the counter"
    out = office.run("triage", "approve", TID, "--override", reason, "--now", "2025-12-09T11:05:00+07:00", env=APPROVER)
    assert out.stdout.strip() == f"{TID}: fee_due"
    [event] = events(office, "approval_overridden")
    assert event["actor"] == "malee" and event["detail"]["reason"] == reason
    assert event["detail"]["blocks"] == ["document_missing"]


def test_juristic_application_refused_until_power_of_attorney_and_stamp_are_checked(office: Env) -> None:
    assert office.mailbox is not None
    office.mailbox.append(
        mail(
            "[CERT] ขอรับรองสำเนาเอกสารบริษัท",
            body="บริษัท ตัวอย่าง จำกัด เลขทะเบียน 0105561234567\n",
            sender="ฝ่ายธุรการ <admin@example-company.co.th>",
            attachments=[pdf("สำเนาเอกสารบริษัท.pdf"), pdf("หนังสือมอบอำนาจ.pdf")],
        ).as_bytes(),
        at("2025-12-09 09:00"),
    )
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    shown = office.json("triage", "show", TID)
    assert shown["juristic"] and shown["problems"] == [] and shown["checklist"][0]["file"] == "สำเนาเอกสารบริษัท.pdf"
    office.run("triage", "review", TID, "--now", "2025-12-09T10:00:00+07:00", env=CLERK)

    def approve() -> str:
        r = office.run("triage", "approve", TID, "--now", "2025-12-09T11:00:00+07:00", ok=False, env=APPROVER)
        return r.output.strip()

    # A POA among the files is not a POA checked: both checks block.
    assert approve() == (
        f"Error: {TID}: cannot approve: juristic person: power of attorney not checked; check it with "
        "`triage check ID --poa ok`; juristic person: e-Stamp not checked; check it with `triage check ID --stamp ok` "
        "(or na); or approve with --override REASON"
    )
    assert [b["code"] for b in office.json("triage", "show", TID)["approval_blocked_by"]] == ["juristic_poa", "juristic_stamp"]
    assert "Approval blocked: juristic person: power of attorney not checked" in office.run("triage", "show", TID).stdout
    office.run("triage", "check", TID, "--poa", "invalid", "--stamp", "missing", env=CLERK)
    assert "power of attorney invalid" in approve() and "e-Stamp missing" in approve()
    office.run("triage", "check", TID, "--poa", "ok", env=CLERK)
    assert "power of attorney" not in approve() and "e-Stamp missing" in approve()
    office.run("triage", "check", TID, "--stamp", "na", env=CLERK)
    assert office.json("triage", "show", TID)["approval_blocked_by"] == []
    out = office.run("triage", "approve", TID, "--now", "2025-12-09T11:10:00+07:00", env=APPROVER)
    assert out.stdout.strip() == f"{TID}: approved" and events(office, "approval_overridden") == []


def test_document_keywords_are_validated(tmp_path: Path) -> None:
    source = Path(__file__).parents[1] / "rules" / "services" / "tm30.toml"
    bad = tmp_path / "tm30.toml"
    bad.write_text(source.read_text(encoding="utf-8").replace('keywords = ["หนังสือเดินทาง"', 'required = "yes"\nkeywords = [1'))
    service, errors = load_service(bad)
    assert service is None
    assert errors == [
        "tm30.toml: documents[2].keywords: expected a list of words",
        "tm30.toml: documents[2].required: expected true or false",
    ]
    service, errors = load_service(source)
    assert service is not None and service.documents[1].keywords[-1] == "passport" and service.documents[1].required


def test_juristic_application_from_webmail_is_approved_only_with_an_override(office: Env) -> None:
    assert office.mailbox is not None
    office.mailbox.append(
        mail(
            "[CERT] ขอรับรองสำเนาเอกสารบริษัท",
            body="บริษัท ตัวอย่าง จำกัด เลขทะเบียน 0105561234567\n",
            sender="Sales <company.sales@gmail.com>",
            attachments=[pdf("สำเนาเอกสารบริษัท.pdf")],
        ).as_bytes(),
        at("2025-12-09 09:00"),
    )
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    office.run("triage", "review", TID, "--now", "2025-12-09T10:00:00+07:00", env=CLERK)
    office.run("triage", "check", TID, "--poa", "ok", "--stamp", "ok", env=CLERK)
    [block] = office.json("triage", "show", TID)["approval_blocked_by"]
    assert block["code"] == "juristic_webmail" and "(gmail.com)" in block["text"]
    refused = office.run("triage", "approve", TID, "--now", "2025-12-09T11:00:00+07:00", ok=False, env=APPROVER)
    assert refused.exit_code == 1 and "applied from free webmail (gmail.com)" in refused.output
    reason = "ผู้มีอำนาจลงนามยืนยันทางโทรศัพท์ / the director confirmed by phone"
    office.run("triage", "approve", TID, "--override", reason, "--now", "2025-12-09T11:05:00+07:00", env=APPROVER)
    [event] = events(office, "approval_overridden")
    assert event["detail"] == {"reason": reason, "blocks": ["juristic_webmail"], "texts": [block["text"]]}
