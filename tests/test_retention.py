"""Retention and the destruction list (issue 16), against Dovecot and the SMTP
sink with --now: each service's retention class (10 years by default,
"permanent" for what must be kept) sets the keep-until year when an application
finishes, shown by ``triage show`` and ``book print``; the January list
(บัญชีหนังสือขอทำลาย, CSV and PDF) holds exactly the files past retention; the
purge's finished_days does not touch what is on the book; nothing is erased
until an admin records the committee's approval, and then the files go from the
store through the purge's engine while the book line and one audit event per
item stay. ``book export`` writes the documented layout with stamped PDFs.

Dates: the applications finish in January 2026 (B.E. 2569), so they are kept
until the end of 2579 and listed in the January of 2580 (2037); one answered
in January 2027 (2570) is kept until 2580 and not listed then."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from mails import at, mail

from mailintake.base.config import shipped
from mailintake.base.store import Store
from samples.make_samples import scanned_pdf

OFFICE = """
[users]
somchai = { roles = ["clerk"], name = "สมชาย" }
malee = ["approver"]
boss = ["admin"]

[retention]
finished_days = 30
"""
CLERK, APPROVER, ADMIN = {"MAILINTAKE_USER": "somchai"}, {"MAILINTAKE_USER": "malee"}, {"MAILINTAKE_USER": "boss"}
SCAN = scanned_pdf(1240, 1754)
SWEPT = "2026-01-05T09:05:00+07:00"
JANUARY_2580 = "2037-01-12T09:00:00+07:00"


@pytest.fixture
def office(tmp_path: Path, deploy: Env) -> Env:
    """The shipped services, TM30 made permanent in the agency's rules."""
    rules = tmp_path / "rules"
    shutil.copytree(shipped("rules") / "services", rules / "services")
    tm30 = rules / "services" / "tm30.toml"
    tm30.write_text(tm30.read_text(encoding="utf-8").replace("retention = 10", 'retention = "permanent"'), encoding="utf-8")
    env = Env(tmp_path, deploy.mailbox, deploy.smtp, agency_extra=f'rules_dir = "{rules}"')
    env.config.write_text(env.config.read_text() + OFFICE, encoding="utf-8")
    return env


def as_(env: Env, who: dict[str, str], *args: str) -> Any:
    """``--json`` output of a command run by ``who``."""
    return json.loads(env.run(*args, "--json", env=who).stdout)


def arrive(env: Env, subject: str, when: str, pdf: bool = False, body: str = "ขอยื่นคำขอครับ") -> None:
    assert env.mailbox is not None
    # A scan of each one's own (the store is content-addressed: a shared file stays while one needs it).
    files = [("doc.pdf", scanned_pdf(1240 + 8 * len(subject), 1754), "application/pdf")] if pdf else []
    env.mailbox.append(
        mail(subject, body=body, sender="สมชาย ใจดี <somchai.jaidee@example.com>", attachments=files).as_bytes(), at(when)
    )


def answer(env: Env, tid: str, now: str) -> None:
    reply = env.tmp / "answer.txt"
    reply.write_text("จันทร์ถึงศุกร์ค่ะ", encoding="utf-8")
    env.run("triage", "reply", tid, "--file", str(reply), "--now", now, env=CLERK)


def by_subject(env: Env) -> dict[str, str]:
    return {a["subject"]: a["transaction_id"] for a in env.json("triage", "list", "--all", "--now", SWEPT)}


def stored(env: Env, tid: str) -> set[str]:
    """Every store file the application has: its mail, its files, its stamped copy and the PDF stamped."""
    show = env.json("triage", "show", tid, "--now", SWEPT)
    found = {m["sha256"] for m in show["messages"]} | {f["sha256"] for f in show["files"]}
    for f in env.json("triage", "files", tid):
        found |= {f["sha256"], f.get("stamped_from") or f["sha256"]}
    return found


def office_of_2026(env: Env) -> dict[str, str]:
    """An inquiry answered, a certification rejected, a TM30 rejected (permanent
    class), a certification still open; and an inquiry answered a year later."""
    arrive(env, "สอบถามเวลาเปิดทำการ", "2026-01-05 09:00", body="นางสาวนกน้อย ใจดี โทร 081-234-5678")
    arrive(env, "[CERT] ขอรับรองสำเนา", "2026-01-05 09:01", pdf=True)
    arrive(env, "[TM30] แจ้งที่พักคนต่างด้าว", "2026-01-05 09:02", pdf=True)
    arrive(env, "[CERT] ขอรับรองสำเนาอีกฉบับ", "2026-01-05 09:03", pdf=True)
    env.run("sweep", "--now", SWEPT)
    tids = by_subject(env)
    answer(env, tids["สอบถามเวลาเปิดทำการ"], "2026-01-05T11:00:00+07:00")
    for subject in ("[CERT] ขอรับรองสำเนา", "[TM30] แจ้งที่พักคนต่างด้าว"):
        env.run("triage", "reject", tids[subject], "--reason", "เอกสารไม่ครบ", "--now", "2026-01-06T10:00:00+07:00", env=APPROVER)
    env.run("sweep", "--now", "2026-01-06T12:00:00+07:00")  # sends the rejections; the deadline job closes them
    for tid in tids.values():
        env.run("book", "stamp", tid, "--now", "2026-01-06T11:00:00+07:00", env=CLERK)
    arrive(env, "สอบถามค่าธรรมเนียม", "2027-01-05 09:00")
    env.run("sweep", "--now", "2027-01-05T09:05:00+07:00")
    later = {a["subject"]: a["transaction_id"] for a in env.json("triage", "list", "--all", "--now", "2027-01-05T09:05:00+07:00")}
    answer(env, later["สอบถามค่าธรรมเนียม"], "2027-01-05T11:00:00+07:00")
    return {
        "inquiry": tids["สอบถามเวลาเปิดทำการ"],
        "rejected": tids["[CERT] ขอรับรองสำเนา"],
        "permanent": tids["[TM30] แจ้งที่พักคนต่างด้าว"],
        "open": tids["[CERT] ขอรับรองสำเนาอีกฉบับ"],
        "later": later["สอบถามค่าธรรมเนียม"],
    }


