"""Replies only from the applicant, answers only to real senders (issue 11),
against the test Dovecot and the SMTP sink: mail quoting a transaction ID
joins its application only from the applicant's address or as an answer to our
own mail, else it is held for the clerk and moves nothing; the trusted
Authentication-Results decide DMARC (mail failing it gets no answer), a forged
one below the agency's Received: line counts for nothing; automatic answers are
capped on the address they go to and in all; no answer repeats a stranger's
text; spam is moved to the quarantine folder, never expunged."""

from __future__ import annotations

import email.header
import json
from email.message import Message
from typing import Any

from conftest import Env
from mails import at, mail
from mails import subject_of as subject

from mailintake.base.config import load
from mailintake.base.data import applications
from mailintake.base.deployment import Deployment
from mailintake.base.trust import TrustBoundary
from mailintake.intake.parse import parse_headers_only
from samples.make_samples import jpeg, scanned_pdf

CITIZEN = "somchai.jaidee@example.com"
TID = "SRB-2568-000001"
HOSTS = ("mx.banmai.go.th", "mailbox.banmai.go.th")


def slip() -> list[tuple[str, bytes, str]]:
    return [("slip.jpg", jpeg(1080, 1920, 72), "image/jpeg")]


def apply(env: Env, sender: str = f"สมชาย ใจดี <{CITIZEN}>") -> Message:
    """An application from the citizen, swept on Tue 9 Dec 2025; its acknowledgement."""
    assert env.mailbox is not None and env.smtp is not None
    original = mail(
        "ขออนุญาตจัดงานลอยกระทง", sender=sender, attachments=[("แบบคำขอ.pdf", scanned_pdf(2480, 3508), "application/pdf")]
    )
    env.mailbox.append(original.as_bytes(), at("2025-12-09 09:00"))
    env.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    [ack] = env.smtp.messages()
    return ack


def set_status(env: Env, tid: str, status: str) -> None:
    """Put the application where the test needs it (the lifecycle is test_lifecycle's)."""
    dep = Deployment.build(load(env.config))
    try:
        with dep.registry.transaction():
            applications.update(dep.registry, tid, status=status)
    finally:
        dep.close()


def events(env: Env, action: str) -> list[dict[str, Any]]:
    dep = Deployment.build(load(env.config))
    try:
        return dep.registry.all("SELECT * FROM events WHERE action = ? ORDER BY id", (action,))
    finally:
        dep.close()


def detail(event: dict[str, Any]) -> Any:
    value = event["detail"]
    return json.loads(value) if isinstance(value, str) else value


def sweep(env: Env, raw: bytes, when: str) -> None:
    assert env.mailbox is not None
    env.mailbox.append(raw, at(when))
    env.run("sweep", "--now", at(when).replace(minute=at(when).minute + 1).isoformat())


def everything_sent(env: Env) -> str:
    """Every outgoing message as a person reads it: subjects and text decoded."""
    assert env.smtp is not None
    out = []
    for m in env.smtp.messages():
        out.append(str(email.header.make_header(email.header.decode_header(m["Subject"] or ""))))
        for part in m.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                out.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
        out.append(m.as_string())
    return "\n".join(out)


def trusted(raw: bytes, auth_above: str | None = None, below: str = "", spam_above: str = "") -> bytes:
    """``raw`` as the agency's mail system delivers it: the mailbox's LMTP line,
    what the MX added (its Authentication-Results, a spam verdict), the MX's
    Received: line taking it from outside; ``below`` is what the sender wrote
    under it."""
    top = "Received: from mx.banmai.go.th ([10.0.0.25])\r\n\tby mailbox.banmai.go.th (Dovecot) with LMTP id kQ3a; Tue, 09 Dec 2025 09:30:12 +0700\r\n"
    if auth_above:
        top += f"Authentication-Results: mx.banmai.go.th;\r\n\t{auth_above}\r\n"
    top += spam_above
    top += (
        "Received: from mail.example.com (mail.example.com [198.51.100.7])\r\n"
        "\tby mx.banmai.go.th (Postfix) with ESMTPS id 4Q9f; Tue, 9 Dec 2025 09:30:00 +0700\r\n"
    )
    return top.encode() + below.encode() + raw


def with_hosts(env: Env, extra: str = "") -> None:
    hosts = ", ".join(f'"{h}"' for h in HOSTS)
    env.config.write_text(
        env.config.read_text(encoding="utf-8") + f"\n[trust]\nmail_hosts = [{hosts}]\n{extra}", encoding="utf-8"
    )


