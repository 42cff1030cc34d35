"""An audit chain that a database writer cannot rewrite (issue 11): every event
carries an HMAC under a key beside config.toml; the chain head is anchored
outside the database (the anchors log, the admin's mail, the keyed backup
manifest), so `audit verify` finds an edit, a rollback and a restored older
copy; the real time each event was written is kept beside any --now."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from conftest import Env
from mails import at, mail

from mailintake.base.data.db import GENESIS, event_hash

ADMIN = '[daemon]\nadmin_email = "it@banmai.go.th"\n'


def _config(env: Env, extra: str) -> None:
    env.config.write_text(env.config.read_text(encoding="utf-8") + extra, encoding="utf-8")


def _swept(env: Env, n: int, day: str = "2025-12-09") -> None:
    """``n`` more applications, swept."""
    assert env.mailbox is not None
    for i in range(n):
        env.mailbox.append(mail(f"ขออนุญาตจัดงาน {i}", sender=f"p{i}@example.com").as_bytes(), at(f"{day} 09:0{i}"))
    env.run("sweep", "--now", f"{day}T09:30:00+07:00")


def _rewrite(db: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    """What a writer of the database file does: drop the guards, change
    events, and recompute every SHA-256 hash after, as the old chain allowed."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER IF EXISTS events_no_update")
    conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
    conn.execute(sql, params)
    prev = GENESIS
    for row in conn.execute("SELECT * FROM events ORDER BY id").fetchall():
        fresh = event_hash(prev, dict(row))
        conn.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", (prev, fresh, row["id"]))
        prev = fresh
    conn.commit()
    conn.close()


def _body(raw: bytes) -> str:
    text = next(p for p in message_from_bytes(raw).walk() if p.get_content_type() == "text/plain")
    payload = text.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def _error(env: Env, *args: str) -> str:
    r = env.run(*args, ok=False)
    assert r.exit_code != 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    return lines[0]


def test_an_event_edited_behind_dropped_triggers_is_caught(deploy: Env) -> None:
    _swept(deploy, 1)
    db = deploy.storage / "mailintake.db"
    assert deploy.run("audit", "verify").stdout.startswith("audit chain intact: 3 events")
    # Blame someone else for event 2, with every SHA-256 hash made to fit again.
    _rewrite(db, "UPDATE events SET actor = 'somchai' WHERE id = 2")
    line = _error(deploy, "audit", "verify")
    assert line == (
        "Error: audit chain broken at event 2: its MAC does not match: changed after it was written, or not written with the key"
    )


def test_stripping_every_mac_does_not_pass_for_an_old_unkeyed_chain(deploy: Env) -> None:
    _swept(deploy, 1)
    _rewrite(deploy.storage / "mailintake.db", "UPDATE events SET mac = NULL, actor = 'somchai' WHERE id >= 1")
    line = _error(deploy, "audit", "verify")
    assert "event 1: it has no MAC though the audit key was made after event 0: written without the key" in line


def test_deleting_the_last_events_is_caught_by_the_anchor(deploy: Env) -> None:
    _config(deploy, ADMIN)
    _swept(deploy, 1)
    _swept(deploy, 2, "2025-12-10")
    anchored = deploy.run("audit", "anchor", "--now", "2025-12-10T16:30:00+07:00").stdout
    assert "anchored the audit chain at event 9" in anchored and "mailed to it@banmai.go.th" in anchored
    assert "9 events; 1 anchors hold, the latest at event 9" in deploy.run("audit", "verify").stdout
    # The anchor reaches the admin's mailbox, off the host.
    deploy.run("outbox", "send", "--now", "2025-12-10T16:31:00+07:00")
    assert deploy.smtp is not None
    mailed = [_body(m["raw"]) for m in deploy.smtp.received if m["to"] == ["it@banmai.go.th"]]
    mailed = [b for b in mailed if "Daily digest" not in b]  # the morning digest goes to the admin too (issue 12)
    assert len(mailed) == 1
    given = re.search(r"audit verify --anchor (\d+:[0-9a-f]{64})", mailed[0])
    assert given is not None and given[1].startswith("9:")

    # Roll back: the last application's events go, the rest is consistent.
    _rewrite(deploy.storage / "mailintake.db", "DELETE FROM events WHERE id > 6")
    line = _error(deploy, "audit", "verify")
    assert line.startswith("Error: event 9, anchored in ") and "audit-anchors.jsonl" in line
    assert line.endswith("is missing (it ends at event 6): the registry was rolled back")
    # Without the anchors log, the mailed anchor finds it too.
    (deploy.tmp / "audit-anchors.jsonl").unlink()
    line = _error(deploy, "audit", "verify", "--anchor", given[1])
    assert line == "Error: event 9, anchored in the anchor given, is missing (it ends at event 6): the registry was rolled back"


