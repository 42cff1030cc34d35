"""Retention and `mailintake purge` (PDPA, issue 11): past [retention] the
stored mail and files go and the personal fields are blanked; the registry rows
and the audit trail stay, with one audit event per purge; --dry-run changes
nothing."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from conftest import Env
from mails import at, mail
from test_permits import CLERK, OFFICE

from mailintake.base.data.db import Registry
from samples.make_samples import scanned_pdf

RETENTION = "\n[retention]\nfinished_days = 30\nspam_days = 30\nquarantine_days = 90\n"


def rows(env: Env, sql: str) -> list[dict]:  # type: ignore[type-arg]
    reg = Registry(env.storage / "mailintake.db")
    try:
        return reg.all(sql)
    finally:
        reg.close()


def store_files(env: Env) -> set[str]:
    store = env.storage / "store"
    return {p.parent.name + p.name for p in store.rglob("*") if p.is_file()}


def snapshot(env: Env) -> str:
    tables = ("applications", "messages", "files", "outbox", "events", "permits")
    return json.dumps({t: rows(env, f"SELECT * FROM {t}") for t in tables}, default=repr, sort_keys=True)


def office(env: Env) -> tuple[bytes, bytes]:
    """An inquiry answered on 9 December (finished), an application still open
    with its scan, and a VERIFY request (mail that opened no application)."""
    assert env.mailbox is not None
    env.config.write_text(env.config.read_text() + OFFICE + RETENTION, encoding="utf-8")
    inquiry = mail("สอบถามเวลาเปิดทำการ", body="นางสาวนกน้อย ใจดี โทร 081-234-5678", sender="นกน้อย <nok@example.com>")
    scan = scanned_pdf(2480, 3508)
    env.mailbox.append(inquiry.as_bytes(), at("2025-12-09 09:00"))
    env.mailbox.append(
        mail(
            "[CERT] ขอรับรองสำเนา", sender="สมชาย ใจดี <somchai@example.com>", attachments=[("house.pdf", scan, "application/pdf")]
        ).as_bytes(),
        at("2025-12-09 09:01"),
    )
    env.mailbox.append(mail("VERIFY CERT-2568-0042", body="", sender="someone@example.net").as_bytes(), at("2025-12-09 09:02"))
    env.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    answer = env.tmp / "answer.txt"
    answer.write_text("จันทร์ถึงศุกร์ค่ะ", encoding="utf-8")
    env.run("triage", "reply", "SRB-2568-000001", "--file", str(answer), "--now", "2025-12-09T11:00:00+07:00", env=CLERK)
    # As in a registry from before the book (issue 16): finished_days is for what
    # is not on it; what is, goes by its retention class and an approved
    # destruction list, through the same engine (tests/test_retention.py).
    db = sqlite3.connect(env.storage / "mailintake.db")
    db.execute("DELETE FROM book")
    db.commit()
    db.close()
    return inquiry.as_bytes(), scan


def test_purge_removes_what_is_past_retention_and_keeps_rows_and_the_audit_trail(deploy: Env) -> None:
    inquiry, scan = office(deploy)
    apps = {a["transaction_id"]: a for a in rows(deploy, "SELECT * FROM applications")}
    assert apps["SRB-2568-000001"]["status"] == "answered" and apps["SRB-2568-000002"]["status"] == "received"
    verify_row = rows(deploy, "SELECT id FROM messages WHERE kind = 'verify'")[0]["id"]
    scan_sha = hashlib.sha256(scan).hexdigest()
    inquiry_shas = {r["sha256"] for r in rows(deploy, "SELECT sha256 FROM messages WHERE transaction_id = 'SRB-2568-000001'")}
    assert scan_sha[:2] + scan_sha[2:] in store_files(deploy) and inquiry_shas <= store_files(deploy)

    # Within retention: nothing to do.
    soon = deploy.json("purge", "--now", "2025-12-20T09:00:00+07:00")
    assert soon["items"] == []

    # --dry-run names what would go and changes nothing.
    before, files_before = snapshot(deploy), store_files(deploy)
    dry = deploy.json("purge", "--dry-run", "--now", "2026-01-20T09:00:00+07:00")
    assert dry["dry_run"] is True
    assert {(i["what"], i["id"], i["rule"]) for i in dry["items"]} == {
        ("application", "SRB-2568-000001", "finished_days = 30"),
        ("message", verify_row, "spam_days = 30"),
    }
    assert snapshot(deploy) == before and store_files(deploy) == files_before

    out = deploy.run("purge", "--now", "2026-01-20T09:00:00+07:00").stdout
    assert out.strip().splitlines()[-1].startswith("purged 1 application(s) and 1 message(s);")
    # The inquiry's stored mail is gone; the open application's scan and mail stay.
    assert not inquiry_shas & store_files(deploy)
    assert scan_sha in store_files(deploy)
    # Its row stays, its personal fields blanked; the open application is untouched.
    app = rows(deploy, "SELECT * FROM applications WHERE transaction_id = 'SRB-2568-000001'")[0]
    assert (app["status"], app["applicant_email"], app["applicant_name"], app["subject"]) == ("answered", "", None, None)
    assert app["purged_at"] == "2026-01-20T09:00:00+07:00"
    assert (
        rows(deploy, "SELECT applicant_email FROM applications WHERE transaction_id = 'SRB-2568-000002'")[0]["applicant_email"]
        == "somchai@example.com"
    )
    for m in rows(deploy, "SELECT * FROM messages WHERE transaction_id = 'SRB-2568-000001' OR id = " + str(verify_row)):
        assert (m["from_addr"], m["subject"], m["headers"], m["stored"]) == (None, None, None, 0) and m["purged_at"]
    for o in rows(deploy, "SELECT * FROM outbox WHERE transaction_id = 'SRB-2568-000001'"):
        assert o["raw"] == b"" and o["recipient"] == ""
    # What the citizen wrote is in no file of the data directory any more (free pages and the WAL included).
    for path in deploy.storage.rglob("*"):
        assert not path.is_file() or b"081-234-5678" not in path.read_bytes(), path

    # One audit event per purge, and the chain still verifies.
    events = deploy.json("audit", "list")
    purged = [e for e in events if e["action"] == "purged"]
    assert [e["transaction_id"] for e in purged] == ["SRB-2568-000001"]
    assert [json.loads(e["detail"])["message"] for e in events if e["action"] == "message_purged"] == [verify_row]
    # The inquiry's earlier events are still there, unchanged.
    assert {"answered", "purged"} <= {e["action"] for e in events if e["transaction_id"] == "SRB-2568-000001"}
    deploy.run("audit", "verify")

    # Done once: a second run finds nothing.
    assert deploy.json("purge", "--now", "2026-01-21T09:00:00+07:00")["items"] == []


def test_retention_zero_keeps_for_ever(deploy: Env) -> None:
    office(deploy)
    deploy.config.write_text(
        deploy.config.read_text().replace(RETENTION, "\n[retention]\nfinished_days = 0\nspam_days = 0\nquarantine_days = 0\n"),
        encoding="utf-8",
    )
    assert deploy.json("purge", "--now", "2035-01-01T09:00:00+07:00")["items"] == []


def test_an_unknown_retention_key_is_refused(deploy: Env, tmp_path: Path) -> None:
    deploy.config.write_text(deploy.config.read_text() + "\n[retention]\nkeep_days = 3\n", encoding="utf-8")
    r = deploy.run("purge", "--dry-run", ok=False)
    assert r.exit_code == 2 and "[retention]" in r.output and "keep_days" in r.output