# --- replies only from the applicant -----------------------------------------------------------
def test_a_strangers_slip_quoting_the_id_is_held_and_moves_nothing_until_the_clerk_releases_it(deploy: Env) -> None:
    assert deploy.smtp is not None
    apply(deploy)
    set_status(deploy, TID, "fee_due")
    stranger = mail(f"[{TID}] หลักฐานการโอน", sender="Mallory <mallory@evil.example>", attachments=slip())
    sweep(deploy, stranger.as_bytes(), "2025-12-10 09:00")

    shown = deploy.json("triage", "show", TID)
    assert shown["status"] == "fee_due"  # the old code moved it to fee_submitted
    assert [f["name"] for f in shown["files"]] == ["แบบคำขอ.pdf"]
    assert len(deploy.smtp.received) == 1  # the acknowledgement only: the stranger got nothing
    [held] = shown["held"]
    assert held["from"] == "mallory@evil.example" and held["transaction_id"] == TID
    assert "not the applicant's address" in held["reason"]
    assert [f["name"] for f in held["files"]] == ["slip.jpg"]  # kept, for the clerk
    assert deploy.json("triage", "held") == [held]
    assert f"#{held['id']} HELD" in deploy.run("triage", "show", TID).stdout
    assert "mail_held" in [e["action"] for e in shown["events"]]

    # The clerk knows better (the applicant wrote from a friend's address): released.
    out = deploy.run("triage", "release", str(held["id"]), "--now", "2025-12-10T10:00:00+07:00")
    assert out.stdout.strip() == f"message #{held['id']} joined {TID}"
    shown = deploy.json("triage", "show", TID)
    assert shown["status"] == "fee_submitted" and shown["held"] == []
    assert [f["name"] for f in shown["files"]] == ["แบบคำขอ.pdf", "slip.jpg"]
    released = [e for e in shown["events"] if e["action"] == "held_released"]
    assert released and detail(released[0])["from"] == "mallory@evil.example"
    # The applicant (not the stranger) is told the slip arrived.
    assert deploy.smtp.received[-1]["to"] == [CITIZEN]
    assert deploy.run("triage", "release", str(held["id"]), ok=False).exit_code == 1


def test_only_the_applicants_own_address_joins_by_subject_and_a_dismissed_message_stays_out(deploy: Env) -> None:
    assert deploy.smtp is not None
    apply(deploy)
    mine = mail(f"Re: [{TID}] เอกสารเพิ่ม", sender=f"Somchai <{CITIZEN.upper()}>", attachments=slip())
    theirs = mail(f"Re: [{TID}] เอกสารเพิ่ม", sender="Mallory <mallory@evil.example>", attachments=slip())
    sweep(deploy, mine.as_bytes(), "2025-12-10 09:00")
    sweep(deploy, theirs.as_bytes(), "2025-12-10 09:10")
    shown = deploy.json("triage", "show", TID)
    assert [m["kind"] for m in shown["messages"]] == ["application", "reply"]
    assert len(shown["files"]) == 2 and "new_documents" in shown["flags"]
    [held] = shown["held"]
    assert held["from"] == "mallory@evil.example"
    # The applicant got a receipt; the stranger nothing.
    assert [[a.lower() for a in r["to"]] for r in deploy.smtp.received] == [[CITIZEN], [CITIZEN]]

    out = deploy.run("triage", "dismiss", str(held["id"]), "--reason", "not the applicant", "--now", "2025-12-10T10:00:00+07:00")
    assert "dismissed" in out.stdout
    shown = deploy.json("triage", "show", TID)
    assert shown["held"] == [] and len(shown["files"]) == 2 and deploy.json("triage", "held") == []
    [dismissed] = [e for e in shown["events"] if e["action"] == "held_dismissed"]
    assert detail(dismissed)["reason"] == "not the applicant"


def test_an_answer_to_our_acknowledgement_joins_from_any_address_and_an_unthreaded_copy_is_held(deploy: Env) -> None:
    ack = apply(deploy)
    threaded = mail("Re: ส่งเอกสารเพิ่ม", sender="Somchai at work <somchai@office.example>", attachments=slip())
    threaded["In-Reply-To"] = ack["Message-ID"]
    threaded["References"] = ack["Message-ID"]
    sweep(deploy, threaded.as_bytes(), "2025-12-10 09:00")
    guessed = mail(f"[{TID}] ส่งเอกสารเพิ่ม", sender="Somchai at work <somchai@office.example>", attachments=slip())
    guessed["In-Reply-To"] = "<not-ours@example.com>"
    sweep(deploy, guessed.as_bytes(), "2025-12-10 09:10")
    shown = deploy.json("triage", "show", TID)
    assert [m["kind"] for m in shown["messages"]] == ["application", "reply"]
    assert [h["from"] for h in shown["held"]] == ["somchai@office.example"]


