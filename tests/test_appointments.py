"""Appointments at the counter (R10, issue 13; seed 002's queue model) against
Dovecot and the SMTP sink, through the days with --now: a medium-risk
acknowledgement says how to ask for an appointment and a reply "นัดหมาย" gets
an offer of free slots, numbered, never on a weekend or a holiday; a reply with
a slot's number books it, with a queue number and an iCalendar invitation read
back with ``icalendar``; a full slot is refused with the next free ones; the
reminder goes the working day before, once; either side cancels and the slot is
free again; ``appointments list --json`` is the day's queue; ``verify-identity
--method in-person`` on the day links the booking.

December 2025: Fri 5 is Father's Day and Wed 10 Constitution Day (government
holidays); the office offers from the next working day, two slots a day of one
visitor each (the test's ``[[appointments.kinds]]``).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

import icalendar
import pytest
from conftest import Env
from mails import at, mail
from mails import attachments_of as attachments
from mails import subject_of as subject
from mails import text_of as text

from mailintake.base.config import load
from mailintake.base.data import applications
from mailintake.base.deployment import Deployment
from mailintake.base.errors import ConfigError
from mailintake.desk import appointments as desk_appointments
from mailintake.desk import slots
from mailintake.desk.office import Office

OFFICE = """
[appointments]
place_th = "เทศบาลตำบลบ้านใหม่ ช่องบริการที่ 2"
place_en = "Ban Mai Subdistrict Municipality, counter 2"
offer_count = 4
[[appointments.kinds]]
id = "identity"
name_th = "แสดงตนพร้อมบัตรประจำตัวประชาชน"
name_en = "Show your ID card in person"
slots = ["09:00", "10:00"]
minutes = 30
per_slot = 1
per_day = 2
bring_th = "กรุณานำบัตรประจำตัวประชาชนฉบับจริงมาด้วย"
bring_en = "Please bring your original ID card."

[users]
somchai = ["clerk"]
"""
CLERK = {"MAILINTAKE_USER": "somchai"}
TID, TID2 = "SRB-2568-000001", "SRB-2568-000002"
CITIZEN, OTHER = "somchai.jaidee@example.com", "malee@example.com"


@pytest.fixture
def office(deploy: Env) -> Env:
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    return deploy


def apply(office: Env, sender: str, when: str) -> None:
    """An [EVT] event permit (a medium-risk service) sent at ``when`` and swept."""
    assert office.mailbox is not None
    office.mailbox.append(mail("[EVT] ขออนุญาตจัดงานวัด", sender=f"ผู้ยื่น <{sender}>").as_bytes(), at(when))
    office.run("sweep", "--now", when.replace(" ", "T") + ":30+07:00")


def reply(
    office: Env, tid: str, body: str, when: str, sender: str = CITIZEN, mid: str | None = None, to: Message | None = None
) -> bytes:
    """The applicant's reply (threaded on our mail ``to`` when given, as a mail client does)."""
    assert office.mailbox is not None
    threads = {"In-Reply-To": str(to["Message-ID"]), "References": str(to["Message-ID"])} if to is not None else None
    raw = mail(f"Re: [{tid}] นัดหมาย", body=body, sender=f"ผู้ยื่น <{sender}>", mid=mid, headers=threads).as_bytes()
    office.mailbox.append(raw, at(when))
    office.run("sweep", "--now", when.replace(" ", "T") + ":30+07:00")
    return raw


def last_to(office: Env, address: str) -> Message:
    assert office.smtp is not None
    mine = [m for m in office.smtp.messages() if address in str(m["To"])]
    assert mine, f"no mail to {address}"
    return mine[-1]


def invitation(m: Message) -> tuple[icalendar.Calendar, Message]:
    parts = [p for p in m.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in m.walk()]
    data = attachments(m)[parts[0].get_filename() or ""]
    cal = icalendar.Calendar.from_ical(data)
    assert isinstance(cal, icalendar.Calendar)
    return cal, parts[0]


def events(office: Env, tid: str, action: str) -> list[dict[str, Any]]:
    out = []
    for e in office.json("triage", "show", tid)["events"]:
        if e["action"] == action:
            detail = e.get("detail")
            out.append({**e, "detail": json.loads(detail) if isinstance(detail, str) else detail})
    return out


def again(office: Env, tid: str, when: str) -> str | None:
    """The desk reads the application's last reply again (a reply processed twice)."""
    dep = Deployment.build(load(office.config))
    try:
        with dep.registry.transaction():
            app = applications.get(dep.registry, tid)
            assert app is not None
            return desk_appointments.on_reply(Office(dep), app, at(when))
    finally:
        dep.close()


def queue_of(office: Env, day: str, now: str = "2025-12-05T09:00:00+07:00") -> list[dict[str, Any]]:
    """The counter's list of ``day`` as read at ``now`` (a booking of a day gone by shows as missed)."""
    out = office.run("appointments", "list", "--date", day, "--now", now, "--json", env=CLERK)
    return list(json.loads(out.stdout))


