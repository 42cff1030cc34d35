"""Delivery reports read as RFC 3464 and RFC 8098 say, through a real sweep
(Dovecot, aiosmtpd, SQLite). The reports are real ones written by other
projects' servers (tests/data/dsn/README.md): only the Message-ID of the
returned mail is changed to the acknowledgement we sent, so that the report is
about our mail, and the applicant writes from the address the report names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import Env
from mails import at, mail
from test_permits import APPROVER, CITIZEN, CLERK, OFFICE, approved_certification

DSN = Path(__file__).parent / "data" / "dsn"


def sample(name: str, replace: dict[str, str] | None = None) -> bytes:
    """A report from tests/data/dsn, with the strings in ``replace`` replaced
    (each must be there: the test must not pass on a sample it did not change)."""
    raw = (DSN / name).read_bytes()
    if raw.startswith(b"From "):  # an mbox separator line, not part of the message
        raw = raw.split(b"\n", 1)[1]
    for old, new in (replace or {}).items():
        assert old.encode() in raw, f"{old} not in {name}"
        raw = raw.replace(old.encode(), new.encode())
    return raw


def inner(message_id: str) -> str:
    return message_id.strip().strip("<>")


def acknowledged(env: Env, sender: str, day: str = "2025-12-09") -> tuple[str, str]:
    """An inquiry from ``sender`` at 09:00, swept at 09:05: its ID and the Message-ID of our acknowledgement."""
    assert env.mailbox is not None and env.smtp is not None
    env.mailbox.append(mail("ขอสอบถามเรื่องการขออนุญาต", sender=sender).as_bytes(), at(f"{day} 09:00"))
    env.run("sweep", "--now", f"{day}T09:05:00+07:00")
    ack = env.smtp.messages()[-1]
    assert ack["To"].lower() == sender.lower()
    apps = [a for a in env.json("triage", "list", "--all") if a["applicant_email"].lower() == sender.lower()]
    return apps[-1]["transaction_id"], str(ack["Message-ID"])


def deliver(env: Env, raw: bytes, when: str = "2025-12-09 09:12", sweep_at: str = "2025-12-09T09:20:00+07:00") -> None:
    assert env.mailbox is not None
    env.mailbox.append(raw, at(when))
    env.run("sweep", "--now", sweep_at)


def outgoing(env: Env, message_id: str) -> dict:  # type: ignore[type-arg]
    return next(o for o in env.json("outbox", "list") if o["message_id"] == message_id)


# (sample, the address it reports failed, the Message-ID of the returned mail in it)
HARD = [
    ("flufl-dsn_01.txt", "JimmyMcEgypt@go.com", "F1218V8zDv60gxapzha000001ae@hotmail.com"),  # Sun IMS, Final != Original
    ("flufl-dsn_14.txt", "artboardregistration@home.dk", "mailman.2721.1143482819.1567.gpc-talk@grizz.org"),  # no Status
    ("mail-report_530.eml", "edwin@zzzzzzz.com", "200712232303.lBNN3jDq002941@mail12.rrrr.com.au"),  # sendmail
    ("flanker-office365.eml", "noname@example.com", "20171013111011.20866.254C2F3A4D7AA526@ninomail.com"),  # Exchange Online
    ("flufl-postfix_01.txt", "xxxxx@local.ie", "p04330122b60007b33216@[17.216.27.250]"),  # no report part: flufl.bounce
]


@pytest.mark.parametrize(("name", "address", "returned"), HARD, ids=[h[0] for h in HARD])
def test_real_hard_bounces_block_the_address(deploy: Env, name: str, address: str, returned: str) -> None:
    assert deploy.smtp is not None
    tid, ack = acknowledged(deploy, address)
    deliver(deploy, sample(name, {returned: inner(ack)}))
    assert len(deploy.smtp.received) == 1  # a bounce is never answered
    row = outgoing(deploy, ack)
    assert row["status"] == "bounced" and row["last_error"].startswith("hard bounce: ")
    app = deploy.json("triage", "list", "--now", "2025-12-09T09:30:00+07:00")[0]
    assert app["transaction_id"] == tid
    assert "unreachable_by_email" in app["flags"]
    assert app["unreachable"]["address"] == address.lower()
    assert app["unreachable"]["until"] == "2026-02-07T09:20:00+07:00"  # 60 days (bounce_block_days)
    assert app["acknowledged_at"] is None
    assert deploy.json("status")["messages"]["bounce"] == 1


def test_hard_bounce_holds_later_mail_visibly_until_the_block_expires(deploy: Env) -> None:
    assert deploy.smtp is not None
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    address = "JimmyMcEgypt@go.com"
    tid, ack = acknowledged(deploy, address)
    deliver(deploy, sample("flufl-dsn_01.txt", {"F1218V8zDv60gxapzha000001ae@hotmail.com": inner(ack)}))

    # The application no longer counts as acknowledged: past its deadline it is overdue.
    overdue = deploy.json("triage", "list", "--overdue", "--now", "2025-12-10T09:00:00+07:00")
    assert [a["transaction_id"] for a in overdue] == [tid]
    table = deploy.run("triage", "list", "--now", "2025-12-10T09:00:00+07:00").stdout
    assert "unreachable_by_email" in table
    events = [e["action"] for e in deploy.json("triage", "show", tid)["events"]]
    assert "bounce_recorded" in events and "address_blocked" in events

    # The clerk asks for a document: the notice is not sent, and says why.
    result = deploy.run(
        "triage",
        "request-info",
        tid,
        "--reason",
        "แบบฟอร์มไม่ครบ / form incomplete",
        "--now",
        "2025-12-09T11:00:00+07:00",
        env=CLERK,
    )
    assert "not sent yet" in result.stderr
    assert len(deploy.smtp.received) == 1
    blocked = deploy.json("outbox", "list", "--status", "blocked")
    assert [(b["kind"], b["recipient"]) for b in blocked] == [("info_requested", address)]
    assert "hard-bounced" in blocked[0]["last_error"] and "2026-02-07T09:20:00+07:00" in blocked[0]["last_error"]
    assert "info_requested_blocked" in [e["action"] for e in deploy.json("triage", "show", tid)["events"]]
    assert "blocked" in deploy.run("outbox", "list").stdout

    # Day 59: a new application from the same address is registered, its acknowledgement held.
    tid2, ack2 = acknowledged_or_held(deploy, address, "2026-02-05")
    assert len(deploy.smtp.received) == 1 and ack2 is None
    # Day 61: the block has expired; mail goes again and nothing is flagged.
    tid3, ack3 = acknowledged_or_held(deploy, address, "2026-02-09")
    assert ack3 is not None and len(deploy.smtp.received) == 2
    assert deploy.smtp.received[-1]["to"] == [address]
    later = deploy.json("triage", "list", "--now", "2026-02-09T10:00:00+07:00")
    assert {a["transaction_id"] for a in later} >= {tid2, tid3}
    assert all(a["unreachable"] is None and "unreachable_by_email" not in a["flags"] for a in later)


def acknowledged_or_held(env: Env, sender: str, day: str) -> tuple[str, str | None]:
    assert env.mailbox is not None and env.smtp is not None
    before = len(env.smtp.received)
    env.mailbox.append(mail(f"คำถามใหม่ {day}", sender=sender).as_bytes(), at(f"{day} 09:00"))
    env.run("sweep", "--now", f"{day}T09:05:00+07:00")
    tid = env.json("triage", "list", "--all")[-1]["transaction_id"]
    return tid, (str(env.smtp.messages()[-1]["Message-ID"]) if len(env.smtp.received) > before else None)


# (sample, the delayed recipient, the returned Message-ID or None when it quotes none)
DELAYED = [
    ("mail-report_422.eml", "fraser@oooooooo.com.au", "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au"),
    ("flufl-dsn_05.txt", "pkocmid@atlas.cz", "pfchbtkf3j0p7prf0sp45vi21fro3bs7ad@4ax.com"),  # via a list: List-Id, Precedence
    ("flufl-simple_03.txt", "jacobus@geo.co.za", None),  # Exim warning, no report part: flufl.bounce, linked by address
]


@pytest.mark.parametrize(("name", "address", "returned"), DELAYED, ids=[d[0] for d in DELAYED])
def test_delayed_report_is_a_note_not_a_bounce(deploy: Env, name: str, address: str, returned: str | None) -> None:
    assert deploy.smtp is not None
    tid, ack = acknowledged(deploy, address)
    deliver(deploy, sample(name, {returned: inner(ack)} if returned else None))
    assert len(deploy.smtp.received) == 1
    row = outgoing(deploy, ack)
    assert row["status"] == "sent" and row["last_error"] is None
    assert [n["action"] for n in row["delivery_notes"]] == ["delayed"]
    app = deploy.json("triage", "list")[0]
    assert app["acknowledged_at"] == "2025-12-09T09:05:00+07:00"
    assert app["unreachable"] is None and "unreachable_by_email" not in app["flags"]
    assert deploy.json("status")["messages"] == {"application": 1, "delivery_note": 1}
    assert "delivery_note_recorded" in [e["action"] for e in deploy.json("triage", "show", tid)["events"]]


def test_a_delay_does_not_hand_a_permit_back_to_the_clerk(deploy: Env) -> None:
    assert deploy.smtp is not None
    tid = approved_certification(deploy)
    deploy.run("permit", "issue", tid, "--now", "2025-12-09T11:00:00+07:00", env=APPROVER)
    pdf_mail = deploy.smtp.messages()[-2]
    assert deploy.json("permit", "list")[0]["status"] == "delivered"
    deliver(
        deploy,
        sample(
            "mail-report_422.eml",
            {
                "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au": inner(pdf_mail["Message-ID"]),
                "fraser@oooooooo.com.au": CITIZEN,
            },
        ),
        "2025-12-09 11:10",
        "2025-12-09T11:15:00+07:00",
    )
    assert deploy.json("permit", "list")[0]["status"] == "delivered"
    app = deploy.json("triage", "show", tid)
    assert app["status"] in ("delivered", "closed")  # the sweep's deadline jobs close it once delivered (issue 12)
    assert "permit_delivery_bounced" not in [e["action"] for e in app["events"]]
    pdf_row = next(o for o in app["outgoing"] if o["message_id"] == pdf_mail["Message-ID"])
    assert pdf_row["status"] == "sent" and pdf_row["delivery_notes"][0]["status"] == "4.2.2"


def test_read_receipt_marks_the_mail_read(deploy: Env) -> None:
    assert deploy.smtp is not None
    tid, ack = acknowledged(deploy, "Joe_Recipient@example.com")
    deliver(deploy, sample("flanker-disposition-notification.eml", {"199509192301.23456@example.org": inner(ack)}))
    assert len(deploy.smtp.received) == 1
    row = outgoing(deploy, ack)
    assert row["status"] == "sent" and row["read_at"] == "2025-12-09T09:20:00+07:00"
    assert deploy.json("status")["messages"] == {"application": 1, "read_receipt": 1}
    app = deploy.json("triage", "show", tid)
    assert app["acknowledged_at"] == "2025-12-09T09:05:00+07:00"
    assert next(o for o in app["outgoing"] if o["message_id"] == ack)["read_at"] == "2025-12-09T09:20:00+07:00"
    assert re.search(r"read \d", deploy.run("outbox", "list").stdout)


def test_robot_mail_is_recorded_and_never_answered(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    real = [sample("flanker-complaint-yahoo.eml"), sample("flanker-list-mail.eml")]
    # Answers from systems that do not set Auto-Submitted, as Outlook, Exchange
    # 2003, Lotus Notes and vacation(1) word them.
    old = [
        mail("Automatic reply: ขออนุญาตจัดงาน", sender="somsri@example.co.th"),
        mail("Out of Office AutoReply: คำขอ", sender="office@example.go.th"),
        mail("Auto Reply: Your application", sender="a@example.net"),
        mail("Somchai Jaidee is out of the office.", sender="somchai@notes.example.com"),
        mail("away from my mail", body="I will not be reading my mail for a while.\n", sender="b@example.org"),
    ]
    tls = (
        b"From: noreply-smtp-tls-reporting@example.com\r\nTo: saraban@banmai.go.th\r\nSubject: Report Domain: banmai.go.th\r\n"
        b"Message-ID: <tls-1@example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type="tlsrpt"; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nTLS report\r\n--B--\r\n"
    )
    for raw in real + [m.as_bytes() for m in old] + [tls]:
        deploy.mailbox.append(raw, at("2025-12-09 10:00"))
    deploy.run("sweep", "--now", "2025-12-09T10:30:00+07:00")
    assert deploy.smtp.received == []
    assert deploy.json("triage", "list", "--all") == []
    assert deploy.json("status")["messages"] == {"autoreply": 8}


def test_report_reasons_are_recorded_on_the_message(deploy: Env) -> None:
    """What the clerk reads in the registry: the report's own words."""
    from mailintake.base.config import load
    from mailintake.base.data.db import Registry

    tid, ack = acknowledged(deploy, "edwin@zzzzzzz.com")
    deliver(deploy, sample("mail-report_530.eml", {"200712232303.lBNN3jDq002941@mail12.rrrr.com.au": inner(ack)}))
    reg = Registry(load(deploy.config).db_path)
    row = reg.one("SELECT flags, transaction_id FROM messages WHERE kind = 'bounce'")
    assert row is not None and row["transaction_id"] == tid
    assert "failed 5.3.0" in json.loads(row["flags"])[0]


def test_a_bounce_without_a_report_part_from_a_daemon_with_a_raw_thai_name_is_read() -> None:
    """One flufl.bounce detector trips on a From given as raw 8-bit bytes and
    stops the whole scan; the bounce must still be read."""
    import email
    from email.policy import compat32

    from mailintake.intake.delivery import parse_report

    raw = (Path(__file__).parent / "data" / "corpus" / "flufl-bounce" / "qmail_01.txt").read_bytes()
    assert b"\nFrom: MAILER-DAEMON@gate0.n-h.net\n" in raw
    raw = raw.replace(b"\nFrom: MAILER-DAEMON@gate0.n-h.net\n", "\nFrom: ระบบจดหมาย <MAILER-DAEMON@gate0.n-h.net>\n".encode(), 1)
    report = parse_report(email.message_from_bytes(raw, policy=compat32))
    assert report is not None and report.kind == "bounce" and report.failed
    assert [r.address for r in report.recipients] == ["psadisc@wwwmail.n-h.de"]
