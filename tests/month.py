"""A replayed month for the statistics tests (issue 14): ``replay_month(env)``
drives a test deployment (``conftest.Env``: the real Dovecot mailbox and the
SMTP sink) through January 2026 with ``--now``, as the office would live it,
and returns what it did (``Month``), so that a test can compute every figure
on its own and compare. ``tests/test_report_monthly.py`` checks the monthly
report with it; the public-site test reuses it (``Month.people`` is every
applicant's name, email, phone and ID number, none of which may be published).

What happens (January 2026 has 20 working days: 1 and 2 Jan are holidays):

- Tue 23 Dec 2025: A0, a CERT application, approved the same day (December's).
- Mon 5 Jan: A1 (CERT) approved the same day (0 working days), its permit
  issued; A2 (CERT) is asked for a document (the information request), the
  applicant sends it on Wed 7 Jan (the clock pauses 2 working days), approved
  Thu 8 Jan (1 working day), its permit issued, revoked on Fri 9 Jan.
- Tue 6 Jan: A3 (CERT, 3 working days, due Fri 9 Jan) lies untouched: the
  delay notice with its OPDC copy goes on Fri 16 Jan; approved Mon 19 Jan
  (9 working days: late).
- Wed 7 Jan: A4 (EVT, fee 200 baht) approved Thu 8 Jan (1 working day), the
  slip comes Fri 9 Jan, finance confirms 200 baht, the permit is issued.
- Wed 7 Jan: A1's applicant answers the satisfaction question with 5.
- Mon 12 Jan: a permit check by email for A1's permit (valid: counted) and for
  a number never issued (not counted).
- Mon 12 Jan 18:00: A5 (TM30) arrives after hours, deemed Tue 13 Jan 08:30,
  acknowledgement due 10:00; the sweep runs only at 11:00 (the one late
  acknowledgement). Rejected Wed 14 Jan (1 working day, within its 1), closed,
  its applicant answers 4.
- Mon 19 Jan: an inquiry arrives and is answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conftest import Env
from mails import at, mail

from samples.make_samples import jpeg, scanned_pdf

OFFICE = """
[users]
somchai = ["clerk"]
malee = { roles = ["approver"], name = "นางมาลี ใจงาม", position = "ปลัดเทศบาลตำบลบ้านใหม่" }
kanya = ["finance"]

[lifecycle]
opdc_email = "delay@opdc.go.th"

[payment]
bank_name = "ธนาคารกรุงไทย"
bank_account = "123-4-56789-0"
account_name = "เทศบาลตำบลบ้านใหม่"
promptpay_id = "0994000123456"
deadline_days = 5

