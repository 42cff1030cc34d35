"""`triage request-info` with --doc alone (issue 13), against Dovecot and the
SMTP sink with --now: the documents named are the request, and the reason the
applicant reads defaults to them (Thai and English); with neither --reason nor
--doc and nothing missing, the clerk is told to say what is needed (the missing
documents as the default is tests/test_checklist.py's)."""

from __future__ import annotations

import json

import pytest
from conftest import Env
from mails import at, mail
from mails import subject_of as subject
from mails import text_of as text

from samples.make_samples import scanned_pdf

OFFICE = """
[users]
somchai = ["clerk"]
"""
CLERK = {"MAILINTAKE_USER": "somchai"}
TID = "SRB-2568-000001"
HOUSE = "สำเนาทะเบียนบ้าน / House registration copy"


@pytest.fixture
def office(deploy: Env) -> Env:
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    return deploy


def apply(office: Env, *names: str) -> None:
    assert office.mailbox is not None
    files = [(n, scanned_pdf(2480, 3508), "application/pdf") for n in names]
    sent = mail("[EVT] ขออนุญาตจัดงานลอยกระทง", sender="สมชาย ใจดี <somchai.jaidee@example.com>", attachments=files)
    office.mailbox.append(sent.as_bytes(), at("2025-12-09 09:00"))
    office.run("sweep", "--now", "2025-12-09T09:05:00+07:00")


def test_doc_alone_is_the_request_and_its_reason(office: Env) -> None:
    assert office.smtp is not None
    apply(office, "แบบคำขอ.pdf", "สำเนาบัตรประชาชน.pdf", "แผนผังงาน.pdf")  # nothing required is missing
    now = "2025-12-09T10:00:00+07:00"
    # Neither --reason nor --doc, and nothing missing: the clerk is told what to give.
    bare = office.run("triage", "request-info", TID, "--now", now, ok=False, env=CLERK)
    assert bare.exit_code == 1
    assert bare.output.strip() == (
        "Error: request-info needs --reason or --doc: no required document is missing, so say what is needed"
    )
    out = office.run("triage", "request-info", TID, "--doc", HOUSE, "--doc", " ", "--now", now, env=CLERK)
    assert out.stdout.strip() == f"{TID}: info_requested"
    asked = office.smtp.messages()[-1]
    assert subject(asked).endswith("More information or documents needed")
    body = text(asked)
    reason = f"ขอเอกสารเพิ่มเติม: {HOUSE} / More documents are needed: {HOUSE}"
    assert f"เหตุผล: {reason}" in body and f"Reason: {reason}" in body
    assert f"เอกสารที่ขอ:\n  - {HOUSE}\n" in body and f"Documents requested:\n  - {HOUSE}\n" in body
    [event] = [e for e in office.json("triage", "show", TID)["events"] if e["action"] == "request_info"]
    assert json.loads(event["detail"]) == {"reason": reason, "docs": [HOUSE]}


def test_doc_alone_asks_for_what_it_names_not_the_missing_ones(office: Env) -> None:
    assert office.smtp is not None
    apply(office, "แบบคำขอ.pdf", "แผนผังงาน.pdf")  # the ID card copy is missing
    office.run("triage", "request-info", TID, "--doc", HOUSE, "--now", "2025-12-09T10:00:00+07:00", env=CLERK)
    body = text(office.smtp.messages()[-1])
    assert f"  - {HOUSE}\n" in body and "Copy of the applicant's ID card" not in body.split("Documents requested:")[1]