def test_a_restored_older_backup_is_caught(deploy: Env, tmp_path: Path) -> None:
    _swept(deploy, 1)
    deploy.run("backup", "create", "--out", str(tmp_path / "b"), "--now", "2025-12-09T18:00:00+07:00")
    old = tmp_path / "b" / "backup-20251209T180000"
    assert json.loads((old / "manifest.json").read_text())["anchor"]["event"] == 3
    _swept(deploy, 1, "2025-12-10")
    deploy.run("audit", "anchor", "--now", "2025-12-10T16:30:00+07:00")
    # The live registry holds what the backup anchored.
    assert "2 anchors hold" in deploy.run("audit", "verify", "--manifest", str(old)).stdout

    deploy.run("backup", "restore", str(old), "--into", str(deploy.storage), "--force")
    line = _error(deploy, "audit", "verify")
    assert line.startswith("Error: event 6, anchored in ") and line.endswith(
        "is missing (it ends at event 3): the registry was rolled back"
    )


def test_a_key_file_others_can_read_is_refused_naming_the_path(deploy: Env) -> None:
    _swept(deploy, 1)
    key = deploy.tmp / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    key.chmod(0o644)
    r = deploy.run("audit", "verify", ok=False)
    assert r.exit_code == 2
    assert r.output.strip() == f"Error: [audit] key_file {key} is readable by others (mode 0644): chmod 600 {key}"
    # Writes are refused the same way, and so is the daemon's start.
    assert deploy.mailbox is not None
    deploy.mailbox.append(mail("อีกฉบับ").as_bytes(), at("2025-12-09 10:00"))
    assert f"chmod 600 {key}" in deploy.run("sweep", "--now", "2025-12-09T10:30:00+07:00", ok=False).output
    from mailintake.base.config import load
    from mailintake.base.errors import ConfigError
    from mailintake.ops.daemon import start_private

    with pytest.raises(ConfigError, match=re.escape(f"chmod 600 {key}")):
        start_private(load(deploy.config, environ={}))


def test_a_tampered_manifest_fails_backup_verify(deploy: Env, tmp_path: Path) -> None:
    _swept(deploy, 1)
    deploy.run("backup", "create", "--out", str(tmp_path), "--now", "2025-12-09T18:00:00+07:00")
    backup = tmp_path / "backup-20251209T180000"
    assert "manifest MAC verified" in deploy.run("backup", "verify", str(backup)).stdout
    # Rewrite the backup's registry and give the manifest its new hash.
    _rewrite(backup / "mailintake.db", "UPDATE events SET actor = 'somchai' WHERE id = 2")
    manifest = json.loads((backup / "manifest.json").read_text())
    from mailintake.ops.backup import _sha

    manifest["files"]["mailintake.db"] = _sha(backup / "mailintake.db")
    (backup / "manifest.json").write_text(json.dumps(manifest))
    r = deploy.run("backup", "verify", str(backup), ok=False)
    assert r.exit_code == 1
    assert "manifest MAC does not match: the manifest was changed, or made with another key" in r.output
    r = deploy.run("backup", "restore", str(backup), "--into", str(tmp_path / "new"), ok=False)
    assert r.exit_code == 1 and "manifest MAC does not match" in r.output
    # Without the key it says so instead of vouching for the manifest.
    other = tmp_path / "nokey.toml"
    other.write_text(deploy.config.read_text() + '\n[audit]\nkey_file = "elsewhere.key"\n')
    from click.testing import CliRunner

    from mailintake.cli import cli

    told = CliRunner().invoke(cli, ["--config", str(other), "backup", "verify", str(backup)])
    assert f"manifest MAC not checked: no audit key at {tmp_path / 'elsewhere.key'}" in told.output


def test_a_backdated_event_is_marked_and_keeps_its_real_time(deploy: Env) -> None:
    _swept(deploy, 1)  # --now 2025-12-09: long before the real time
    assert deploy.mailbox is not None
    deploy.mailbox.append(mail("ตอนนี้", sender="now@example.com").as_bytes(), datetime.now(UTC))
    deploy.run("sweep")
    # The sweep's own events (the deadline jobs it runs after, at the real time, add the s.10 notice).
    events = [e for e in deploy.json("audit", "list") if e["action"] in ("registered", "ack_queued", "ack_sent")]
    assert [e["backdated"] for e in events] == [True, True, True, False, False, False]
    first, last = events[0], events[-1]
    assert first["at"] == "2025-12-09T09:30:00+07:00"
    assert abs(datetime.fromisoformat(first["written_at"]) - datetime.now(UTC)) < timedelta(minutes=5)
    assert abs(datetime.fromisoformat(last["written_at"]) - datetime.fromisoformat(last["at"])) < timedelta(minutes=1)
    table = deploy.run("audit", "list").stdout
    assert "BACKDATED" in table.splitlines()[0] and table.count(" yes ") == 3


