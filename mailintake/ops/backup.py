"""Backups (R14, R27): the registry by SQLite's online backup (consistent while
the daemon writes), the content-addressed file store, and a manifest of
hashes; ``verify`` proves a backup whole, ``restore`` puts it into an empty
storage directory. The daemon makes one on the configured days. A backup holds
what the registry holds, so it is as private: directories 0700, files 0600."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mailintake.base.config import Config
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


def make(cfg: Config, now: datetime, out: Path | None = None) -> Made:
    """What ``mailintake backup create`` and the daemon do: create, verify, and
    keep the newest ``[backup] keep`` when writing to ``[backup] path``."""
    path = create(cfg, now, out)
    verification = verify(path)
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
    (tmp / MANIFEST).write_text(
        json.dumps({"created_at": to_iso(now), "files": files, "counts": counts}, indent=2, sort_keys=True), encoding="utf-8"
    )
    tighten_tree(tmp)  # copies keep their source's mode: a store file from before umask 077 was 0644
    tmp.rename(target)
    return target


def verify(path: Path) -> dict[str, Any]:
    """Every file present with its hash, the database sound and the audit chain whole."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{path} has no {MANIFEST}: not a mailintake backup")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems = []
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
        chain = verify_chain(reg)
        reg.close()
        if not chain.ok:
            problems.append(f"audit chain broken at event {chain.broken_id}")
    return {
        "path": str(path),
        "created_at": manifest["created_at"],
        "files": len(manifest["files"]),
        "counts": manifest["counts"],
        "problems": problems,
        "ok": not problems,
    }


def restore(path: Path, storage: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore a verified backup into ``storage`` (which must be empty)."""
    result = verify(path)
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
