"""Hostile mail: each item of tests/data/hostile/ gets a recorded outcome and a
clear reason, the sweep goes on, and the ledger balances (nothing lost, nothing
registered or answered twice)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from conftest import Env
from mails import at, mail

from mailintake.base.config import load
from mailintake.base.data.db import Registry

sys.path.insert(0, str(Path(__file__).parent / "data" / "hostile"))
from generate import ITEMS, raw_of

LIMITS = "\n[limits]\ncheck_memory_mb = 512\ncheck_seconds = 15\n"


def reasons(reg: Registry, row: dict) -> str:  # type: ignore[type-arg]
    """Everything a clerk would read about a message's outcome."""
    text = [row["error"] or "", row["defects"] or "", row["flags"] or ""]
    if row["transaction_id"]:
        app = reg.one("SELECT problems FROM applications WHERE transaction_id = ?", (row["transaction_id"],))
        text.append(app["problems"] if app else "")
        for f in reg.all("SELECT problem, details FROM files WHERE message_row = ?", (row["id"],)):
            text += [f["problem"] or "", f["details"] or ""]
    return " ".join(text)


def ledger(env: Env, reg: Registry) -> None:
    assert env.mailbox is not None and env.smtp is not None
    # Nothing left undone on the server.
    for folder in ("INBOX", "Junk"):
        pending = [v for v in env.mailbox.folder(folder).values() if b"$MailintakeDone" not in v[b"FLAGS"]]
        assert pending == [], folder
    # Nothing answered twice.
    ids = [m["Message-ID"] for m in env.smtp.messages()]
    assert len(ids) == len(set(ids))
    apps = reg.all("SELECT transaction_id FROM applications")
    acks = reg.all("SELECT transaction_id FROM outbox WHERE kind = 'ack'")
    assert len(acks) <= len(apps) and len({a["transaction_id"] for a in acks}) == len(acks)


@pytest.mark.parametrize("name", list(ITEMS))
def test_hostile_item_gets_an_outcome_and_a_reason(deploy: Env, name: str) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.config.write_text(deploy.config.read_text() + LIMITS, encoding="utf-8")
    item = ITEMS[name]
    deploy.mailbox.append(raw_of(name), at("2025-12-09 09:00"))
    # A normal application behind it: the sweep must go on.
    deploy.mailbox.append(mail("คำขอปกติ", sender="normal@example.com").as_bytes(), at("2025-12-09 09:01"))
    result = deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    assert "Traceback" not in result.output

    reg = Registry(load(deploy.config).db_path)
    rows = reg.all("SELECT * FROM messages ORDER BY id")
    assert len(rows) == 2, [r["kind"] for r in rows]
    hostile, normal = rows
    assert normal["kind"] == "application" and normal["subject"] == "คำขอปกติ"
    assert hostile["kind"] == item.outcome, (hostile["kind"], hostile["error"])
    assert item.reason in reasons(reg, hostile)
    if item.outcome == "oversized":
        assert len(deploy.mailbox.folder("Oversized")) == 1
    ledger(deploy, reg)