# --- Authentication-Results --------------------------------------------------------------------
def test_authentication_results_are_read_only_above_the_agencys_received_line() -> None:
    raw = trusted(
        b"From: a@example.com\r\nSubject: x\r\n\r\n",
        "spf=fail smtp.mailfrom=forged@example.com;\r\n\tdkim=none (no signature); dmarc=fail (p=reject) header.from=example.com",
        below="Authentication-Results: mx.banmai.go.th; dmarc=pass header.from=example.com\r\n",
    )
    headers = parse_headers_only(raw[: raw.index(b"\r\n\r\n") + 2])
    auth = TrustBoundary(HOSTS).authentication(headers)
    assert auth is not None and auth.dmarc_failed and auth.dmarc_domain == "example.com"
    assert (auth.spf, auth.dkim) == ("fail", "none")
    # Another authserv-id than the one named is not read.
    assert TrustBoundary(HOSTS, authserv_id="filter.banmai.go.th").authentication(headers) is None
    # Only the forged one: nothing trusted.
    forged = trusted(b"From: a@example.com\r\n\r\n", below="Authentication-Results: mx.banmai.go.th; dmarc=fail\r\n")
    assert TrustBoundary(HOSTS).authentication(parse_headers_only(forged[: forged.index(b"\r\n\r\n") + 2])) is None


def test_mail_failing_dmarc_is_registered_but_not_answered_and_a_forged_result_below_counts_for_nothing(deploy: Env) -> None:
    assert deploy.smtp is not None
    with_hosts(deploy)
    failing = mail("ขออนุญาตจัดงาน", sender="สมชาย <somchai@example.com>", attachments=slip())
    # The MX says fail; the sender wrote a "pass" of its own below the MX's line.
    sweep(
        deploy,
        trusted(
            failing.as_bytes(),
            "dmarc=fail (p=reject) header.from=example.com",
            below="Authentication-Results: mx.banmai.go.th; dmarc=pass header.from=example.com\r\n",
        ),
        "2025-12-09 09:30",
    )
    [app] = deploy.json("triage", "list")
    assert app["status"] == "received" and "dmarc_fail" in app["flags"]
    assert deploy.smtp.received == []  # no acknowledgement to a forged sender
    shown = deploy.json("triage", "show", app["transaction_id"])
    [withheld] = [e for e in shown["events"] if e["action"] == "answer_withheld"]
    assert detail(withheld)["why"] == "DMARC fail for example.com: no acknowledgement sent"

    # The MX says pass; a "fail" below it is the sender's own: answered as usual.
    passing = mail("ขออนุญาตจัดงาน 2", sender="สมหญิง <somying@example.org>", attachments=slip())
    sweep(
        deploy,
        trusted(
            passing.as_bytes(),
            "dmarc=pass header.from=example.org",
            below="Authentication-Results: mx.banmai.go.th; dmarc=fail header.from=example.org\r\n",
        ),
        "2025-12-09 09:40",
    )
    assert [r["to"] for r in deploy.smtp.received] == [["somying@example.org"]]


def test_the_applicants_address_failing_dmarc_does_not_join(deploy: Env) -> None:
    with_hosts(deploy)
    assert deploy.mailbox is not None
    first = mail("ขออนุญาตจัดงาน", sender=f"สมชาย <{CITIZEN}>", attachments=slip())
    sweep(deploy, trusted(first.as_bytes(), "dmarc=pass header.from=example.com"), "2025-12-09 09:30")
    forged = mail(f"[{TID}] หลักฐานการโอน", sender=f"สมชาย <{CITIZEN}>", attachments=slip())
    sweep(deploy, trusted(forged.as_bytes(), "dmarc=fail header.from=example.com"), "2025-12-09 09:45")
    shown = deploy.json("triage", "show", TID)
    assert [m["kind"] for m in shown["messages"]] == ["application"]
    [held] = shown["held"]
    assert held["reason"] == f"quotes {TID} but DMARC fail for example.com"


