"""Receipt time behind a real mail exchanger (issue 17, R1).

A private Postfix on loopback accepts mail the way the agency's MX does and
hands it to Dovecot over LMTP; citizens' mail programs are played by smtplib.
Postfix and the mailbox's Dovecot run under libfaketime with clock files: on
the real clock unless a test sets one, so "accepted at 16:20, stored at 16:50"
is chosen, never waited for.
"""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email.message import Message
from email.policy import SMTP
from email.utils import format_datetime, parsedate_to_datetime

from conftest import MxEnv
from mails import BKK, at, mail

from mailintake.base.trust import RECEIPT_SKEW

# Raw UTF-8 in the headers (RFC 6532), as Thai mail programs send it.
UTF8 = SMTP.clone(utf8=True)
SUBJECT = "ขออนุญาตจัดงานบุญประจำปี"


def soon(minutes: int = 1) -> str:
    """A sweep's --now a little after the real time the servers stamped."""
    return (datetime.now(BKK) + timedelta(minutes=minutes)).replace(microsecond=0).isoformat()


def submit(mx: MxEnv, msg: Message, sender: str = "somchai@example.com") -> None:
    """Send as a citizen's mail program does: SMTPUTF8 when the server offers
    it (the deployment below does not, so raw UTF-8 goes as 8BITMIME)."""
    with smtplib.SMTP("127.0.0.1", mx.postfix.port, local_hostname="mail.example.com", timeout=30) as s:
        s.ehlo("mail.example.com")
        options = ["BODY=8BITMIME"] + (["SMTPUTF8"] if s.has_extn("smtputf8") else [])
        assert s.sendmail(sender, [mx.address], msg.as_bytes(policy=UTF8), mail_options=options) == {}


def delivered(mx: MxEnv, count: int) -> list[Message]:
    """Wait (a poll with a deadline) until the mailbox holds ``count`` messages."""
    assert mx.mailbox is not None
    box = mx.mailbox
    return mx.postfix.wait(lambda: box.messages() if len(box.folder()) >= count else None, f"{count} message(s) in the mailbox")


def stamped_by(msg: Message, host: str) -> datetime:
    """The time in the Received: line that ``host`` added."""
    for value in msg.get_all("Received", []):
        text = " ".join(str(value).split())
        if f"by {host} " in text:
            return parsedate_to_datetime(text.rpartition(";")[2].strip())
    raise AssertionError(f"no Received: line by {host}")


def test_receipt_time_is_the_trusted_received_line_of_the_agency_mx(mx: MxEnv) -> None:
    # Both machines on the real clock: accepted and stored within a second.
    submit(mx, mail(SUBJECT, date=datetime.now(BKK)))
    (msg,) = delivered(mx, 1)
    # The raw UTF-8 Thai subject went through LMTP intact (smtputf8_enable = no).
    assert SUBJECT in msg.as_bytes().decode("utf-8")
    accepted = stamped_by(msg, mx.postfix.hostname)

    mx.run("sweep", "--now", soon())
    (app,) = mx.json("triage", "list")
    assert app["subject"] == SUBJECT
    assert datetime.fromisoformat(app["received_at"]) == accepted
    assert RECEIPT_SKEW not in app["flags"]
    shown = mx.json("triage", "show", app["transaction_id"])
    assert shown["receipt_source"] == "received"
    assert datetime.fromisoformat(shown["trusted_received_at"]) == accepted
    (message,) = shown["messages"]
    assert (message["receipt_source"], datetime.fromisoformat(message["trusted_received_at"])) == ("received", accepted)
    assert "trusted Received header" in mx.run("triage", "show", app["transaction_id"]).stdout


