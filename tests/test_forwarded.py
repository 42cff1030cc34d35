"""Mail an officer forwards (R23), against the test Dovecot and the SMTP sink:
an inline (Gmail) forward and a forward with the original attached as
message/rfc822, from an address of the agency's domain, become the citizen's
application, received when the officer received the original, flagged
``forwarded``; the citizen is acknowledged and told the right address, the
officer gets a short confirmation naming the transaction ID. A forward from
outside the agency's domain stays the forwarder's ordinary mail."""

from __future__ import annotations

import email.header
import json
from email.message import EmailMessage, Message
from email.policy import SMTP

import pytest
from conftest import Env
from mails import BKK, at, mail, text_of

from mailintake.base.config import load
from mailintake.base.data import applications
from mailintake.base.data.records import Application
from mailintake.base.deployment import Deployment
from mailintake.intake import forwarded
from mailintake.intake.parse import parse
from samples.make_samples import scanned_pdf

CITIZEN = "somchai.jaidee@example.com"
OFFICER = "officer@banmai.go.th"
TID = "SRB-2568-000001"

GMAIL_BODY = f"""ส่งต่อให้งานสารบรรณครับ

---------- Forwarded message ---------
From: สมชาย ใจดี <{CITIZEN}>
Date: Mon, Dec 8, 2025 at 4:10 PM
Subject: ขออนุญาตจัดงานลอยกระทง
To: <{OFFICER}>


เรียน เจ้าหน้าที่
ขออนุญาตจัดงานลอยกระทงครับ
"""


def application(env: Env, tid: str = TID) -> Application:
    dep = Deployment.build(load(env.config))
    try:
        app = applications.get(dep.registry, tid)
        assert app is not None
        return app
    finally:
        dep.close()


def sweep(env: Env, msg: Message) -> dict[str, Message]:
    """Deliver ``msg`` on Tue 9 Dec 2025 09:00 and sweep; what was sent, by recipient."""
    assert env.mailbox is not None and env.smtp is not None
    env.mailbox.append(msg.as_bytes(), at("2025-12-09 09:00"))
    env.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    return {str(m["To"]).strip("<>"): m for m in env.smtp.messages()}


def subject(m: Message) -> str:
    return str(email.header.make_header(email.header.decode_header(m["Subject"] or "")))


def assert_forwarded(env: Env, sent: dict[str, Message]) -> None:
    app = application(env)
    assert app.applicant_email == CITIZEN
    assert "forwarded" in app.flags
    # The receipt is the officer's receipt of the original (Mon 8 Dec 16:10), not the forward's.
    assert app.received_at.startswith("2025-12-08T16:10")
    assert set(sent) == {CITIZEN, OFFICER}
    ack = text_of(sent[CITIZEN])
    assert TID in subject(sent[CITIZEN])
    assert "saraban@banmai.go.th" in ack
    assert "เจ้าหน้าที่ได้ส่งต่อ" in ack and "forwarded your email" in ack
    assert TID in subject(sent[OFFICER]) and TID in text_of(sent[OFFICER])
    assert CITIZEN in text_of(sent[OFFICER])
    # Both times are kept: the message row's received_at is the original's, its
    # mailbox time the forward's; the confirmation event names the original's.
    dep = Deployment.build(load(env.config))
    try:
        [row] = dep.registry.all("SELECT received_at, internaldate FROM messages WHERE transaction_id = ?", (TID,))
        [event] = dep.registry.all("SELECT detail FROM events WHERE action = 'forward_confirmed'")
    finally:
        dep.close()
    assert (
        row["received_at"].startswith("2025-12-08T16:10") and row["internaldate"] == "2025-12-09T02:00:00+00:00"
    )  # the forward, 09:00 +07
    assert "2025-12-08T16:10" in str(event["detail"]) and OFFICER in str(event["detail"])