def test_an_ack_offers_the_booking_and_a_reply_books_with_a_queue_number_and_an_invitation(office: Env) -> None:
    apply(office, CITIZEN, "2025-12-04 10:00")
    ack = text(last_to(office, CITIZEN))
    assert 'พิมพ์คำว่า "นัดหมาย"' in ack and 'reply with the word "appointment"' in ack

    # "นัดหมาย" on the first line asks for an offer; the quoted acknowledgement is not read.
    reply(office, TID, "ขอนัดหมายแสดงตนครับ\nสวัสดีครับ\n\nOn Thu, 4 Dec 2025 saraban wrote:\n> 3. quoted\n", "2025-12-04 14:00")
    offer = last_to(office, CITIZEN)
    assert subject(offer) == f"[{TID}] เลือกวันเวลานัดหมาย / Choose an appointment time"
    body = text(offer)
    assert "1. วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 09:00-09:30 น." in body
    assert "2. วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 10:00-10:30 น." in body
    assert "3. วันอังคารที่ 9 ธันวาคม 2568 เวลา 09:00-09:30 น." in body
    assert "4. Tuesday 9 December 2025, 10:00-10:30" in body and "5." not in body.split("วิธีจอง")[0]
    # Never a weekend or a holiday: Fri 5 (Father's Day), Sat 6, Sun 7, Wed 10 (Constitution Day).
    for day in ("5 ธันวาคม", "6 ธันวาคม", "7 ธันวาคม", "10 ธันวาคม", "December 5", "5 December", "10 December"):
        assert day not in body
    assert events(office, TID, "appointment_offered")[0]["detail"]["why"] == "asked"
    assert again(office, TID, "2025-12-04 14:10") is None  # the same reply read again: no second offer
    assert len(events(office, TID, "appointment_offered")) == 1

    # The number on the first line of the reply's own text books that slot (Thai digits too).
    booking = reply(office, TID, "๒\n\n> 1. วันจันทร์ที่ 8 ธันวาคม 2568\n", "2025-12-04 15:00", mid="<book-1@example.com>")
    confirmed = last_to(office, CITIZEN)
    assert subject(confirmed).startswith(f"[{TID}] ยืนยันนัดหมาย คิวที่ 1 วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 10:00-10:30 น.")
    assert "Queue number: 1" in text(confirmed) and "หมายเลขคิว: 1" in text(confirmed)
    cal, part = invitation(confirmed)
    assert part.get_param("method") == "REQUEST"
    assert str(cal["METHOD"]) == "REQUEST"
    event = cal.walk("VEVENT")[0]
    start = event.decoded("DTSTART")
    assert start == datetime.fromisoformat("2025-12-08T10:00:00+07:00") and str(start.tzinfo) == "Asia/Bangkok"
    assert event.decoded("DTEND") == datetime.fromisoformat("2025-12-08T10:30:00+07:00")
    assert str(event["UID"]) == f"{TID.lower()}.main.2025-12-08.q1@banmai.go.th"
    assert "ช่องบริการที่ 2" in str(event["LOCATION"]) and "counter 2" in str(event["LOCATION"])
    assert "คิวที่ 1" in str(event["SUMMARY"]) and "queue No. 1" in str(event["SUMMARY"])
    assert [e["detail"]["queue"] for e in events(office, TID, "appointment_booked")] == [1]

    # The same reply again books nothing more: once by the mailbox (a duplicate), once at the desk.
    assert office.mailbox is not None
    office.mailbox.append(booking, at("2025-12-04 15:00"))
    office.run("sweep", "--now", "2025-12-04T15:10:00+07:00")
    assert again(office, TID, "2025-12-04 15:20") is None
    assert len(events(office, TID, "appointment_booked")) == 1

    day = queue_of(office, "2025-12-08")
    assert [(r["queue_number"], r["time"], r["transaction_id"], r["kind"], r["status"]) for r in day] == [
        (1, "10:00", TID, "identity", "booked")
    ]
    assert queue_of(office, "2025-12-09") == []