def test_the_real_time_comes_from_an_injected_clock_and_is_under_the_mac(tmp_path: Path) -> None:
    from mailintake.base.auditkey import AuditKey
    from mailintake.base.data.audit import list_events, verify
    from mailintake.base.data.db import Registry

    clock = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    keyring = AuditKey(tmp_path / "audit.key")
    reg = Registry(tmp_path / "var" / "mailintake.db", audit_key=keyring, clock=lambda: clock)
    with reg.transaction():
        reg.add_event(at=clock - timedelta(seconds=50), actor="system", action="on_time")
        reg.add_event(at=clock - timedelta(minutes=2), actor="system", action="backdated")
    assert [(e["written_at"], e["backdated"]) for e in list_events(reg)] == [
        ("2026-01-05T03:00:00+00:00", False),
        ("2026-01-05T03:00:00+00:00", True),
    ]
    key = keyring.load()
    assert verify(reg, key).ok
    reg.conn.execute("DROP TRIGGER events_no_update")
    reg.conn.execute("UPDATE events SET written_at = '2025-12-09T09:00:00+07:00' WHERE id = 2")
    reg.conn.commit()
    broken = verify(reg, key)
    assert broken.broken_id == 2 and "MAC does not match" in str(broken.reason)


def test_an_old_registry_is_keyed_on_its_first_write_and_its_old_events_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mailintake.base.config import load
    from mailintake.base.data.audit import verify
    from mailintake.base.data.db import Registry
    from mailintake.base.deployment import open_registry

    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(f'[storage]\npath = "{tmp_path / "var"}"\n')
    cfg = load(cfg_path, environ={})
    now = datetime(2025, 12, 9, 9, 0, tzinfo=UTC)
    old = Registry(cfg.db_path)  # as every version before the audit key wrote
    with old.transaction():
        old.add_event(at=now, actor="system", action="registered")
        old.add_event(at=now, actor="somchai", action="note")
    old.close()
    assert not cfg.audit.key_file.exists() and cfg.audit.key_file == tmp_path / "audit.key"

    reg = open_registry(cfg)
    with reg.transaction():
        reg.add_event(at=now, actor="malee", action="approve")
    assert "wrote the audit key" in caplog.text and "events after 2 are keyed" in caplog.text
    assert stat.S_IMODE(cfg.audit.key_file.stat().st_mode) == 0o600
    from mailintake.base.auditkey import AuditKey

    keyring = AuditKey(cfg.audit.key_file)
    chain = verify(reg, keyring.load(), keyed_after=keyring.after_event())
    assert chain.ok and (chain.events, chain.unkeyed) == (3, 2)
    reg.close()
    # A writer without the key appends after keyed events: refused.
    keyless = Registry(cfg.db_path)
    with keyless.transaction():
        keyless.add_event(at=now, actor="system", action="forged")
    chain = verify(keyless, keyring.load(), keyed_after=keyring.after_event())
    assert chain.broken_id == 4 and "has no MAC though event 3 before it has" in str(chain.reason)


def test_init_writes_a_private_audit_key_beside_config(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mailintake.cli import cli

    r = CliRunner().invoke(cli, ["init", str(tmp_path / "etc")])
    assert r.exit_code == 0, r.output
    key = tmp_path / "etc" / "audit.key"
    assert f"wrote {key}" in r.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert json.loads((tmp_path / "etc" / "audit-anchors.jsonl").read_text())["after_event"] == 0


def test_the_daemon_anchors_daily_and_mails_the_admin(deploy: Env) -> None:
    _config(deploy, ADMIN)
    _swept(deploy, 1)
    from mailintake.base.config import load
    from mailintake.ops.daemon import Daemon

    moment = datetime(2025, 12, 9, 16, 30, tzinfo=UTC)
    Daemon(load(deploy.config, environ={}), clock=lambda: moment).anchor_audit()
    anchors = [json.loads(line) for line in (deploy.tmp / "audit-anchors.jsonl").read_text().splitlines()]
    assert anchors[-1]["kind"] == "anchor" and anchors[-1]["event"] == 3
    assert deploy.smtp is not None
    assert [m["to"] for m in deploy.smtp.received if "audit verify --anchor 3:" in _body(m["raw"])] == [["it@banmai.go.th"]]