def test_inline_gmail_forward_becomes_the_citizens_application(deploy: Env) -> None:
    pdf = scanned_pdf(2480, 3508)
    fwd = mail(
        "Fwd: ขออนุญาตจัดงานลอยกระทง",
        GMAIL_BODY,
        sender=f"เจ้าหน้าที่ สมหญิง <{OFFICER}>",
        date=at("2025-12-09 08:59"),
        attachments=[("แบบคำขอ.pdf", pdf, "application/pdf")],
    )
    sent = sweep(deploy, fwd)
    assert_forwarded(deploy, sent)
    assert "แบบคำขอ.pdf" in text_of(sent[CITIZEN])


def test_attached_rfc822_forward_becomes_the_citizens_application_with_its_files(deploy: Env) -> None:
    original = mail(
        "ขออนุญาตจัดงานลอยกระทง",
        "เรียน เจ้าหน้าที่\nขออนุญาตจัดงานลอยกระทงครับ\n",
        sender=f"สมชาย ใจดี <{CITIZEN}>",
        date=at("2025-12-08 16:10"),
        attachments=[("แบบคำขอ.pdf", scanned_pdf(2480, 3508), "application/pdf")],
    )
    fwd = EmailMessage(policy=SMTP)
    fwd["From"] = f"เจ้าหน้าที่ สมหญิง <{OFFICER}>"
    fwd["To"] = "saraban@banmai.go.th"
    fwd["Subject"] = "FW: ขออนุญาตจัดงานลอยกระทง"
    fwd["Date"] = "Tue, 09 Dec 2025 08:59:00 +0700"
    fwd["Message-ID"] = "<fw1@banmai.go.th>"
    fwd.set_content("ส่งต่อตามแนบครับ\n")
    fwd.add_attachment(original)  # message/rfc822
    sent = sweep(deploy, fwd)
    assert_forwarded(deploy, sent)
    assert "แบบคำขอ.pdf" in text_of(sent[CITIZEN])


@pytest.mark.parametrize(
    "block",
    [
        f"Begin forwarded message:\n\nFrom: Somchai Jaidee <{CITIZEN}>\nSubject: Permit\n"
        "Date: 8 December 2025 at 16:10:00 GMT+7\nTo: Officer <officer@banmai.go.th>\n\nHello\n",
        f"________________________________\nFrom: Somchai Jaidee <{CITIZEN}>\n"
        "Sent: Monday, December 8, 2025 4:10 PM\nTo: Officer\nSubject: Permit\n\nHello\n",
        f"---------- ข้อความที่ส่งต่อ ---------\nจาก: สมชาย <{CITIZEN}>\nวันที่: Mon, 8 Dec 2025 16:10:00 +0700\nเรื่อง: Permit\n\nHello\n",
    ],
)
def test_inline_blocks_of_apple_mail_outlook_and_thai_labels(block: str) -> None:
    msg = parse(mail("Fwd: Permit", "FYI\n\n" + block, sender=OFFICER).as_bytes())
    fwd = forwarded.recognise(msg, b"", forwarded.agency_domains("saraban@banmai.go.th"), BKK)
    assert fwd is not None and fwd.original.from_addr == CITIZEN and fwd.original.subject == "Permit"
    assert fwd.original_at == at("2025-12-08 16:10")
    assert fwd.original.body_text.strip() == "Hello"


def test_a_forward_without_a_sender_address_is_ordinary_mail() -> None:
    msg = parse(
        mail("Fwd: x", "---------- Forwarded message ---------\nFrom: Somchai\nSubject: x\n\nHi\n", sender=OFFICER).as_bytes()
    )
    assert forwarded.recognise(msg, b"", forwarded.agency_domains("saraban@banmai.go.th"), BKK) is None