def test_mail_held_in_the_queue_keeps_its_acceptance_time_and_is_flagged(mx: MxEnv) -> None:
    assert mx.mailbox is not None and mx.mailbox.server.clock is not None
    dovecot, clock = mx.mailbox.server, mx.mailbox.server.clock
    # Tuesday 9 Dec 2025, 16:20 Bangkok: in working hours (close 16:30). The
    # mailbox server is down; the MX accepts the application and queues it.
    mx.postfix.clock.set(at("2025-12-09 16:20"))
    dovecot.stop()
    try:
        submit(mx, mail(SUBJECT, date=at("2025-12-09 16:19")))
        held = mx.postfix.wait(lambda: [q for q in mx.postfix.queue() if q["queue_name"] == "deferred"], "deferred message")
        assert "Connection refused" in held[0]["recipients"][0]["delay_reason"]
    finally:
        # 16:50: the mailbox server is back and the queue is flushed.
        mx.postfix.clock.set(at("2025-12-09 16:50"))
        clock.set(at("2025-12-09 16:50"))
        dovecot.start()
    mx.postfix.flush()
    (msg,) = delivered(mx, 1)
    accepted = stamped_by(msg, mx.postfix.hostname)
    stored = stamped_by(msg, dovecot.hostname)
    assert accepted.astimezone(BKK).strftime("%Y-%m-%d %H:%M") == "2025-12-09 16:20"
    assert stored.astimezone(BKK).strftime("%Y-%m-%d %H:%M") == "2025-12-09 16:50"

    mx.run("sweep", "--now", "2025-12-09T16:55:00+07:00")
    (app,) = mx.json("triage", "list")
    # Received in working time, so deemed received then and due the same day;
    # by the delivery time it would be after hours and deemed Thu 11 Dec 08:30
    # (10 Dec is Constitution Day).
    assert datetime.fromisoformat(app["received_at"]) == accepted
    assert datetime.fromisoformat(app["deemed_received_at"]) == accepted
    assert app["ack_due_at"] == "2025-12-09T16:30:00+07:00"
    assert RECEIPT_SKEW in app["flags"]
    shown = mx.json("triage", "show", app["transaction_id"])
    (message,) = shown["messages"]
    assert message["receipt_source"] == "received"
    assert datetime.fromisoformat(message["trusted_received_at"]) == accepted
    assert datetime.fromisoformat(message["internaldate"]).astimezone(BKK).strftime("%H:%M") == "16:50"
    text = mx.run("triage", "show", app["transaction_id"]).stdout
    assert "trusted Received header" in text and "16:50" in text


def test_a_received_line_forged_by_the_sender_changes_nothing(mx: MxEnv) -> None:
    # The sender claims the agency's MX took the mail in three hours ago.
    claimed = (datetime.now(BKK) - timedelta(hours=3)).replace(microsecond=0)
    forged = mail(SUBJECT, date=claimed)
    forged["Received"] = (
        "from mail.example.com (mail.example.com [192.0.2.1]) by mx.saraban.test (Postfix)"
        f" with ESMTP id 4AB12C0FFEE; {format_datetime(claimed)}"
    )
    submit(mx, forged)
    (msg,) = delivered(mx, 1)
    accepted = stamped_by(msg, mx.postfix.hostname)  # the first line naming it is the real one
    assert accepted - claimed > timedelta(hours=2)

    mx.run("sweep", "--now", soon())
    (app,) = mx.json("triage", "list")
    assert datetime.fromisoformat(app["received_at"]) == accepted
    assert RECEIPT_SKEW not in app["flags"]
    shown = mx.json("triage", "show", app["transaction_id"])
    assert shown["receipt_source"] == "received"
    assert datetime.fromisoformat(shown["trusted_received_at"]) == accepted


def test_a_real_postfix_bounce_of_the_acknowledgement_is_recorded(mx: MxEnv) -> None:
    mx.send_through_postfix()
    # The applicant writes from an address the mailbox server does not know.
    applicant = f"nobody@{mx.postfix.domain}"
    submit(mx, mail(SUBJECT, sender=f"ไม่มีตัวตน <{applicant}>", date=datetime.now(BKK)), sender=applicant)
    delivered(mx, 1)

    # The acknowledgement leaves through Postfix with the agency's address as
    # envelope sender; LMTP refuses the recipient (5.1.1) and Postfix returns
    # a delivery status notification to that address, the swept mailbox.
    mx.run("sweep", "--now", soon())
    (ack,) = mx.json("outbox", "list")
    assert (ack["kind"], ack["status"], ack["recipient"]) == ("ack", "sent", applicant)
    dsn = delivered(mx, 2)[-1]
    assert dsn.get_content_type() == "multipart/report"
    assert str(dsn["From"]).endswith("<MAILER-DAEMON@mx.saraban.test>")

    mx.run("sweep", "--now", soon(2))
    (row,) = mx.json("outbox", "list")
    assert (row["kind"], row["status"]) == ("ack", "bounced")
    assert "5.1.1" in row["last_error"] and "User doesn't exist" in row["last_error"]
    (app,) = mx.json("triage", "list", "--now", soon(2))
    assert "unreachable_by_email" in app["flags"]
    assert app["unreachable"]["address"] == applicant
    shown = mx.json("triage", "show", app["transaction_id"])
    assert "unreachable_by_email" in shown["flags"]
    assert "bounce_recorded" in [e["action"] for e in shown["events"]]
