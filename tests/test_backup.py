"""Backups: made online, verified by hashes, restored into an empty directory
with every application and file intact (R14, R27)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Env
from mails import at, mail

from samples.make_samples import jpeg, scanned_pdf


def test_backup_restore_into_an_empty_directory_keeps_everything(deploy: Env, tmp_path: Path) -> None:
    assert deploy.mailbox is not None
    for i in range(3):
        deploy.mailbox.append(
            mail(
                f"[EVT] คำขอ {i}",
                sender=f"p{i}@example.com",
                attachments=[
                    (f"form{i}.pdf", scanned_pdf(1240 + i, 1754), "application/pdf"),
                    (f"photo{i}.jpg", jpeg(2480, 3508 + i, 300), "image/jpeg"),
                ],
            ).as_bytes(),
            at(f"2025-12-09 09:0{i}"),
        )
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    before = deploy.json("triage", "list")

    out = deploy.run("backup", "create", "--out", str(tmp_path / "backups"), "--now", "2025-12-09T18:00:00+07:00").stdout
    assert "verified" in out
    backup = tmp_path / "backups" / "backup-20251209T180000"
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["counts"]["applications"] == 3 and len(manifest["files"]) >= 1 + 3 + 6
    assert "ok" in deploy.run("backup", "verify", str(backup)).stdout

    # Restore into an empty directory and read it with a config that points there.
    restored = tmp_path / "restored"
    deploy.run("backup", "restore", str(backup), "--into", str(restored))
    cfg2 = tmp_path / "config2.toml"
    cfg2.write_text(deploy.config.read_text().replace(f'path = "{deploy.storage}"', f'path = "{restored}"'))
    from click.testing import CliRunner

    from mailintake.cli import cli

    after = json.loads(CliRunner().invoke(cli, ["--config", str(cfg2), "triage", "list", "--json"]).stdout)
    assert after == before
    # Every file is there, byte for byte, under its hash.
    from mailintake.base.store import Store, sha256

    store = Store(restored / "store")
    for app in after:
        for f in app["files"]:
            assert sha256(store.get(f["sha256"])) == f["sha256"]
    audit = CliRunner().invoke(cli, ["--config", str(cfg2), "audit", "verify"])
    assert audit.exit_code == 0 and "intact" in audit.stdout


def test_a_damaged_backup_does_not_verify_and_is_not_restored(deploy: Env, tmp_path: Path) -> None:
    assert deploy.mailbox is not None
    deploy.mailbox.append(
        mail("คำขอ", attachments=[("f.pdf", scanned_pdf(1240, 1754), "application/pdf")]).as_bytes(), at("2025-12-09 09:00")
    )
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    deploy.run("backup", "create", "--out", str(tmp_path), "--now", "2025-12-09T18:00:00+07:00")
    backup = tmp_path / "backup-20251209T180000"
    victim = next(p for p in (backup / "store").rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes()[:-1] + b"!")
    r = deploy.run("backup", "verify", str(backup), ok=False)
    assert r.exit_code == 1 and "changed store/" in r.output
    r = deploy.run("backup", "restore", str(backup), "--into", str(tmp_path / "new"), ok=False)
    assert r.exit_code == 1 and "does not verify" in r.output
    # Restoring over live data is refused.
    good = deploy.run("backup", "create", "--out", str(tmp_path / "b2"), "--now", "2025-12-09T19:00:00+07:00")
    assert good.exit_code == 0
    r = deploy.run("backup", "restore", str(tmp_path / "b2" / "backup-20251209T190000"), ok=False)
    assert r.exit_code == 1 and "is not empty" in r.output