# --- caps on automatic answers -----------------------------------------------------------------
def test_a_verify_flood_to_one_victim_stops_at_the_cap_through_reply_to_or_directly(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    for i in range(12):  # twelve "senders", all naming the victim as Reply-To
        m = mail("VERIFY EVT-2568-0001", sender=f"a{i}@evil.example", reply_to="victim@example.net")
        deploy.mailbox.append(m.as_bytes(), at(f"2025-12-09 09:{i:02d}"))
    for i in range(12):  # and twelve more straight from the forged victim
        m = mail("VERIFY EVT-2568-0001", sender="Victim@Example.net")
        deploy.mailbox.append(m.as_bytes(), at(f"2025-12-09 09:{20 + i:02d}"))
    deploy.run("sweep", "--now", "2025-12-09T09:40:00+07:00")
    to_victim = [r for r in deploy.smtp.received if [a.lower() for a in r["to"]] == ["victim@example.net"]]
    assert len(to_victim) == 5  # [limits] answers_per_address_per_hour; the old code sent 22
    withheld = events(deploy, "answer_withheld")
    assert len(withheld) + len(events(deploy, "verify_not_answered")) == 19
    assert "5 automatic answers to victim@example.net in the last hour" in withheld[0]["detail"]
    # An hour later the victim may be answered again.
    later = mail("VERIFY EVT-2568-0001", sender="a99@evil.example", reply_to="victim@example.net")
    deploy.mailbox.append(later.as_bytes(), at("2025-12-09 10:45"))
    deploy.run("sweep", "--now", "2025-12-09T10:50:00+07:00")
    assert len(deploy.smtp.received) == 6


def test_automatic_answers_stop_at_the_hourly_total_and_the_clerk_sees_it(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.config.write_text(deploy.config.read_text() + "\n[limits]\nanswers_per_hour = 3\n", encoding="utf-8")
    # Questions (inquiries): their acknowledgements are capped. (The first
    # acknowledgement of an application is not: tests/test_deadlines.py, issue 12.)
    for i in range(5):
        m = mail(f"สอบถามเวลาทำการ {i}", "สำนักงานเปิดกี่โมงครับ", sender=f"p{i}@example.com")
        deploy.mailbox.append(m.as_bytes(), at(f"2025-12-09 09:0{i}"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    assert len(deploy.smtp.received) == 3
    apps = deploy.json("triage", "list")
    assert len(apps) == 5  # every one registered
    assert sum("answer_withheld" in a["flags"] for a in apps) == 2


# --- no echo of a stranger's words --------------------------------------------------------------
def test_no_answer_repeats_a_strangers_subject_name_file_name_or_verify_token(deploy: Env) -> None:
    assert deploy.mailbox is not None
    bait = "http://evil.example/win"
    m = mail(
        f"ขออนุญาต ดู {bait} ด่วน",
        sender="Click evil.example now <x@example.com>",
        attachments=[("www.evil.example.jpg", jpeg(1080, 1920, 72), "image/jpeg")],
    )
    deploy.mailbox.append(m.as_bytes(), at("2025-12-09 09:00"))
    deploy.mailbox.append(mail(f"VERIFY {bait}", sender="y@example.com").as_bytes(), at("2025-12-09 09:01"))
    deploy.mailbox.append(mail("ตรวจสอบใบอนุญาต evil.example", sender="z@example.com").as_bytes(), at("2025-12-09 09:02"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    assert deploy.smtp is not None and len(deploy.smtp.received) == 3
    sent = everything_sent(deploy)
    assert "evil.example" not in sent.lower()
    ack, verify, _verify2 = deploy.smtp.messages()
    assert subject(ack) == "[SRB-2568-000001] ได้รับอีเมลของท่านแล้ว / Your email has been received"
    assert ack["In-Reply-To"] == m["Message-ID"]  # still threaded, under our own subject
    assert subject(verify) == "ผลการตรวจสอบใบอนุญาต / Permit check: unknown"


# --- spam ---------------------------------------------------------------------------------------
def test_spam_is_moved_to_the_quarantine_folder_and_a_senders_own_flag_is_not_spam(deploy: Env) -> None:
    assert deploy.mailbox is not None
    with_hosts(deploy)
    by_mx = mail("ขออนุญาต mxspam", sender="s@example.com", attachments=slip())
    by_sender = mail(
        "ขออนุญาต selfspam", sender="t@example.com", headers={"X-Spam-Flag": "YES", "X-Spam-Score": "99"}, attachments=slip()
    )
    sweep(deploy, trusted(by_mx.as_bytes(), spam_above="X-Spam-Flag: YES\r\nX-Spam-Score: 12.4\r\n"), "2025-12-09 09:30")
    sweep(deploy, trusted(by_sender.as_bytes()), "2025-12-09 09:40")
    # The MX's verdict: moved aside whole, unread, never expunged.
    [kept] = deploy.mailbox.messages("Quarantine")
    assert kept["Message-ID"] == by_mx["Message-ID"]
    # The sender's own flag counts for nothing: registered as an application.
    [app] = deploy.json("triage", "list")
    assert app["subject"] == "ขออนุญาต selfspam"
    inbox = deploy.mailbox.messages("INBOX")
    assert [m["Message-ID"] for m in inbox] == [by_sender["Message-ID"]]
    assert events(deploy, "spam_quarantined")
    # The next sweep leaves the quarantine folder alone.
    deploy.run("sweep", "--now", "2025-12-09T10:00:00+07:00")
    assert len(deploy.mailbox.messages("Quarantine")) == 1 and len(deploy.json("triage", "list")) == 1