def test_a_full_slot_is_refused_with_the_next_free_ones(office: Env) -> None:
    apply(office, CITIZEN, "2025-12-04 10:00")
    apply(office, OTHER, "2025-12-04 10:30")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    office.run("appointments", "offer", TID2, "--kind", "identity", "--now", "2025-12-04T11:05:00+07:00", env=CLERK)
    assert "1. วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 09:00-09:30 น." in text(last_to(office, OTHER))
    reply(office, TID, "1", "2025-12-04 12:00")
    # Both were offered Monday 09:00; the first took it, the second is refused with what is left.
    reply(office, TID2, "1 please", "2025-12-04 12:30", sender=OTHER)
    refused = last_to(office, OTHER)
    assert subject(refused) == f"[{TID2}] ช่วงเวลาที่เลือกเต็มแล้ว เลือกเวลาใหม่ / That time is full: please choose another"
    body = text(refused)
    assert "Monday 8 December 2025, 09:00-09:30 is fully booked" in body
    listed = body.split("ช่วงเวลาที่ว่าง")[1].split("วิธีจอง")[0]
    assert listed.splitlines()[1].strip() == "1. วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 10:00-10:30 น."
    assert "8 ธันวาคม 2568 เวลา 09:00" not in listed
    assert events(office, TID2, "appointment_refused_full")[0]["detail"]["slot"] == "2025-12-08 09:00"
    reply(office, TID2, "1", "2025-12-04 13:00", sender=OTHER)
    assert "คิวที่ 2" in subject(last_to(office, OTHER))
    day = queue_of(office, "2025-12-08")
    assert [(r["queue_number"], r["time"], r["transaction_id"]) for r in day] == [(1, "09:00", TID), (2, "10:00", TID2)]
    # The day is full (two a day): a new offer starts on Tuesday.
    apply(office, "third@example.com", "2025-12-04 13:30")
    office.run("appointments", "offer", "SRB-2568-000003", "--now", "2025-12-04T14:00:00+07:00", env=CLERK)
    assert "1. วันอังคารที่ 9 ธันวาคม 2568 เวลา 09:00-09:30 น." in text(last_to(office, "third@example.com"))
    # A clerk cannot offer again while a booking stands.
    again = office.run("appointments", "offer", TID, "--now", "2025-12-04T14:10:00+07:00", env=CLERK, ok=False)
    assert again.exit_code == 1 and "already booked" in again.output and "appointments cancel" in again.output


def test_the_reminder_goes_the_working_day_before_and_once(office: Env) -> None:
    assert office.smtp is not None
    apply(office, CITIZEN, "2025-12-04 10:00")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    reply(office, TID, "3", "2025-12-04 12:00")  # Tuesday 9 December, 09:00
    assert "9 ธันวาคม 2568 เวลา 09:00-09:30" in subject(last_to(office, CITIZEN))

    def run(now: str) -> list[Any]:
        out = json.loads(office.run("deadlines", "run", "--now", now, "--json", env=CLERK).stdout)
        return list(out["appointment_reminders"])

    assert run("2025-12-05T10:00:00+07:00") == []  # Father's Day: no job for it
    assert run("2025-12-06T10:00:00+07:00") == []  # Saturday
    assert run("2025-12-08T08:00:00+07:00") == []  # Monday, before opening time
    sent = len(office.smtp.messages())
    done = run("2025-12-08T08:31:00+07:00")
    assert [(r["transaction_id"], r["day"]) for r in done] == [(TID, "2025-12-09")]
    reminder = last_to(office, CITIZEN)
    assert subject(reminder) == (
        f"[{TID}] เตือนนัดหมาย คิวที่ 1 วันอังคารที่ 9 ธันวาคม 2568 เวลา 09:00-09:30 น. / "
        "Reminder: your appointment, queue No. 1, Tuesday 9 December 2025, 09:00-09:30"
    )
    assert run("2025-12-08T08:31:00+07:00") == [] and run("2025-12-08T15:00:00+07:00") == []
    assert len(office.smtp.messages()) == sent + 1
    assert len(events(office, TID, "appointment_reminded")) == 1


def test_either_side_cancels_and_the_slot_is_free_again(office: Env) -> None:
    apply(office, CITIZEN, "2025-12-04 10:00")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    reply(office, TID, "1", "2025-12-04 12:00")
    booked_cal, _ = invitation(last_to(office, CITIZEN))
    uid = str(booked_cal.walk("VEVENT")[0]["UID"])

    # The applicant replies "ยกเลิก" to the confirmation.
    reply(office, TID, "ยกเลิกครับ\n\n> ยืนยันการนัดหมายของท่านแล้ว", "2025-12-04 13:00")
    told = last_to(office, CITIZEN)
    assert subject(told).startswith(f"[{TID}] ยกเลิกนัดหมาย คิวที่ 1") and "cancelled as you asked" in text(told)
    cal, part = invitation(told)
    assert part.get_param("method") == "CANCEL" and str(cal["METHOD"]) == "CANCEL"
    event = cal.walk("VEVENT")[0]
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 1 and str(event["STATUS"]) == "CANCELLED"
    assert queue_of(office, "2025-12-08")[0]["status"] == "cancelled"
    assert events(office, TID, "appointment_cancelled")[0]["actor"] == "applicant"

    # Monday 09:00 is free again: offered and booked anew, with the next queue number of the day.
    office.run("appointments", "offer", TID, "--now", "2025-12-04T14:00:00+07:00", env=CLERK)
    assert "1. วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 09:00-09:30 น." in text(last_to(office, CITIZEN))
    reply(office, TID, "1", "2025-12-04 14:30")
    assert "คิวที่ 2" in subject(last_to(office, CITIZEN))

    # The clerk cancels, with a reason the applicant reads.
    out = office.run(
        "appointments", "cancel", TID, "--reason", "ปิดสำนักงานเพื่ออบรม", "--now", "2025-12-05T09:00:00+07:00", env=CLERK
    )
    assert "cancelled" in out.output
    told = last_to(office, CITIZEN)
    assert "เหตุผล: ปิดสำนักงานเพื่ออบรม" in text(told) and "The office has cancelled your appointment" in text(told)
    assert str(invitation(told)[0]["METHOD"]) == "CANCEL"
    assert [r["status"] for r in queue_of(office, "2025-12-08")] == ["cancelled", "cancelled"]
    assert events(office, TID, "appointment_cancelled")[-1]["actor"] == "somchai"
    none = office.run("appointments", "cancel", TID, "--now", "2025-12-05T09:05:00+07:00", env=CLERK, ok=False)
    assert none.exit_code == 1 and none.output.strip() == f"Error: {TID}: no appointment booked"


