"""``mailintake purge`` (PDPA B.E. 2562 s. 37(3)): what is kept past
``[retention]`` is removed. The stored mail and files of a finished application
(and its permit file, which only the applicant can open) are deleted, and its
personal fields blanked in the registry; spam and other mail that opened no
application, and quarantined mail, lose their stored copy and headers. The
registry rows and the audit trail stay, with one audit event per application
or message purged. The daemon runs it daily ([retention] daily).

Backups made before a purge still hold what it removed, until ``[backup] keep``
rotates them out; the audit events keep what they recorded (an event is
evidence and cannot be changed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mailintake.base.config import Config
from mailintake.base.data import purge as table
from mailintake.base.data.db import Registry
from mailintake.base.deployment import open_registry
from mailintake.base.store import Store

log = logging.getLogger(__name__)


@dataclass
class PurgeReport:
    dry_run: bool
    items: list[dict[str, Any]] = field(default_factory=list)
    files_removed: int = 0

    def summary(self) -> str:
        apps = sum(1 for i in self.items if i["what"] == "application")
        verb = "would purge" if self.dry_run else "purged"
        return f"{verb} {apps} application(s) and {len(self.items) - apps} message(s)" + (
            "" if self.dry_run else f"; {self.files_removed} stored file(s) removed"
        )


def due(cfg: Config, reg: Registry, now: datetime) -> list[dict[str, Any]]:
    """What ``[retention]`` says must go at ``now``, each with the rule that says so."""
    r = cfg.retention
    items: list[dict[str, Any]] = []
    if r.finished_days:
        for app in table.finished_applications(reg, now - timedelta(days=r.finished_days)):
            items.append(
                {
                    "what": "application",
                    "id": app["transaction_id"],
                    "kind": app["status"],
                    "since": app["updated_at"],
                    "rule": f"finished_days = {r.finished_days}",
                }
            )
    for days, kinds, key in (
        (r.spam_days, table.UNATTACHED, "spam_days"),
        (r.quarantine_days, table.QUARANTINED, "quarantine_days"),
    ):
        if days:
            for m in table.loose_messages(reg, kinds, now - timedelta(days=days)):
                items.append(
                    {"what": "message", "id": m["id"], "kind": m["kind"], "since": m["created_at"], "rule": f"{key} = {days}"}
                )
    return items


def purge(cfg: Config, reg: Registry, now: datetime, *, actor: str, dry_run: bool = False) -> PurgeReport:
    """Purge what is past retention at ``now`` (nothing with ``dry_run``)."""
    report = PurgeReport(dry_run, due(cfg, reg, now))
    if dry_run:
        return report
    for item in report.items:
        with reg.transaction():
            if item["what"] == "application":
                files = table.stored_of_application(reg, item["id"])
                table.blank_application(reg, item["id"], now)
                reg.add_event(
                    at=now,
                    actor=actor,
                    action="purged",
                    transaction_id=item["id"],
                    detail={"rule": item["rule"], "stored_files": len(files)},
                )
            else:
                table.blank_message(reg, item["id"], now)
                reg.add_event(
                    at=now,
                    actor=actor,
                    action="message_purged",
                    detail={"message": item["id"], "kind": item["kind"], "rule": item["rule"]},
                )
    report.files_removed = _remove_files(cfg, reg)
    if report.items:
        # What the blanked fields held may linger in free pages and in the
        # write-ahead log: the file is rewritten and the log emptied.
        reg.conn.execute("VACUUM")
        reg.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return report


def _remove_files(cfg: Config, reg: Registry) -> int:
    """Delete the store files of purged rows that no other row needs (after the
    commit: a crash before it leaves a file a later purge removes)."""
    store = Store(cfg.store_path)
    removed = 0
    for digest in sorted(table.purged_store_files(reg)):
        if not digest or table.still_needed(reg, digest):
            continue
        path = store.path_of(digest)
        if path.exists():
            path.unlink()
            removed += 1
    return removed


def daily(cfg: Config, now: datetime) -> str:
    """The daemon's daily purge; returns its summary line."""
    reg = open_registry(cfg)
    try:
        return purge(cfg, reg, now, actor="system").summary()
    finally:
        reg.close()