def test_forward_from_outside_the_domain_is_ordinary_mail(deploy: Env) -> None:
    stranger = "friend@example.net"
    fwd = mail(
        "Fwd: ขออนุญาตจัดงานลอยกระทง",
        GMAIL_BODY.replace(OFFICER, stranger),
        sender=f"เพื่อน <{stranger}>",
        date=at("2025-12-09 08:59"),
        attachments=[("แบบคำขอ.pdf", scanned_pdf(2480, 3508), "application/pdf")],
    )
    sent = sweep(deploy, fwd)
    app = application(deploy)
    assert app.applicant_email == stranger
    assert "forwarded" not in app.flags
    assert app.received_at.startswith("2025-12-09T09:00")
    assert set(sent) == {stranger}
    assert "forwarded your email" not in text_of(sent[stranger])


def forward_quoting(env: Env, citizen: str, when: str) -> None:
    """An officer forwards (inline, Gmail) mail from ``citizen`` whose subject
    quotes TID, with a site plan; delivered and swept at ``when``."""
    assert env.mailbox is not None
    body = GMAIL_BODY.replace(CITIZEN, citizen).replace("Subject: ขออนุญาตจัดงานลอยกระทง", f"Subject: Re: [{TID}] แผนผังงาน")
    fwd = mail(
        f"Fwd: Re: [{TID}] แผนผังงาน",
        body,
        sender=f"เจ้าหน้าที่ สมหญิง <{OFFICER}>",
        attachments=[("แผนผังงาน.pdf", scanned_pdf(2480, 3508), "application/pdf")],
    )
    env.mailbox.append(fwd.as_bytes(), at(when))
    env.run("sweep", "--now", when.replace(" ", "T") + ":30+07:00")


def test_a_forward_quoting_an_existing_id_joins_it_or_is_held_and_the_officer_is_told(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    own = mail(
        "[EVT] ขออนุญาตจัดงานลอยกระทง",
        sender=f"สมชาย ใจดี <{CITIZEN}>",
        attachments=[("แบบคำขอ.pdf", scanned_pdf(2480, 3508), "application/pdf")],
    )
    deploy.mailbox.append(own.as_bytes(), at("2025-12-08 10:00"))
    deploy.run("sweep", "--now", "2025-12-08T10:00:30+07:00")
    before = len(deploy.smtp.messages())

    # From the applicant: it joins the application as the applicant's reply; no new application.
    forward_quoting(deploy, CITIZEN, "2025-12-09 09:00")
    shown = deploy.json("triage", "show", TID)
    assert [m["kind"] for m in shown["messages"]] == ["application", "reply"]
    assert [a["transaction_id"] for a in deploy.json("triage", "list", "--all")] == [TID]
    told = [m for m in deploy.smtp.messages()[before:] if str(m["To"]).strip("<>") == OFFICER]
    assert len(told) == 1
    assert subject(told[0]) == f"[{TID}] เรื่องที่ส่งต่อรวมเข้ากับเรื่องเดิมแล้ว / Forwarded mail joined its application"
    assert f"it has joined application {TID}" in text_of(told[0]) and CITIZEN in text_of(told[0])
    assert told[0]["In-Reply-To"] is not None
    before = len(deploy.smtp.messages())

    # From someone else: held for a clerk, joins nothing; the officer is told that too.
    forward_quoting(deploy, "stranger@example.net", "2025-12-09 10:00")
    assert [m["kind"] for m in deploy.json("triage", "show", TID)["messages"]] == ["application", "reply"]
    [held] = deploy.json("triage", "held")
    assert held["transaction_id"] == TID and held["from"] == "stranger@example.net"
    sent = deploy.smtp.messages()[before:]
    assert [str(m["To"]).strip("<>") for m in sent] == [OFFICER]  # nothing to the stranger
    assert subject(sent[0]) == f"[{TID}] เรื่องที่ส่งต่อรอเจ้าหน้าที่ตรวจสอบ / Forwarded mail held for a clerk"
    assert "held for a clerk to check" in text_of(sent[0]) and "stranger@example.net" in text_of(sent[0])
    outcomes = [e for e in deploy.json("audit", "list", "--id", TID) if e["action"] == "forward_confirmed"]
    assert [json.loads(e["detail"])["outcome"] for e in outcomes] == ["reply", "held"]
