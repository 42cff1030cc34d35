"""Another reply address named by the applicant (R5, issue 13), against Dovecot
and the SMTP sink with --now: a line "ตอบกลับที่: ..." in the application is
recorded; the acknowledgement goes to the sender and names it; the request for
information and the fee notice go to the named address; a reply from it joins
the application; an address of the office's own, a no-reply address or a
line that is not one address is refused with the reason; a later reply from
the applicant can name one, and its writer is told; an inquiry's answer goes
there too, and a purge past retention blanks it with the other personal fields."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from conftest import Env
from mails import at, mail
from mails import subject_of as subject
from mails import text_of as text

from samples.make_samples import scanned_pdf

OFFICE = """
[users]
somchai = ["clerk"]
malee = { roles = ["approver"], name = "นางมาลี ใจงาม", position = "ปลัดเทศบาล" }
"""
CLERK, APPROVER = ({"MAILINTAKE_USER": u} for u in ("somchai", "malee"))
TID = "SRB-2568-000001"
CITIZEN = "somchai.jaidee@example.com"
NAMED = "somchai.office@example.org"


@pytest.fixture
def office(deploy: Env) -> Env:
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    return deploy


def apply(office: Env, body: str, when: str = "2025-12-09 09:00") -> Any:
    assert office.mailbox is not None
    form = [("แบบคำขอ.pdf", scanned_pdf(2480, 3508), "application/pdf")]
    sent = mail("[EVT] ขออนุญาตจัดงานลอยกระทง", body, sender=f"สมชาย ใจดี <{CITIZEN}>", attachments=form)
    office.mailbox.append(sent.as_bytes(), at(when))
    office.run("sweep", "--now", when.replace(" ", "T") + ":30+07:00")
    return sent


def to(m: Any) -> str:
    return str(m["To"]).strip("<>")


def events(office: Env, action: str) -> list[dict[str, Any]]:
    found = [e for e in office.json("triage", "show", TID)["events"] if e["action"] == action]
    return [e | {"detail": json.loads(e["detail"])} for e in found]


def test_a_named_reply_address_takes_every_mail_after_the_acknowledgement(office: Env) -> None:
    assert office.smtp is not None and office.mailbox is not None
    apply(office, f"เรียน เจ้าหน้าที่\nขออนุญาตจัดงานครับ\nตอบกลับที่: สำนักงาน <{NAMED}>\n\n> Reply to: quoted@example.net\n")
    # The acknowledgement goes to the sender, and names the address recorded.
    [ack] = office.smtp.messages()
    assert to(ack) == CITIZEN
    body = text(ack)
    assert f"ทุกฉบับต่อจากนี้จะส่งไปที่ {NAMED}" in body and f"from now on goes to {NAMED}" in body
    shown = office.json("triage", "show", TID)
    assert shown["reply_to"] == NAMED and shown["applicant_email"] == CITIZEN
    assert f"replies go to: {NAMED}" in office.run("triage", "show", TID).stdout
    [recorded] = events(office, "reply_address_recorded")
    assert recorded["detail"]["address"] == NAMED and recorded["detail"]["from"] == CITIZEN

    # The request for information goes to the named address.
    office.run("triage", "request-info", TID, "--reason", "แผนผังงาน", "--now", "2025-12-09T10:00:00+07:00", env=CLERK)
    asked = office.smtp.messages()[-1]
    assert to(asked) == NAMED and "แผนผังงาน" in text(asked)

    # The named address answers with the plan, under the transaction ID: it joins.
    plan = mail(
        f"[{TID}] แผนผัง",
        "แนบแผนผังครับ\n",
        sender=f"สำนักงาน <{NAMED}>",
        attachments=[("แผนผังงาน.pdf", scanned_pdf(2480, 3508), "application/pdf")],
    )
    office.mailbox.append(plan.as_bytes(), at("2025-12-09 11:00"))
    office.run("sweep", "--now", "2025-12-09T11:00:30+07:00")
    shown = office.json("triage", "show", TID)
    assert [m["kind"] for m in shown["messages"]] == ["application", "reply"]
    assert shown["status"] == "received"
    assert all(to(m) == NAMED for m in office.smtp.messages()[1:])

    # Review, approve (override: no ID card) and the fee notice goes to the named address.
    office.run("triage", "review", TID, "--now", "2025-12-09T13:00:00+07:00", env=CLERK)
    office.run("triage", "verify-identity", TID, "--method", "in-person", "--now", "2025-12-09T13:05:00+07:00", env=CLERK)
    office.run(
        "triage", "approve", TID, "--override", "ID seen at the counter", "--now", "2025-12-09T14:00:00+07:00", env=APPROVER
    )
    fee = [m for m in office.smtp.messages() if "ค่าธรรมเนียม" in subject(m) or "fee" in subject(m).lower()]
    assert fee and all(to(m) == NAMED for m in fee)
    assert CITIZEN not in {to(m) for m in office.smtp.messages()[1:]}
    # The Table-2 log keeps the applicant as registered.
    log = office.run("log", "export", "--from", "2025-12-01", "--to", "2025-12-31").stdout
    assert CITIZEN in log and NAMED not in log


@pytest.mark.parametrize(
    ("line", "code", "named_back"),
    [
        ("Reply to: saraban@banmai.go.th", "reply_address_ours", True),
        ("REPLY-TO: clerk.nok@banmai.go.th", "reply_address_ours", True),
        ("ตอบกลับที่: no-reply@example.org", "reply_address_robot", True),
        ("Reply to: a@example.org, b@example.org", "reply_address_invalid", False),
        # A subdomain of the agency's domain is the agency's too.
        ("Reply to: x9@sub.banmai.go.th", "reply_address_ours", True),
        # Not repaired: the parser would join the pieces into x13@example.org.
        ("Reply to: x13@ex ample.org", "reply_address_invalid", False),
        ("ตอบกลับที่: สำนักงาน <x13@ex ample.org>", "reply_address_invalid", False),
    ],
)
def test_an_unusable_reply_address_is_refused_with_the_reason(office: Env, line: str, code: str, named_back: bool) -> None:
    assert office.smtp is not None
    apply(office, f"ขออนุญาตจัดงานครับ\n{line}\n")
    [ack] = office.smtp.messages()
    assert to(ack) == CITIZEN
    shown = office.json("triage", "show", TID)
    assert shown["reply_to"] is None
    [refused] = events(office, "reply_address_refused")
    assert refused["detail"]["why"] == code
    body = text(ack)
    assert "we will keep writing to your own address" in body and "ระบบจะส่งอีเมลถึงท่านที่อยู่เดิม" in body
    assert (line.split(": ", 1)[1] in body) is named_back
    assert "x13@example.org" not in body
    office.run("triage", "request-info", TID, "--reason", "แผนผังงาน", "--now", "2025-12-09T10:00:00+07:00", env=CLERK)
    assert to(office.smtp.messages()[-1]) == CITIZEN


def test_without_the_line_the_acknowledgement_documents_it_and_a_later_reply_can_name_one(office: Env) -> None:
    assert office.smtp is not None and office.mailbox is not None
    original = apply(office, "ขออนุญาตจัดงานครับ\n")
    [ack] = office.smtp.messages()
    assert '"Reply to:"' in text(ack) and '"ตอบกลับที่:"' in text(ack)
    assert office.json("triage", "show", TID)["reply_to"] is None
    # The applicant replies to the acknowledgement, naming an address; the ack
    # itself is quoted below and documents the line: that quote counts for nothing.
    quoted = "\n".join("> " + ln for ln in text(ack).splitlines())
    reply = mail(
        f"Re: {subject(ack)}",
        f"Reply to: {NAMED}\n\nOn Tue, 9 Dec 2025 somebody wrote:\n{quoted}\n",
        sender=f"สมชาย ใจดี <{CITIZEN}>",
        headers={"In-Reply-To": ack["Message-ID"], "References": f"{original['Message-ID']} {ack['Message-ID']}"},
    )
    office.mailbox.append(reply.as_bytes(), at("2025-12-09 10:00"))
    office.run("sweep", "--now", "2025-12-09T10:00:30+07:00")
    assert office.json("triage", "show", TID)["reply_to"] == NAMED
    told = office.smtp.messages()[-1]
    assert to(told) == CITIZEN and subject(told).endswith("Your reply address")
    assert f"goes to {NAMED}" in text(told)
    office.run("triage", "request-info", TID, "--reason", "แผนผังงาน", "--now", "2025-12-09T11:00:00+07:00", env=CLERK)
    assert to(office.smtp.messages()[-1]) == NAMED
    # Naming their own address again brings the mail back to it.
    back = mail(f"[{TID}] ที่อยู่", f"Reply to: {CITIZEN}\n", sender=f"สมชาย ใจดี <{CITIZEN}>")
    office.mailbox.append(back.as_bytes(), at("2025-12-09 12:00"))
    office.run("sweep", "--now", "2025-12-09T12:00:30+07:00")
    assert office.json("triage", "show", TID)["reply_to"] is None
    assert to(office.smtp.messages()[-1]) == CITIZEN


def test_an_inquiry_answer_goes_to_the_named_address_and_a_purge_forgets_it(office: Env) -> None:
    assert office.smtp is not None and office.mailbox is not None
    office.config.write_text(office.config.read_text() + "\n[retention]\nfinished_days = 30\n", encoding="utf-8")
    question = mail("Opening hours", f"Open on Saturdays?\nReply to: {NAMED}\n", sender=f"Somchai <{CITIZEN}>")
    office.mailbox.append(question.as_bytes(), at("2025-12-09 09:00"))
    office.run("sweep", "--now", "2025-12-09T09:00:30+07:00")
    assert to(office.smtp.messages()[-1]) == CITIZEN and NAMED in text(office.smtp.messages()[-1])
    office.run("inquiries", "answer", TID, "--th", "ไม่เปิดค่ะ", "--en", "No.", "--now", "2025-12-09T11:00:00+07:00", env=CLERK)
    assert to(office.smtp.messages()[-1]) == NAMED
    # Past retention (and off the registry book, as test_purge.py does), the named address goes too.
    db = sqlite3.connect(office.storage / "mailintake.db")
    db.execute("DELETE FROM book")
    db.commit()
    db.close()
    office.run("purge", "--now", "2026-03-02T09:00:00+07:00")
    db = sqlite3.connect(office.storage / "mailintake.db")
    [(reply_to, purged)] = db.execute("SELECT reply_to, purged_at FROM applications").fetchall()
    db.close()
    assert purged is not None and reply_to is None


def test_a_thai_script_domain_is_recorded_in_its_xn_form_and_mail_goes_there(office: Env) -> None:
    """An internationalised domain (IDN) is accepted when it encodes with IDNA:
    recorded (and sent to: SMTP wants ASCII) as ``xn--``, shown as written too."""
    assert office.smtp is not None
    ascii_form = "x@xn--72c1a1bt4awk9o.xn--o3cw4h"
    apply(office, "ขออนุญาตจัดงานครับ\nตอบกลับที่: x@ตัวอย่าง.ไทย\n")
    [ack] = office.smtp.messages()
    assert to(ack) == CITIZEN
    body = text(ack)
    assert f"from now on goes to x@ตัวอย่าง.ไทย ({ascii_form})" in body
    assert office.json("triage", "show", TID)["reply_to"] == ascii_form
    [recorded] = events(office, "reply_address_recorded")
    assert recorded["detail"]["address"] == ascii_form and recorded["detail"]["as_written"] == "x@ตัวอย่าง.ไทย"
    office.run("triage", "request-info", TID, "--reason", "แผนผังงาน", "--now", "2025-12-09T10:00:00+07:00", env=CLERK)
    assert to(office.smtp.messages()[-1]) == ascii_form


def test_a_domain_idna_cannot_encode_is_refused(office: Env) -> None:
    assert office.smtp is not None
    apply(office, "ขออนุญาตจัดงานครับ\nReply to: x@ตัว..ไทย\n")
    assert office.json("triage", "show", TID)["reply_to"] is None
    [refused] = events(office, "reply_address_refused")
    assert refused["detail"]["why"] == "reply_address_invalid"