def test_verify_identity_in_person_links_the_days_appointment(office: Env) -> None:
    apply(office, CITIZEN, "2025-12-04 10:00")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    reply(office, TID, "2", "2025-12-04 12:00")  # Monday 8 December, 10:00
    office.run(
        "triage", "verify-identity", TID, "--method", "in-person", "--note", "บัตรประชาชนตรงกัน",
        "--now", "2025-12-08T10:05:00+07:00", env=CLERK,
    )  # fmt: skip
    booked = queue_of(office, "2025-12-08")[0]
    assert booked["status"] == "attended"
    verified = events(office, TID, "identity_verified")
    assert verified[0]["detail"]["appointment"] == booked["appointment_id"]
    attended = events(office, TID, "appointment_attended")
    assert attended[0]["actor"] == "somchai" and attended[0]["detail"]["queue"] == 1
    assert office.json("triage", "show", TID)["identity"]["appointment"] == booked["appointment_id"]


@pytest.mark.parametrize(
    "body,offered,wish",
    [
        ("2\n", 4, ("book", 2)),
        ("เลือกข้อ ๓ ครับ\n", 4, ("book", 3)),
        ("\n\n  4.\n> 1. quoted", 4, ("book", 4)),
        ("Slot 2, thank you\n", 4, ("book", 2)),
        ("2 ขอบคุณครับ\n", 4, ("book", 2)),
        ("9\n", 4, ("unclear", 0)),  # not a slot offered: the list again
        ("2 files attached\n", 4, ("unclear", 0)),  # a number in a sentence books nothing
        ("2 files attached\n", 0, None),  # ...and with no offer open says nothing
        ("ส่งเอกสารเพิ่ม 3 ไฟล์\n2\n", 4, ("unclear", 0)),  # only the first line books
        ("เรียน เจ้าหน้าที่\n1\n", 4, ("unclear", 0)),
        ("ขอจองข้อ 1 ครับ\n", 4, ("book", 1)),  # a booking word beside the number
        ("Book 2 please\n", 4, ("book", 2)),
        ("ขอจองวันจันทร์ครับ\n", 4, ("unclear", 0)),  # a booking word, no number
        ("ไม่ยกเลิกครับ จะไปตามนัด\n", 0, None),  # "I am NOT cancelling"
        ("I don't want to cancel, see you Monday\n", 0, None),
        ("Never mind, I will not cancel\n", 0, None),
        ("มาไม่ได้ ขอยกเลิกครับ\n", 0, ("cancel", 0)),  # the negation is another clause's
        ("Attached is my ID card photo, so I do not need an appointment.\n", 0, None),
        ("ไม่ต้องนัดหมายครับ ส่งรูปบัตรแล้ว\n", 0, None),
        ("No need for an appointment\n", 0, None),
        ("ส่งรูปบัตรประชาชนมาแล้วครับ\nขอนัดหมายด้วย\n", 0, None),  # an ask word only on the first line
        ("ขอนัดหมายใหม่ครับ\n", 0, ("ask", 0)),
        ("Please cancel my appointment\n", 4, ("cancel", 0)),
        ("ขอบคุณครับ\nOn Mon, 8 Dec 2025 saraban wrote:\n> 1. วันจันทร์\n", 4, None),
        ("นัดหมาย 09:00 ได้ไหม\n", 0, ("ask", 0)),
        ("Cancel please\n", 4, ("cancel", 0)),
        ("ขอบคุณ\n> ตอบกลับคำว่า นัดหมาย\n", 0, None),  # the word only in the quoted mail
    ],
)
def test_what_a_reply_says(body: str, offered: int, wish: tuple[str, int] | None) -> None:
    cfg = load(None, environ={}).appointments  # the shipped words
    assert slots.read_reply(slots.own_text(body), cfg, offered) == wish