[permits]
password_delay_minutes = 0
"""
CLERK, APPROVER, FINANCE = ({"MAILINTAKE_USER": u} for u in ("somchai", "malee", "kanya"))
MONTH, MONTH_BE, EARLIER = "2026-01", "2569-01", "2025-12"
WORKING_DAYS = [f"2026-01-{d:02d}" for d in (5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 26, 27, 28, 29, 30)]


@dataclass(frozen=True)
class Person:
    """An applicant as the mail gave them: none of it may be published."""

    name: str
    email: str
    phone: str
    id_number: str


@dataclass
class Application:
    """One application as the month lived it (the working days are counted by
    hand from the calendar above, not by the code under test)."""

    tid: str
    service: str
    deemed_on: str  # the working day of deemed receipt, YYYY-MM-DD
    ack_on_time: bool
    decided_on: str | None = None
    working_days: int | None = None  # the service clock's working days to the decision
    within_time: bool | None = None


@dataclass
class Month:
    """What ``replay_month`` did, for a test to recompute every figure from."""

    month: str
    applications: list[Application] = field(default_factory=list)  # deemed received in the month
    earlier: list[Application] = field(default_factory=list)  # December's
    inquiries_received: int = 0
    inquiries_answered: int = 0
    info_requests: int = 0
    delay_notices: int = 0
    opdc_copies: int = 0
    fees: list[int] = field(default_factory=list)  # baht, each confirmed
    permits_issued: list[str] = field(default_factory=list)
    permits_revoked: list[str] = field(default_factory=list)
    permits_verified: list[str] = field(default_factory=list)  # checks answered about a permit in the register
    scores: list[int] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)


PEOPLE = {
    "a0": Person("ประยุทธ์ มั่นคง", "prayut.m@example.com", "081-111-2233", "1103700123451"),
    "a1": Person("สมชาย ใจดี", "somchai.jaidee@example.com", "089-765-4321", "3100501234567"),
    "a2": Person("สุนีย์ รักไทย", "sunee.r@example.net", "062-555-0199", "1209900456789"),
    "a3": Person("วิชัย ทองดี", "wichai.t@example.org", "095-222-3344", "1459900111223"),
    "a4": Person("มาลัย ศรีสุข", "malai.s@example.co.th", "086-444-9988", "3600100777889"),
    "a5": Person("โรงแรมบ้านใหม่", "frontdesk@hotel.example", "02-123-4567", "0105561234567"),
    "q": Person("นกน้อย บินไกล", "nok@example.com", "081-234-5678", "1100800999001"),
}


def _pdf(name: str = "เอกสาร.pdf") -> tuple[str, bytes, str]:
    return (name, scanned_pdf(2480, 3508), "application/pdf")


def _send(env: Env, who: Person, subject: str, when: str, files: list[tuple[str, bytes, str]], body: str = "") -> None:
    """Mail from ``who`` arriving at ``when`` (Bangkok, 'YYYY-MM-DD HH:MM'); not swept yet."""
    assert env.mailbox is not None
    text = body or f"เรียน เจ้าหน้าที่\n{subject}\n{who.name} โทร {who.phone} เลขประจำตัว {who.id_number}\n"
    env.mailbox.append(mail(subject, text, sender=f"{who.name} <{who.email}>", attachments=files).as_bytes(), at(when))


def _sweep(env: Env, now: str) -> None:
    env.run("sweep", "--now", now)


def _tid(env: Env, who: Person) -> str:
    """The newest application or inquiry from ``who``."""
    found = [a for a in env.json("triage", "list", "--all") if a["applicant_email"].lower() == who.email]
    assert found, f"nothing registered from {who.email}"
    return str(sorted(found, key=lambda a: a["transaction_id"])[-1]["transaction_id"])


def _status(env: Env, tid: str) -> str:
    return str(env.json("triage", "show", tid)["status"])


def _permit_of(env: Env, tid: str) -> str:
    return str(next(p["number"] for p in env.json("permit", "list") if p["transaction_id"] == tid))


def _apply(env: Env, who: Person, subject: str, when: str, files: list[tuple[str, bytes, str]], sweep_at: str) -> str:
    _send(env, who, subject, when, files)
    _sweep(env, sweep_at)
    return _tid(env, who)


def _decide(env: Env, tid: str, day: str, verb: str = "approve", **extra: str) -> None:
    """Review at 10:00 (when still received) and decide at 10:30 on ``day``."""
    if _status(env, tid) == "received":
        env.run("triage", "review", tid, "--now", f"{day}T10:00:00+07:00", env=CLERK)
    args = [a for k, v in extra.items() for a in (f"--{k}", v)]
    env.run("triage", verb, tid, *args, "--now", f"{day}T10:30:00+07:00", env=APPROVER)


def replay_month(env: Env) -> Month:
    """Live January 2026 (and one December application) in ``env``; see the module."""
    assert env.mailbox is not None and env.smtp is not None
    env.config.write_text(env.config.read_text() + OFFICE, encoding="utf-8")
    p = PEOPLE
    done = Month(MONTH, people=list(p.values()))

    # December: one application, decided the same day.
    a0 = _apply(env, p["a0"], "[CERT] ขอรับรองสำเนาทะเบียนบ้าน", "2025-12-23 09:00", [_pdf()], "2025-12-23T09:05:00+07:00")
    _decide(env, a0, "2025-12-23")
    done.earlier.append(Application(a0, "document-certification", "2025-12-23", True, "2025-12-23", 0, True))

    # Mon 5 Jan: A1 approved at once, its permit issued; A2 asked for a document.
    a1 = _apply(env, p["a1"], "[CERT] ขอรับรองสำเนาทะเบียนบ้าน", "2026-01-05 09:00", [_pdf()], "2026-01-05T09:05:00+07:00")
    _decide(env, a1, "2026-01-05")
    env.run("permit", "issue", a1, "--now", "2026-01-05T11:00:00+07:00", env=APPROVER)
    a2 = _apply(env, p["a2"], "[CERT] ขอรับรองสำเนาโฉนด", "2026-01-05 10:00", [_pdf()], "2026-01-05T10:05:00+07:00")
    env.run(
        "triage", "request-info", a2, "--reason", "สำเนาไม่ชัด / The copy is not legible",
        "--now", "2026-01-05T11:00:00+07:00", env=CLERK,
    )  # fmt: skip
    done.info_requests += 1

    # Tue 6 Jan: A3 arrives and is left alone (the sweep also closes A1: its permit was delivered).
    a3 = _apply(env, p["a3"], "[CERT] ขอรับรองสำเนาเอกสาร", "2026-01-06 09:00", [_pdf()], "2026-01-06T09:05:00+07:00")
    assert _status(env, a1) == "closed"

    # Wed 7 Jan: A2's document comes back; A4 (EVT) arrives; A1's applicant answers 5.
    _send(env, p["a2"], f"Re: [{a2}] ส่งเอกสารเพิ่มเติม", "2026-01-07 09:00", [_pdf("สำเนาโฉนด.pdf")])
    _sweep(env, "2026-01-07T09:05:00+07:00")
    assert _status(env, a2) == "received"
    events = [_pdf(n) for n in ("แบบคำขอ.pdf", "สำเนาบัตรประชาชน.pdf", "แผนผัง.pdf")]
    a4 = _apply(env, p["a4"], "[EVT] ขออนุญาตจัดงานวัด", "2026-01-07 09:30", events, "2026-01-07T09:35:00+07:00")
    _send(env, p["a1"], f"Re: [{a1}] ผลการพิจารณา", "2026-01-07 13:00", [], body="5\n\nขอบคุณครับ\n")
    _sweep(env, "2026-01-07T13:05:00+07:00")
    done.scores.append(5)

    # Thu 8 Jan: A2 and A4 approved; A2's permit issued; A4 waits for its fee.
    _decide(env, a2, "2026-01-08")
    env.run("permit", "issue", a2, "--now", "2026-01-08T11:00:00+07:00", env=APPROVER)
    env.run("triage", "verify-identity", a4, "--method", "in-person", "--now", "2026-01-08T09:00:00+07:00", env=CLERK)
    _decide(env, a4, "2026-01-08")
    assert _status(env, a4) == "fee_due"

    # Fri 9 Jan: A4's slip, finance confirms 200 baht, the permit; A2's permit is revoked.
    _send(env, p["a4"], f"[{a4}] หลักฐานการโอน", "2026-01-09 09:00", [("slip.jpg", jpeg(1080, 1920, 72), "image/jpeg")])
    _sweep(env, "2026-01-09T09:05:00+07:00")
    assert _status(env, a4) == "fee_submitted"
    env.run(
        "payments", "confirm", a4, "--amount", "200", "--ref", "KTB-20260109-0001", "--now", "2026-01-09T14:00:00+07:00",
        env=FINANCE,
    )  # fmt: skip
    done.fees.append(200)
    env.run("permit", "issue", a4, "--now", "2026-01-09T14:30:00+07:00", env=APPROVER)
    revoked = _permit_of(env, a2)
    env.run("permit", "revoke", revoked, "--reason", "ยื่นเอกสารไม่ถูกต้อง", "--now", "2026-01-09T15:00:00+07:00", env=APPROVER)
    done.permits_issued += [_permit_of(env, t) for t in (a1, a2, a4)]
    done.permits_revoked.append(revoked)

    # Mon 12 Jan: two permit checks by email, one of a permit we issued.
    checker = Person("ผู้ตรวจสอบ", "checker@example.org", "", "")
    valid = _permit_of(env, a1)
    _send(env, checker, f"VERIFY {valid}", "2026-01-12 09:40", [], body="\n")
    _send(env, checker, "VERIFY CERT-2569-9999", "2026-01-12 09:41", [], body="\n")
    _sweep(env, "2026-01-12T09:45:00+07:00")
    done.permits_verified.append(valid)

    # A5 after hours on Mon 12 Jan, acknowledged only at 11:00 on Tue 13 (due 10:00: late).
    a5 = _apply(env, p["a5"], "[TM30] แจ้งที่พักคนต่างด้าว", "2026-01-12 18:00", [_pdf("ตม30.pdf")], "2026-01-13T11:00:00+07:00")
    env.run("triage", "reject", a5, "--reason", "ไม่ใช่ผู้มีหน้าที่แจ้ง", "--now", "2026-01-14T10:00:00+07:00", env=APPROVER)
    env.run("deadlines", "run", "--now", "2026-01-14T11:00:00+07:00", env=CLERK)
    assert _status(env, a5) == "closed"
    _send(env, p["a5"], f"Re: [{a5}] ผลการพิจารณา", "2026-01-14 13:00", [], body="๔\n")
    _sweep(env, "2026-01-14T13:05:00+07:00")
    done.scores.append(4)

    # Fri 16 Jan: A3's delay notice (day 7 past its due date), with the copy to OPDC.
    env.run("delays", "run", "--now", "2026-01-16T09:00:00+07:00", env=CLERK)
    done.delay_notices += 1
    done.opdc_copies += 1

    # Mon 19 Jan: an inquiry, answered; A3 decided at last.
    _send(env, p["q"], "สอบถามเวลาเปิดทำการ", "2026-01-19 09:00", [], body=f"เปิดวันเสาร์หรือไม่คะ โทร {p['q'].phone}\n")
    _sweep(env, "2026-01-19T09:05:00+07:00")
    done.inquiries_received += 1
    answer = env.tmp / "answer.txt"
    answer.write_text("เปิดวันจันทร์ถึงศุกร์ 08:30-16:30 น. / Monday to Friday, 08:30-16:30.", encoding="utf-8")
    env.run("triage", "reply", _tid(env, p["q"]), "--file", str(answer), "--now", "2026-01-19T11:00:00+07:00", env=CLERK)
    done.inquiries_answered += 1
    _decide(env, a3, "2026-01-19")

    cert = "document-certification"
    done.applications = [
        Application(a1, cert, "2026-01-05", True, "2026-01-05", 0, True),
        Application(a2, cert, "2026-01-05", True, "2026-01-08", 1, True),  # 6, 7, 8 less the pause (6, 7)
        Application(a3, cert, "2026-01-06", True, "2026-01-19", 9, False),  # 7, 8, 9, 12-16, 19; due 9 Jan
        Application(a4, "event-permit", "2026-01-07", True, "2026-01-08", 1, True),
        Application(a5, "tm30", "2026-01-13", False, "2026-01-14", 1, True),
    ]
    return done


def summary(month: Month) -> dict[str, Any]:
    """The people of ``month`` as lists, for a search of published files."""
    return {
        "names": [p.name for p in month.people],
        "emails": [p.email for p in month.people],
        "phones": [p.phone for p in month.people],
        "id_numbers": [p.id_number for p in month.people],
    }
