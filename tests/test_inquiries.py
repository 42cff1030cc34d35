"""Inquiry answers in Thai and English (R28, issue 13), against Dovecot and the
SMTP sink with --now: the clerk answers with --th and --en and the mail the
sink received carries both, Thai first; a Thai-only answer says in English
that it is in Thai and offers an English one; an answer with no Thai is
refused; the FAQ takes both languages and publishes them."""

from __future__ import annotations

import json

import pytest
from conftest import Env
from mails import at, mail
from mails import subject_of as subject
from mails import text_of as text

OFFICE = """
[users]
somchai = ["clerk"]
"""
CLERK = {"MAILINTAKE_USER": "somchai"}
TID = "SRB-2568-000001"
NO_THAI = "Error: the Thai answer has no Thai letters: write it in Thai with --th (the English goes in --en)"
TH, EN = "สำนักงานเปิดวันจันทร์ถึงวันศุกร์ ไม่เปิดวันเสาร์ค่ะ", "We are open Monday to Friday, not on Saturdays."


@pytest.fixture
def asked(deploy: Env) -> Env:
    """An inquiry (no files, no service) received Tue 9 Dec 2025 09:00."""
    assert deploy.mailbox is not None
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    question = mail("Opening hours", body="Are you open on Saturdays?\n", sender="Anna <anna@example.com>")
    deploy.mailbox.append(question.as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    assert deploy.json("triage", "show", TID)["kind"] == "inquiry"
    return deploy


def test_an_answer_in_both_languages_reaches_the_citizen_thai_first(asked: Env) -> None:
    assert asked.smtp is not None
    now = "2025-12-09T11:00:00+07:00"
    out = asked.run("inquiries", "answer", TID, "--th", TH, "--en", EN, "--now", now, env=CLERK)
    assert out.stdout.strip() == f"{TID}: answered"
    sent = asked.smtp.messages()[-1]
    assert str(sent["To"]).strip("<>") == "anna@example.com"
    assert subject(sent) == f"[{TID}] ตอบข้อสอบถาม / Answer to your question"
    body = text(sent)
    assert body.index(TH) < body.index(EN)
    assert "on request" not in body and "หากต้องการคำตอบเป็นภาษาอังกฤษ" not in body
    shown = asked.json("triage", "show", TID)
    assert shown["status"] == "answered"
    [event] = [e for e in shown["events"] if e["action"] == "answered"]
    assert json.loads(event["detail"]) == {"answer": TH, "answer_en": EN}


def test_a_thai_only_answer_offers_english_and_an_answer_without_thai_is_refused(asked: Env) -> None:
    assert asked.smtp is not None
    now = "2025-12-09T11:00:00+07:00"
    refused = asked.run("inquiries", "answer", TID, "--th", EN, "--now", now, ok=False, env=CLERK)
    assert refused.exit_code == 1
    assert refused.output.strip() == NO_THAI
    # With an English half beside it, or only digits, the Thai half still needs Thai letters.
    for th in ("Hello", "12345", "๑๒๓๔๕"):
        both = asked.run("inquiries", "answer", TID, "--th", th, "--en", "World", "--now", now, ok=False, env=CLERK)
        assert both.exit_code == 1 and both.output.strip() == NO_THAI
    empty = asked.run("inquiries", "answer", TID, "--en", EN, "--now", now, ok=False, env=CLERK)
    assert empty.exit_code == 1 and "the Thai answer is empty" in empty.output
    assert asked.json("triage", "show", TID)["status"] == "received"

    answer = asked.tmp / "answer.txt"
    answer.write_text(TH, encoding="utf-8")
    asked.run("triage", "reply", TID, "--file", str(answer), "--now", now, env=CLERK)
    body = text(asked.smtp.messages()[-1])
    assert TH in body
    assert "Our answer is above, in Thai. If you would like it in English, reply to this email" in body
    assert "หากต้องการคำตอบเป็นภาษาอังกฤษ โปรดตอบกลับอีเมลนี้" in body


def test_the_faq_is_published_in_thai_and_english(asked: Env) -> None:
    now = "2025-12-09T11:00:00+07:00"
    asked.run("inquiries", "answer", TID, "--th", TH, "--en", EN, "--now", now, env=CLERK)
    half = asked.run("inquiries", "faq", "add", TID, "--question", "เปิดวันเสาร์หรือไม่", "--answer", "ไม่เปิด", ok=False, env=CLERK)
    assert half.exit_code == 2 and "--question-en" in half.output
    blank = asked.run(
        "inquiries", "faq", "add", TID, "--question", "เปิดวันเสาร์หรือไม่", "--answer", "ไม่เปิด",
        "--question-en", " ", "--answer-en", "No.", ok=False, env=CLERK,
    )  # fmt: skip
    assert blank.exit_code == 1 and "published in Thai and English" in blank.output
    assert asked.json("inquiries", "faq") == []
    asked.run(
        "inquiries", "faq", "add", TID, "--question", "เปิดวันเสาร์หรือไม่", "--answer", "ไม่เปิดค่ะ",
        "--question-en", "Open on Saturdays?", "--answer-en", "No, Monday to Friday.", env=CLERK,
    )  # fmt: skip
    [entry] = asked.json("inquiries", "faq")
    assert (entry["question"], entry["answer"], entry["question_en"], entry["answer_en"]) == (
        "เปิดวันเสาร์หรือไม่",
        "ไม่เปิดค่ะ",
        "Open on Saturdays?",
        "No, Monday to Friday.",
    )
    published = asked.run("inquiries", "faq", "--publish").stdout
    assert published.index("ถาม: เปิดวันเสาร์หรือไม่") < published.index("Q: Open on Saturdays?")
    assert "A: No, Monday to Friday." in published and "ตอบ: ไม่เปิดค่ะ" in published
    assert "SRB-" not in published and not published.startswith("1")


def test_the_faq_shows_each_entry_number_first_and_takes_thai_in_the_thai_fields(asked: Env) -> None:
    now = "2025-12-09T11:00:00+07:00"
    asked.run("inquiries", "answer", TID, "--th", TH, "--en", EN, "--now", now, env=CLERK)
    english = asked.run(
        "inquiries", "faq", "add", TID, "--question", "Open on Saturdays?", "--answer", "ไม่เปิดค่ะ",
        "--question-en", "Open on Saturdays?", "--answer-en", "No.", ok=False, env=CLERK,
    )  # fmt: skip
    assert english.exit_code == 1
    assert english.output.strip() == (
        "Error: --question is the Thai text of the entry and has no Thai letters: write it in Thai (English goes in --question-en)"
    )
    digits = asked.run(
        "inquiries", "faq", "add", TID, "--question", "เปิดวันเสาร์หรือไม่", "--answer", "No, 0-5.",
        "--question-en", "Open on Saturdays?", "--answer-en", "No.", ok=False, env=CLERK,
    )  # fmt: skip
    assert digits.exit_code == 1 and "--answer is the Thai text of the entry and has no Thai letters" in digits.output
    assert asked.json("inquiries", "faq") == []
    for question in ("เปิดวันเสาร์หรือไม่", "เปิดวันอาทิตย์หรือไม่"):
        asked.run(
            "inquiries", "faq", "add", TID, "--question", question, "--answer", "ไม่เปิดค่ะ",
            "--question-en", "Open at weekends?", "--answer-en", "No.", env=CLERK,
        )  # fmt: skip
    first, second = asked.json("inquiries", "faq")
    asked.run("inquiries", "faq", "remove", str(first["id"]), env=CLERK)
    # The listing starts each entry with the number `faq remove` takes.
    shown = asked.run("inquiries", "faq").stdout.splitlines()
    assert shown[0].split() == [str(second["id"]), "ถาม:", "เปิดวันอาทิตย์หรือไม่"]
    assert shown[0].startswith(f"{second['id']} ") and second["id"] == 2
    assert shown[4].strip() == f"(from {TID}, added by somchai at {second['added_at']})"
    assert asked.run("inquiries", "faq", "list").stdout.splitlines() == shown
    asked.run("inquiries", "faq", "remove", shown[0].split()[0], env=CLERK)
    assert asked.json("inquiries", "faq") == []