def test_the_clerk_books_for_a_caller_and_the_office_day_has_its_own_cap(office: Env) -> None:
    # The counter takes one visitor a day of any kind: a second kind of visit has room, the day has not.
    office.config.write_text(
        office.config.read_text().replace("offer_count = 4\n", "offer_count = 4\nper_day = 1\n")
        + '[[appointments.kinds]]\nid = "collect"\nname_th = "รับใบอนุญาต"\nname_en = "Collect a permit"\n'
        + 'slots = ["11:00"]\nminutes = 30\nper_slot = 1\nper_day = 1\n',
        encoding="utf-8",
    )
    apply(office, CITIZEN, "2025-12-04 10:00")
    apply(office, OTHER, "2025-12-04 10:30")
    # A caller: the clerk books Monday 10:00 and the applicant gets the confirmation with its invitation.
    done = office.run("appointments", "book", TID, "--at", "2025-12-08 10:00", "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    assert "booked 2025-12-08 10:00, queue 1" in done.stdout
    confirmed = last_to(office, CITIZEN)
    assert "คิวที่ 1" in subject(confirmed)
    assert [n for n in attachments(confirmed) if n.endswith(".ics")]
    booked = events(office, TID, "appointment_booked")[0]
    assert booked["actor"] == "somchai"
    # Monday is full for the office, whatever the kind; a bad time and a second booking are refused in one line.
    full = office.run(
        "appointments",
        "book",
        TID2,
        "--at",
        "2025-12-08 11:00",
        "--kind",
        "collect",
        "--now",
        "2025-12-04T11:10:00+07:00",
        env=CLERK,
        ok=False,
    )
    assert full.exit_code == 1 and "2025-12-08 11:00: full; free: 2025-12-09 11:00" in full.output
    odd = office.run(
        "appointments", "book", TID2, "--at", "2025-12-09 09:15", "--now", "2025-12-04T11:10:00+07:00", env=CLERK, ok=False
    )
    assert odd.exit_code == 1 and "not a slot of identity: 09:00, 10:00" in odd.output
    twice = office.run(
        "appointments", "book", TID, "--at", "2025-12-09 09:00", "--now", "2025-12-04T11:10:00+07:00", env=CLERK, ok=False
    )
    assert "already booked" in twice.output
    office.run("appointments", "offer", TID2, "--kind", "collect", "--now", "2025-12-04T11:20:00+07:00", env=CLERK)
    assert "1. วันอังคารที่ 9 ธันวาคม 2568 เวลา 11:00-11:30 น." in text(last_to(office, OTHER))
    assert "8 ธันวาคม" not in text(last_to(office, OTHER))
    # What to bring is the kind's: the ID card for identity, nothing said for this collect kind.
    assert "กรุณานำบัตรประจำตัวประชาชนฉบับจริงมาด้วย" in text(confirmed) and "Please bring your original ID card." in text(confirmed)
    assert "ID card" not in text(last_to(office, OTHER)) and "บัตรประจำตัวประชาชน" not in text(last_to(office, OTHER))


def deadlines(office: Env, now: str) -> dict[str, Any]:
    return dict(json.loads(office.run("deadlines", "run", "--now", now, "--json", env=CLERK).stdout))


def test_a_missed_booking_no_longer_holds_the_applicant(office: Env) -> None:
    apply(office, CITIZEN, "2025-12-04 10:00")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    reply(office, TID, "3", "2025-12-04 12:00")  # Tuesday 9 December, 09:00
    assert "9 ธันวาคม 2568 เวลา 09:00-09:30" in subject(last_to(office, CITIZEN))
    # The day goes by with no visit: before any job has run, the counter's list already says missed.
    day = json.loads(
        office.run(
            "appointments", "list", "--date", "2025-12-09", "--now", "2025-12-11T08:00:00+07:00", "--json", env=CLERK
        ).stdout
    )
    assert [r["status"] for r in day] == ["missed"]
    # The applicant asks again on the 11th: a new offer, not the old confirmation.
    reply(office, TID, "ขอนัดหมายใหม่ครับ", "2025-12-11 09:00")
    again_offer = last_to(office, CITIZEN)
    assert subject(again_offer) == f"[{TID}] เลือกวันเวลานัดหมาย / Choose an appointment time"
    assert "1. วันศุกร์ที่ 12 ธันวาคม 2568 เวลา 09:00-09:30 น." in text(again_offer)
    # The clerk may offer again; there is nothing left to cancel.
    office.run("appointments", "offer", TID, "--now", "2025-12-11T09:30:00+07:00", env=CLERK)
    gone = office.run("appointments", "cancel", TID, "--now", "2025-12-11T09:40:00+07:00", env=CLERK, ok=False)
    assert gone.exit_code == 1 and "no appointment booked" in gone.output
    assert events(office, TID, "appointment_cancelled") == []
    # The deadline job (the sweep's, after the reply was read) marked it missed, once, with an audit event.
    missed = events(office, TID, "appointment_missed")
    assert len(missed) == 1 and missed[0]["detail"]["day"] == "2025-12-09" and missed[0]["actor"] == "system"
    assert deadlines(office, "2025-12-11T10:05:00+07:00")["appointments_missed"] == []
    assert len(events(office, TID, "appointment_missed")) == 1
    assert [r["status"] for r in queue_of(office, "2025-12-09")] == ["missed"]
    # A new booking is taken.
    reply(office, TID, "1", "2025-12-11 10:30")
    assert subject(last_to(office, CITIZEN)).startswith(f"[{TID}] ยืนยันนัดหมาย คิวที่ 1 วันศุกร์ที่ 12 ธันวาคม 2568")


def test_a_reply_books_from_the_offer_mail_it_answers(office: Env) -> None:
    apply(office, CITIZEN, "2025-12-04 10:00")
    apply(office, OTHER, "2025-12-04 10:30")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    first = last_to(office, CITIZEN)  # 1. Mon 09:00  2. Mon 10:00  3. Tue 09:00  4. Tue 10:00
    office.run("appointments", "book", TID2, "--at", "2025-12-08 09:00", "--now", "2025-12-04T11:10:00+07:00", env=CLERK)
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:20:00+07:00", env=CLERK)
    assert "2. วันอังคารที่ 9 ธันวาคม 2568 เวลา 09:00-09:30 น." in text(last_to(office, CITIZEN))
    # "2" answering the first offer's mail is that mail's 2, Monday 10:00, not the newer offer's.
    reply(office, TID, "2", "2025-12-04 12:00", to=first)
    assert "8 ธันวาคม 2568 เวลา 10:00-10:30" in subject(last_to(office, CITIZEN))
    assert events(office, TID, "appointment_booked")[0]["detail"]["time"] == "10:00"


def test_a_no_or_a_negation_does_not_cancel_nor_ask(office: Env) -> None:
    assert office.smtp is not None
    apply(office, CITIZEN, "2025-12-04 10:00")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    reply(office, TID, "1", "2025-12-04 12:00")
    sent = len(office.smtp.messages())
    reply(office, TID, "ไม่ยกเลิกครับ จะไปตามนัด\n\n> หากต้องการยกเลิก", "2025-12-04 13:00")
    assert len(office.smtp.messages()) == sent and events(office, TID, "appointment_cancelled") == []
    assert queue_of(office, "2025-12-08")[0]["status"] == "booked"
    # Another applicant sends the photo and says no appointment is needed: no offer.
    apply(office, OTHER, "2025-12-04 14:00")
    sent = len(office.smtp.messages())
    reply(office, TID2, "Attached is my ID card photo, so I do not need an appointment.", "2025-12-04 14:30", sender=OTHER)
    reply(office, TID2, "ส่งรูปบัตรประชาชนแล้วครับ\nถ้าจำเป็นค่อยนัดหมาย", "2025-12-04 14:40", sender=OTHER)
    assert len(office.smtp.messages()) == sent and events(office, TID2, "appointment_offered") == []


def test_the_negation_words_are_data() -> None:
    cfg = load(None, environ={}).appointments
    assert {"ไม่", "not", "n't", "never", "ไม่ต้อง", "no need"} <= set(cfg.negation_words)
    assert slots.read_reply(["ไม่ยกเลิก"], cfg, 0) is None
    assert slots.read_reply(["ไม่ยกเลิก"], dataclasses.replace(cfg, negation_words=("nope",)), 0) == ("cancel", 0)


def test_an_unclear_booking_reply_gets_the_free_slots_again_once(office: Env) -> None:
    assert office.smtp is not None
    apply(office, CITIZEN, "2025-12-04 10:00")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    offered = last_to(office, CITIZEN)
    reply(office, TID, "เรียน เจ้าหน้าที่\n1\n", "2025-12-04 12:00", to=offered)
    answer = last_to(office, CITIZEN)
    assert "could not read a slot number" in subject(answer)
    body = text(answer)
    assert "We could not read a slot number: reply with just the number" in body
    assert "1. วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 09:00-09:30 น." in body and "4. Tuesday 9 December 2025, 10:00-10:30" in body
    unclear = events(office, TID, "appointment_reply_unclear")
    assert len(unclear) == 1 and unclear[0]["detail"]["first_line"] == "เรียน เจ้าหน้าที่"
    assert events(office, TID, "appointment_booked") == []
    # Once per offer: neither a number past the list nor another sentence is answered again.
    sent = len(office.smtp.messages())
    reply(office, TID, "9", "2025-12-04 12:30", to=offered)
    reply(office, TID, "ส่งเอกสารเพิ่ม 3 ไฟล์", "2025-12-04 12:40", to=answer)
    assert len(office.smtp.messages()) == sent and len(events(office, TID, "appointment_reply_unclear")) == 1
    # A booking word beside the number books.
    reply(office, TID, "ขอจองข้อ 1 ครับ", "2025-12-04 13:00", to=answer)
    assert subject(last_to(office, CITIZEN)).startswith(f"[{TID}] ยืนยันนัดหมาย คิวที่ 1 วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 09:00")


def test_an_offer_spreads_over_days_and_never_lists_more_than_a_day_has_left(office: Env) -> None:
    office.config.write_text(
        office.config.read_text().replace("offer_count = 4\n", "offer_count = 6\nper_day = 3\n")
        + '[[appointments.kinds]]\nid = "documents"\nname_th = "ตรวจเอกสาร"\nname_en = "Check documents"\n'
        + 'slots = ["09:00", "10:00", "11:00", "13:30"]\nminutes = 30\nper_slot = 1\nper_day = 2\n',
        encoding="utf-8",
    )
    senders = [CITIZEN, OTHER, "third@example.com", "fourth@example.com"]
    for n, sender in enumerate(senders):
        apply(office, sender, f"2025-12-04 10:0{n}")

    def listed(sender: str) -> list[str]:
        body = text(last_to(office, sender)).split("Free times")[1].split("To book")[0]
        return [line.strip() for line in body.splitlines() if line.strip()[:2] in {f"{n}." for n in range(1, 10)}]

    # Six slots, two a day: three working days (Wed 10 is Constitution Day).
    office.run("appointments", "offer", TID, "--kind", "documents", "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    assert listed(CITIZEN) == [
        "1. Monday 8 December 2025, 09:00-09:30",
        "2. Monday 8 December 2025, 10:00-10:30",
        "3. Tuesday 9 December 2025, 09:00-09:30",
        "4. Tuesday 9 December 2025, 10:00-10:30",
        "5. Thursday 11 December 2025, 09:00-09:30",
        "6. Thursday 11 December 2025, 10:00-10:30",
    ]
    # Monday: one documents visit booked, the kind has one left; Tuesday: two identity
    # visits booked, the counter (three a day) has one left.
    book = [("SRB-2568-000002", "2025-12-08 09:00", "documents"), ("SRB-2568-000003", "2025-12-09 09:00", "identity")]
    book.append(("SRB-2568-000004", "2025-12-09 10:00", "identity"))
    for tid, when, kind in book:
        office.run("appointments", "book", tid, "--at", when, "--kind", kind, "--now", "2025-12-04T11:10:00+07:00", env=CLERK)
    office.run("appointments", "offer", TID, "--kind", "documents", "--now", "2025-12-04T11:20:00+07:00", env=CLERK)
    assert listed(CITIZEN) == [
        "1. Monday 8 December 2025, 10:00-10:30",
        "2. Tuesday 9 December 2025, 09:00-09:30",
        "3. Thursday 11 December 2025, 09:00-09:30",
        "4. Thursday 11 December 2025, 10:00-10:30",
        "5. Friday 12 December 2025, 09:00-09:30",
        "6. Friday 12 December 2025, 10:00-10:30",
    ]


def test_list_reads_the_dates_the_counter_types_and_triage_show_gives_the_booking(office: Env) -> None:
    apply(office, CITIZEN, "2025-12-04 10:00")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    reply(office, TID, "3", "2025-12-04 12:00")  # Tuesday 9 December, 09:00
    for typed in ("2025-12-09", "20251209", "2568-12-09", "25681209"):
        assert [r["transaction_id"] for r in queue_of(office, typed)] == [TID], typed
    for bad in ("9/12/2025", "2025-13-09", "tomorrow"):
        refused = office.run("appointments", "list", "--date", bad, env=CLERK, ok=False)
        assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1, refused.output
        assert "--date: expected YYYY-MM-DD" in refused.output
    # The text has a header row; --id gives one application's bookings.
    shown = office.run("appointments", "list", "--date", "2568-12-09", env=CLERK).stdout.splitlines()
    assert shown[0].split()[:3] == ["Q", "TIME", "DAY"] and TID in shown[1]
    by_id = json.loads(
        office.run("appointments", "list", "--id", TID.lower(), "--now", "2025-12-05T09:00:00+07:00", "--json", env=CLERK).stdout
    )
    assert [(r["day"], r["time"], r["status"]) for r in by_id] == [("2025-12-09", "09:00", "booked")]
    neither = office.run("appointments", "list", env=CLERK, ok=False)
    assert neither.exit_code == 1 and "--date" in neither.output and "--id" in neither.output
    assert "2025-12-11" in office.run("appointments", "list", "--help").stdout
    assert "2025-12-10" not in office.run("appointments", "--help").stdout
    # triage show, JSON and text: the booking and the last offer.
    app = office.json("triage", "show", TID, "--now", "2025-12-05T09:00:00+07:00")
    assert {k: app["appointment"][k] for k in ("kind", "day", "time", "queue_number", "status")} == {
        "kind": "identity",
        "day": "2025-12-09",
        "time": "09:00",
        "queue_number": 1,
        "status": "booked",
    }
    assert app["appointment_offer"]["slots"][2] == "2025-12-09 09:00" and app["appointment_offer"]["used"] is True
    later = office.json("triage", "show", TID, "--now", "2025-12-11T09:00:00+07:00")
    assert later["appointment"]["status"] == "missed"
    lines = office.run("triage", "show", TID, "--now", "2025-12-05T09:00:00+07:00").stdout
    assert "Appointment:   identity 2025-12-09 09:00, queue 1: booked" in lines
    assert "Last offer:" in lines and "2025-12-08 09:00" in lines


@pytest.mark.parametrize(
    "kind,message",
    [
        ('slots = ["25:00"]\nminutes = 30', "[appointments] kinds[1].slots[0]: expected HH:MM, got '25:00'"),
        ('slots = ["09:00"]\nminutes = "x"', "[appointments] kinds[1].minutes: expected a whole number from 1 to 1000, got 'x'"),
    ],
)
def test_a_kinds_error_names_the_key_and_its_value(tmp_path: Path, kind: str, message: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[[appointments.kinds]]\nid = "identity"\nname_th = "แสดงตน"\nname_en = "In person"\n{kind}\nper_slot = 1\nper_day = 2\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load(cfg, environ={})
    assert message in str(exc.value) and "name_th" not in str(exc.value)


def test_a_day_closed_after_booking_is_released_and_offered_again(office: Env) -> None:
    """A holiday the office adds after a booking (holidays.toml): the deadline job
    cancels the booking with the reason and offers new slots, never marks it missed."""
    apply(office, CITIZEN, "2025-12-04 10:00")
    office.run("appointments", "book", TID, "--at", "2568-12-11 09:00", "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    assert queue_of(office, "2025-12-11")[0]["status"] == "booked"  # the B.E. year read as such
    (office.config.parent / "holidays.toml").write_text(
        '[[holiday]]\ndate = 2025-12-11\nname_th = "วันหยุดพิเศษ"\nname_en = "Special holiday"\nsource = "ครม."\n',
        encoding="utf-8",
    )
    office.config.write_text(
        office.config.read_text().replace("[deployment]", '[hours]\nholidays_file = "holidays.toml"\n\n[deployment]'),
        encoding="utf-8",
    )
    out = json.loads(office.run("deadlines", "run", "--now", "2025-12-08T09:00:00+07:00", "--json", env=CLERK).stdout)
    assert [a["day"] for a in out["appointments_closed"]] == ["2025-12-11"]
    assert queue_of(office, "2025-12-11")[0]["status"] == "cancelled"
    mails = [m for m in office.smtp.messages() if CITIZEN in str(m["To"])] if office.smtp else []
    cancelled, offered = mails[-2], mails[-1]
    assert "The office is closed that day" in text(cancelled)
    assert invitation(cancelled)[0].get("METHOD") == "CANCEL"
    assert "11 December" not in text(offered) and "1. " in text(offered)
    again_run = json.loads(office.run("deadlines", "run", "--now", "2025-12-12T09:00:00+07:00", "--json", env=CLERK).stdout)
    assert again_run["appointments_closed"] == [] and again_run["appointments_missed"] == []


def test_a_booked_applicant_naming_another_slot_is_told_and_the_clerk_gets_clear_refusals(office: Env) -> None:
    apply(office, CITIZEN, "2025-12-04 10:00")
    office.run("appointments", "offer", TID, "--now", "2025-12-04T11:00:00+07:00", env=CLERK)
    offer = last_to(office, CITIZEN)
    reply(office, TID, "1", "2025-12-04 12:00", to=offer)  # Monday 8 December 09:00
    booked = last_to(office, CITIZEN)
    # Booked on Thursday for Monday: Friday the 5th is a holiday, so no reminder can go and none is promised.
    assert "remind you" not in text(booked)
    reply(office, TID, "3", "2025-12-04 13:00", to=offer)
    told = last_to(office, CITIZEN)
    assert "You already have the appointment below" in text(told) and "8 December 2025, 09:00" in text(told)
    assert [r["status"] for r in queue_of(office, "2025-12-08")] == ["booked"]
    # The clerk's --at: a past time, a closed day and a C.E.-looking B.E. slip each say which.
    apply(office, OTHER, "2025-12-04 10:30")

    def refused(at: str) -> str:
        out = office.run("appointments", "book", TID2, "--at", at, "--now", "2025-12-08T11:00:00+07:00", env=CLERK, ok=False)
        assert out.exit_code in (1, 2)
        return out.output

    assert "has gone by" in refused("2025-12-08 09:00")
    assert "the office is closed that day" in refused("2025-12-10 09:00")
    assert "more than a year ahead" in refused("3111-12-15 09:00")
    assert "--at" in refused("tomorrow 09:00")
    assert (
        "no kind of visit ''"
        in office.run(
            "appointments", "offer", TID2, "--kind", "", "--now", "2025-12-08T11:00:00+07:00", env=CLERK, ok=False
        ).output
    )
    assert (
        "no application SRB-2568-999999"
        in office.run("appointments", "list", "--id", "SRB-2568-999999", env=CLERK, ok=False).output
    )
