"""Backups (R14, R27): the registry by SQLite's online backup (consistent while
the daemon writes), the content-addressed file store, and a manifest of
hashes; ``verify`` proves a backup whole, ``restore`` puts it into an empty
storage directory. The daemon makes one on the configured days. A backup holds
what the registry holds, so it is as private: directories 0700, files 0600.

The manifest also anchors the audit chain (issue 11): it names the head of the
copied registry (last event id and MAC) and is itself keyed, an HMAC-SHA256
under the audit key, which the backup does not carry. ``verify`` checks that
MAC and every event's MAC when it is given the key, and says so when it is not;
``audit verify --manifest`` proves the live registry was not rolled back past it."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mailintake.base.auditkey import AuditKey
from mailintake.base.config import Config
from mailintake.base.data.audit import head
from mailintake.base.data.audit import verify as verify_chain
from mailintake.base.data.db import Registry, copy_file, count_rows, file_is_sound, to_iso
from mailintake.base.errors import UserError
from mailintake.base.privacy import DIR_MODE, tighten_tree

MANIFEST = "manifest.json"
COUNTED = ("applications", "messages", "files", "events", "permits", "outbox")  # counts kept in the manifest


class BackupError(UserError):
    """A backup that cannot be made, verified or restored (one line)."""


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Made:
    """A backup made, verified and (in ``[backup] path``) pruned."""

    path: Path
    verification: dict[str, Any]  # what ``verify`` found
    pruned: tuple[Path, ...] = ()

    def describe(self) -> str:
        v = self.verification
        return f"backup written to {self.path}: {v['files']} files, {v['counts']['applications']} applications; " + (
            "verified" if v["ok"] else f"DOES NOT VERIFY: {'; '.join(v['problems'][:3])}"
        )


def manifest_mac(key: bytes, manifest: dict[str, Any]) -> str:
    """The manifest's HMAC-SHA256 under the audit key (every field but ``mac``)."""
    body = json.dumps({k: v for k, v in manifest.items() if k != "mac"}, sort_keys=True, ensure_ascii=False)
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def make(cfg: Config, now: datetime, out: Path | None = None) -> Made:
    """What ``mailintake backup create`` and the daemon do: create, verify, and
    keep the newest ``[backup] keep`` when writing to ``[backup] path``."""
    path = create(cfg, now, out)
    verification = verify(path, AuditKey(cfg.audit.key_file).load(), cfg.audit.key_file)
    return Made(path, verification, tuple(prune(cfg)) if out is None else ())