def test_header_injection_adds_no_header_to_the_acknowledgement(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.mailbox.append(raw_of("header-injection"), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    [sent] = deploy.smtp.received
    assert sent["to"] == ["eve@example.com"]
    ack = deploy.smtp.messages()[0]
    assert ack["Bcc"] is None and ack["X-Evil"] is None
    assert b"\nBcc:" not in sent["raw"] and b"\nX-Evil:" not in sent["raw"]


def test_only_one_validated_address_receives_a_reply(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.mailbox.append(raw_of("two-addresses-in-reply-to"), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    assert [r["to"] for r in deploy.smtp.received] == [["tester@example.com"]]


def test_attachment_names_are_stored_under_generated_names(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.mailbox.append(raw_of("bad-attachment-names"), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    [app] = deploy.json("triage", "list")
    names = [f["name"] for f in app["files"]]
    assert names[:5] == ["passwd.pdf", "path.pdf", "x.pdf", "CON.pdf", "evilfdp.exe"]
    assert names[5] == "attachment-6" and len(names[6]) <= 120 and names[6].endswith(".pdf")
    # On disk only hashes: nothing named by the sender exists under the store.
    store = load(deploy.config).store_path
    assert all(len(p.parent.name) == 2 and len(p.name) == 62 for p in store.rglob("*") if p.is_file())


def test_oversized_message_is_moved_and_the_sender_told_in_thai_and_english(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.config.write_text(deploy.config.read_text() + "\n[limits]\nmax_message_mb = 1\n", encoding="utf-8")
    deploy.mailbox.append(
        mail(
            "ไฟล์ใหญ่", sender="big@example.com", attachments=[("scan.pdf", b"%PDF-1.4\n" + b"x" * 2_000_000, "application/pdf")]
        ).as_bytes(),
        at("2025-12-09 09:00"),
    )
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    assert deploy.mailbox.folder("INBOX") == {}
    assert len(deploy.mailbox.folder("Oversized")) == 1
    [notice] = deploy.smtp.messages()
    assert deploy.smtp.received[0]["to"] == ["big@example.com"]
    body = notice.get_payload(decode=True).decode()
    assert "เกินขนาดที่ระบบรับได้ (1 MB)" in body and "more than our system accepts (1 MB)" in body
    assert deploy.json("status")["messages"] == {"oversized": 1}
    # The next sweep does not answer again.
    deploy.run("sweep", "--now", "2025-12-09T10:30:00+07:00")
    assert len(deploy.smtp.received) == 1


def test_a_loop_with_another_robot_ends_after_a_few_messages(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    # The robot's mail asks for nothing (inquiries): its answers are capped. A first acknowledgement of an
    # application has a cap of its own (issue 12: tests/test_deadlines.py).
    for i in range(12):
        deploy.mailbox.append(
            mail(f"Re: [SRB] ticket {i}", "Your ticket was updated.", sender="robot@helpdesk.example").as_bytes(),
            at(f"2025-12-09 09:{i:02d}"),
        )
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    assert len(deploy.smtp.received) == 5  # [limits] answers_per_address_per_hour
    reg = Registry(load(deploy.config).db_path)
    limited = reg.all("SELECT detail FROM events WHERE action = 'answer_withheld'")
    assert len(limited) == 7
    assert json.loads(limited[0]["detail"])["why"] == "5 automatic answers to robot@helpdesk.example in the last hour"


def test_a_message_that_parses_too_long_is_quarantined(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.config.write_text(deploy.config.read_text() + "\n[limits]\nparse_seconds = 0.02\n", encoding="utf-8")
    parts = b"".join(
        b"--M\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="p%d.pdf"\r\n\r\nJVBERi0xLjQK\r\n' % i
        for i in range(900)
    )
    raw = (
        b"From: a@example.com\r\nTo: saraban@banmai.go.th\r\nSubject: many parts\r\nMessage-ID: <many@example.com>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="M"\r\n\r\n' + parts + b"--M--\r\n"
    )
    deploy.mailbox.append(raw, at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    [q] = deploy.json("quarantine", "list")
    assert q["stage"] == "parse" and "parsing took longer than 0.02 s" in q["error"]


def test_six_fan_pdfs_are_checked_within_the_message_budget(deploy: Env) -> None:
    """Forms that draw each other in a fan: each form is walked once, so six of
    them in one message take far less than a 5 s budget (21 s each before)."""
    assert deploy.mailbox is not None
    deploy.config.write_text(deploy.config.read_text() + "\n[limits]\nmessage_seconds = 5\n", encoding="utf-8")
    deploy.mailbox.append(raw_of("six-fan-pdfs"), at("2025-12-09 09:00"))
    started = time.monotonic()
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    assert time.monotonic() - started < 5
    [app] = deploy.json("triage", "list")
    assert [f["name"] for f in app["files"]] == [f"form{i}.pdf" for i in range(6)]
    assert deploy.json("quarantine", "list") == []


def test_a_message_over_its_budget_is_quarantined_naming_the_stage(deploy: Env) -> None:
    """The check worker stops on the first file: the message's 2 s run out in the
    check stage, it is quarantined with that reason, and the next one flows on."""
    assert deploy.mailbox is not None
    deploy.config.write_text(deploy.config.read_text() + "\n[limits]\nmessage_seconds = 2\n", encoding="utf-8")
    deploy.mailbox.append(raw_of("six-fan-pdfs"), at("2025-12-09 09:00"))
    deploy.mailbox.append(mail("คำขอปกติ", sender="normal@example.com").as_bytes(), at("2025-12-09 09:01"))
    started = time.monotonic()
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00", env={"MAILINTAKE_FAULT": "in_check:1:stall"})
    assert time.monotonic() - started < 10
    [q] = deploy.json("quarantine", "list")
    assert q["stage"] == "check" and "the message took longer than its 2 s (at check)" in q["error"]
    assert [a["subject"] for a in deploy.json("triage", "list")] == ["คำขอปกติ"]