def test_keep_until_list_approval_and_destruction(office: Env, tmp_path: Path) -> None:
    apps = office_of_2026(office)
    keep = {k: office.json("triage", "show", tid, "--now", SWEPT)["keep_until"] for k, tid in apps.items()}
    assert keep == {"inquiry": 2579, "rejected": 2579, "permanent": "permanent", "open": None, "later": 2580}
    assert "keep until: 2579 (B.E.)" in office.run("triage", "show", apps["inquiry"], "--now", SWEPT).stdout
    printed = {
        line["transaction_id"]: line["keep_until"]
        for day in office.json("book", "print", "--month", "2569-01")
        for line in day["lines"]
    }
    assert printed == {apps[k]: keep[k] for k in ("inquiry", "rejected", "permanent", "open")}

    files = {k: stored(office, tid) for k, tid in apps.items()}
    store = Store(office.storage / "store")
    assert all(store.has(s) for v in files.values() for s in v)

    # Years on, the PDPA purge's finished_days leaves what is on the book alone.
    assert office.json("purge", "--now", JANUARY_2580)["items"] == []

    # The list of January 2580 holds exactly the two whose retention ran out at the end of 2579.
    out = tmp_path / "lists"
    made = as_(office, CLERK, "book", "destruction-list", "--year", "2580", "--out", str(out), "--now", JANUARY_2580)
    assert made["id"] == 1 and [i["transaction_id"] for i in made["items"]] == [apps["inquiry"], apps["rejected"]]
    assert {i["keep_until"] for i in made["items"]} == {2579}
    raw = (out / "destruction-list-2580-1.csv").read_text(encoding="utf-8")
    assert raw.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(raw[1:])))
    assert table[0] == ["ลำดับที่", "ที่", "ลงวันที่", "จาก", "ถึง", "เรื่อง", "การพิจารณา", "หมายเหตุ"]
    assert [row[0] for row in table[1:]] == ["1", "2"] and {row[6] for row in table[1:]} == {""}
    assert table[1][5] == "สอบถามเวลาเปิดทำการ" and "somchai.jaidee@example.com" in table[1][3]
    pdf = (out / "destruction-list-2580-1.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    words = subprocess.run(["pdftotext", str(out / "destruction-list-2580-1.pdf"), "-"], capture_output=True, text=True).stdout
    assert "บัญชีหนังสือขอทำลาย" in words.replace(" ", "") and "ขอรับรองสำเนา" in words.replace(" ", "")
    # Made once: the items are not listed again.
    again = as_(office, CLERK, "book", "destruction-list", "--year", "2580", "--out", str(out), "--now", JANUARY_2580)
    assert again["id"] is None and again["items"] == []

    # Nothing is erased before the approval; the daily purge does not either.
    assert office.json("purge", "--now", JANUARY_2580)["items"] == []
    assert all(store.has(s) for v in files.values() for s in v)
    # Only an admin records the approval.
    refused = office.run(
        "book", "destroy", "--list", "1", "--approved-by", "x", "--date", "2580-02-10", "--now", JANUARY_2580, ok=False, env=CLERK
    )
    assert refused.exit_code != 0 and "admin" in refused.output and all(store.has(s) for v in files.values() for s in v)

    done = as_(office, ADMIN, "book", "destroy", "--list", "1", "--approved-by", "นายสมศักดิ์ ประธานกรรมการ", "--date", "2580-02-10",
        "--now", "2037-02-11T09:00:00+07:00")  # fmt: skip
    assert {i["id"] for i in done["items"]} == {apps["inquiry"], apps["rejected"]} and done["files_removed"] > 0
    for k in ("inquiry", "rejected"):
        assert not any(store.has(s) for s in files[k]), k  # mail, files, stamped copy, PDF stamped
    for k in ("permanent", "open", "later"):
        assert all(store.has(s) for s in files[k]), k
    for path in office.storage.rglob("*"):  # what the citizen wrote is nowhere in the data
        assert not path.is_file() or b"081-234-5678" not in path.read_bytes(), path

    # The book lines stay whole; one audit event per item; the chain verifies.
    lines = {line["transaction_id"]: line for day in office.json("book", "print", "--month", "2569-01") for line in day["lines"]}
    assert lines[apps["inquiry"]]["subject"] == "สอบถามเวลาเปิดทำการ" and "somchai.jaidee" in lines[apps["inquiry"]]["from"]
    events = office.json("audit", "list")
    destroyed = [e for e in events if e["action"] == "destroyed"]
    assert sorted(e["transaction_id"] for e in destroyed) == sorted([apps["inquiry"], apps["rejected"]])
    assert all("destruction list 1" in json.loads(e["detail"])["rule"] for e in destroyed)
    assert {"destruction_listed", "destruction_approved"} <= {e["action"] for e in events}
    office.run("audit", "verify")
    # Approved once; the purge finds nothing more of it.
    twice = office.run(
        "book", "destroy", "--list", "1", "--approved-by", "x", "--date", "2580-02-10", "--now", "2037-02-12T09:00:00+07:00",
        ok=False, env=ADMIN,
    )  # fmt: skip
    assert twice.exit_code == 1 and "approved already" in twice.output
    assert office.json("purge", "--now", "2037-02-12T09:00:00+07:00")["items"] == []


def test_a_list_for_a_year_not_begun_is_refused_and_the_permanent_class_is_never_listed(office: Env, tmp_path: Path) -> None:
    office_of_2026(office)
    refused = office.run("book", "destruction-list", "--year", "2581", "--now", JANUARY_2580, ok=False, env=CLERK)
    assert refused.exit_code == 1 and "has not begun" in refused.output
    far = office.json("book", "destruction-list", "--year", "2700", "--out", str(tmp_path), "--now", "2157-01-10T09:00:00+07:00")
    assert len(far["items"]) == 3 and all(i["keep_until"] != "permanent" for i in far["items"])
    assert "แจ้งที่พักคนต่างด้าว" not in {i["subject"] for i in far["items"]}


def test_a_bad_retention_class_is_refused(office: Env, tmp_path: Path) -> None:
    tm30 = tmp_path / "rules" / "services" / "tm30.toml"
    tm30.write_text(tm30.read_text(encoding="utf-8").replace('retention = "permanent"', "retention = 0"), encoding="utf-8")
    bad = office.run("book", "check", ok=False)
    assert (
        bad.exit_code == 2 and 'tm30.toml: retention: expected years kept after closing (1 to 100) or "permanent"' in bad.output
    )


def test_export_writes_the_documented_layout_with_stamped_pdfs(office: Env, tmp_path: Path) -> None:
    arrive(office, "[CERT] ขอรับรองสำเนา ที่ มท 0808.2/ว 1234", "2026-01-05 09:01", pdf=True)
    arrive(office, "สอบถามเวลาเปิดทำการ", "2026-01-06 09:00")
    office.run("sweep", "--now", "2026-01-06T09:05:00+07:00")
    scan = tmp_path / "walkin.pdf"
    scan.write_bytes(SCAN)
    office.run("book", "add", "--from", "อำเภอบ้านใหม่", "--subject", "ขอเชิญประชุม", "--file", str(scan), "--now",
               "2026-01-06T10:00:00+07:00", env=CLERK)  # fmt: skip
    out = tmp_path / "exchange"
    done = as_(office, CLERK, "book", "export", "--since", "2569-01-06", "--out", str(out), "--now", "2026-01-06T12:00:00+07:00")
    assert done == {"since": "2026-01-06", "lines": 2, "files": 2, "out": str(out)}
    rows = json.loads((out / "book.json").read_text(encoding="utf-8"))
    assert [(r["number"], r["be_year"], r["channel"], r["file"]) for r in rows] == [
        (2, 2569, "email", "files/2569-000002.pdf"),
        (3, 2569, "walk-in", "files/2569-000003.pdf"),
    ]
    stamped = (out / "files" / "2569-000002.pdf").read_bytes()
    assert stamped.startswith(b"%PDF") and stamped != SCAN
    words = subprocess.run(["pdftotext", str(out / "files" / "2569-000002.pdf"), "-"], capture_output=True, text=True).stdout
    assert "เลขรับ 2" in words
    assert (out / "files" / "2569-000003.pdf").read_bytes() == SCAN  # a walk-in scan as it was given
    raw = (out / "book.csv").read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(raw[1:])))
    assert raw.startswith("\ufeff") and [r["file"] for r in table] == ["files/2569-000002.pdf", "files/2569-000003.pdf"]
    assert table[1]["from"] == "อำเภอบ้านใหม่" and table[0]["keep_until"] == ""
    # From the first day: the first line, its reference read from the subject.
    first = office.json("book", "export", "--since", "2026-01-01", "--out", str(out), "--now", "2026-01-06T12:00:00+07:00")
    assert first["lines"] == 3
    assert json.loads((out / "book.json").read_text(encoding="utf-8"))[0]["reference"] == "มท 0808.2/ว 1234"
