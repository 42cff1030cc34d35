"""Roles (R27): actions need a declared role; every action is an event; the
hash-chained audit log proves itself intact and names the first broken event."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import Env
from mails import at, mail

USERS = """
[users]
somchai = ["clerk"]
malee = { roles = ["approver"], name = "นางมาลี ใจงาม", position = "ปลัดเทศบาล" }
root = ["admin"]
"""


@pytest.fixture
def office(deploy: Env) -> Env:
    assert deploy.mailbox is not None
    deploy.config.write_text(deploy.config.read_text() + USERS, encoding="utf-8")
    deploy.mailbox.append(mail("ขออนุญาตจัดงาน").as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    return deploy


def test_clerk_takes_notes_and_the_events_say_who(office: Env) -> None:
    clerk = {"MAILINTAKE_USER": "somchai"}
    r = office.run("triage", "take", "SRB-2568-000001", "--now", "2025-12-09T10:00:00+07:00", env=clerk)
    assert r.stdout.strip() == "SRB-2568-000001 assigned to somchai"
    office.run("triage", "note", "SRB-2568-000001", "โทรแจ้งผู้ยื่นแล้ว", "--now", "2025-12-09T10:05:00+07:00", env=clerk)
    mine = office.run("triage", "list", "--mine", "--json", env=clerk).stdout
    assert '"assigned_to": "somchai"' in mine
    events = office.json("triage", "show", "SRB-2568-000001")["events"]
    assert [(e["actor"], e["action"]) for e in events][-2:] == [("somchai", "assigned"), ("somchai", "note")]
    assert events[-1]["at"] == "2025-12-09T10:05:00+07:00" and events[-1]["detail"] == "โทรแจ้งผู้ยื่นแล้ว"
    # Notes are never emailed.
    assert office.smtp is not None and len(office.smtp.received) == 1


@pytest.mark.parametrize(
    "user,args,message",
    [
        ("malee", ("triage", "take", "SRB-2568-000001"), "Error: triage take needs the clerk role; malee has approver"),
        (
            "stranger",
            ("triage", "note", "SRB-2568-000001", "x"),
            "Error: triage note needs the clerk or approver or finance role; stranger is not a declared user",
        ),
        ("somchai", ("audit", "list"), "Error: audit list needs the admin role; somchai has clerk"),
        ("somchai", ("triage", "assign", "SRB-2568-000001", "nobody"), "Error: no user nobody in [users]"),
    ],
)
def test_refusals_are_one_line_exit_1(office: Env, user: str, args: tuple[str, ...], message: str) -> None:
    r = office.run(*args, ok=False, env={"MAILINTAKE_USER": user})
    assert r.exit_code == 1
    assert r.output.strip() == message


def test_audit_verify_finds_tampering(office: Env) -> None:
    ok = office.run("audit", "verify")
    assert ok.stdout.strip() == "audit chain intact: 3 events; no anchor yet (mailintake audit anchor)"
    listed = office.run("audit", "list", "--id", "SRB-2568-000001", "--json", env={"MAILINTAKE_USER": "root"}).stdout
    assert '"action": "registered"' in listed

    db = Path(office.storage) / "mailintake.db"
    conn = sqlite3.connect(db)
    # The database itself refuses edits to events...
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE events SET actor = 'someone' WHERE id = 2")
    # ...so someone with the file drops the guard first.
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET detail = 'edited' WHERE id = 2")
    conn.commit()
    conn.close()
    broken = office.run("audit", "verify", ok=False)
    assert broken.exit_code == 1
    assert broken.output.strip() == "Error: audit chain broken at event 2: its content was changed after it was written"


def test_users_with_bad_roles_are_a_config_error(tmp_path: Path) -> None:
    from mailintake.base.config import ConfigError, load

    cfg = tmp_path / "config.toml"
    cfg.write_text('[users]\nbob = ["boss"]\n')
    with pytest.raises(ConfigError, match=r"\[users\] bob: roles must be a list of clerk, approver, finance, admin"):
        load(cfg, environ={})