def create(cfg: Config, now: datetime, out: Path | None = None) -> Path:
    """Write ``backup-<time>/`` under ``out`` (default ``[backup] path``)."""
    if not cfg.db_path.exists():
        raise BackupError(f"no registry at {cfg.db_path} yet: nothing to back up")
    root = out or cfg.backup.path
    target = root / f"backup-{now.strftime('%Y%m%dT%H%M%S')}"
    if target.exists():
        raise BackupError(f"{target} exists already")
    tmp = root / f".{target.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)  # an --out that exists keeps its mode: the backup in it is 0700
    tmp.mkdir(mode=DIR_MODE)
    (tmp / "store").mkdir(mode=DIR_MODE)
    copy_file(cfg.db_path, tmp / "mailintake.db")
    files: dict[str, str] = {}
    store = cfg.store_path
    if store.exists():
        for path in sorted(store.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                rel = path.relative_to(store)
                (tmp / "store" / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, tmp / "store" / rel)
                files[f"store/{rel}"] = _sha(tmp / "store" / rel)
    key = cfg.storage_path / "permit.key"
    if key.exists():
        shutil.copy2(key, tmp / "permit.key")
        files["permit.key"] = _sha(tmp / "permit.key")
    files["mailintake.db"] = _sha(tmp / "mailintake.db")
    counts = count_rows(tmp / "mailintake.db", COUNTED)
    copy = Registry(tmp / "mailintake.db")
    try:
        last = head(copy)
    finally:
        copy.close()
    manifest: dict[str, Any] = {"created_at": to_iso(now), "files": files, "counts": counts}
    manifest["anchor"] = {"event": last[0], "mac": last[1]} if last else None
    manifest["mac"] = manifest_mac(AuditKey(cfg.audit.key_file)(last[0] if last else 0), manifest)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    tighten_tree(tmp)  # copies keep their source's mode: a store file from before umask 077 was 0644
    tmp.rename(target)
    return target


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the backup at ``path`` (or the manifest file itself)."""
    manifest_path = path / MANIFEST if path.is_dir() else path
    if not manifest_path.is_file():
        raise BackupError(f"{path} has no {MANIFEST}: not a mailintake backup")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError:
        raise BackupError(f"{manifest_path}: not valid JSON: not a mailintake manifest") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{manifest_path}: not a mailintake manifest")
    return manifest


def check_manifest(manifest: dict[str, Any], key: bytes | None, key_path: Path | None) -> tuple[str, str | None]:
    """How the manifest's MAC stands ("verified", or why it was not checked)
    and the problem it shows, if any."""
    if key is None:
        return f"manifest MAC not checked: no audit key at {key_path or 'hand'}", None
    if not manifest.get("mac"):
        return "manifest has no MAC", "manifest has no MAC (made before the audit key, or stripped)"
    if not hmac.compare_digest(manifest_mac(key, manifest), str(manifest["mac"])):
        return "manifest MAC does not match", "manifest MAC does not match: the manifest was changed, or made with another key"
    return "manifest MAC verified", None


def verify(path: Path, key: bytes | None = None, key_path: Path | None = None) -> dict[str, Any]:
    """Every file present with its hash, the database sound, the audit chain
    whole, and with the audit ``key`` the manifest's MAC and every event's."""
    manifest = read_manifest(path)
    keyed, problem = check_manifest(manifest, key, key_path)
    problems = [problem] if problem else []
    for rel, digest in manifest["files"].items():
        f = path / rel
        if not f.is_file():
            problems.append(f"missing {rel}")
        elif _sha(f) != digest:
            problems.append(f"changed {rel}")
    db = path / "mailintake.db"
    if db.is_file() and not problems:
        if not file_is_sound(db):
            problems.append("mailintake.db fails SQLite's integrity check")
        reg = Registry(db)
        chain = verify_chain(reg, key)
        reg.close()
        if not chain.ok:
            problems.append(f"audit chain broken at event {chain.broken_id}: {chain.reason}")
        elif "anchor" in manifest and manifest["anchor"] != (
            {"event": chain.head[0], "mac": chain.head[1]} if chain.head else None
        ):
            problems.append("the manifest's anchor is not the head of the backup's audit chain")
    return {
        "path": str(path),
        "created_at": manifest["created_at"],
        "files": len(manifest["files"]),
        "counts": manifest["counts"],
        "anchor": manifest.get("anchor"),
        "keyed": keyed,
        "problems": problems,
        "ok": not problems,
    }


def restore(path: Path, storage: Path, *, force: bool = False, key: bytes | None = None) -> dict[str, Any]:
    """Restore a verified backup into ``storage`` (which must be empty)."""
    result = verify(path, key)
    if not result["ok"]:
        raise BackupError(f"{path} does not verify: {'; '.join(result['problems'][:3])}")
    if storage.exists() and any(p for p in storage.iterdir() if p.name != "backups") and not force:
        raise BackupError(f"{storage} is not empty; restore into an empty directory (or use --force)")
    storage.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        (storage / f"mailintake.db{suffix}").unlink(missing_ok=True)
    shutil.copy2(path / "mailintake.db", storage / "mailintake.db")
    if (path / "permit.key").exists():
        shutil.copy2(path / "permit.key", storage / "permit.key")
    if (path / "store").exists():
        shutil.copytree(path / "store", storage / "store", dirs_exist_ok=True)
    tighten_tree(storage)
    return result


def prune(cfg: Config) -> list[Path]:
    """Keep the newest ``[backup] keep`` backups."""
    root = cfg.backup.path
    if not root.exists():
        return []
    backups = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("backup-"))
    old = backups[: max(len(backups) - cfg.backup.keep, 0)]
    for p in old:
        shutil.rmtree(p)
    return old
