"""``mailintake purge`` (PDPA B.E. 2562 s. 37(3)): what is kept past
``[retention]`` is removed. The stored mail and files of a finished application
(and its permit file, which only the applicant can open) are deleted, and its
personal fields blanked in the registry; spam and other mail that opened no
application, and quarantined mail, lose their stored copy and headers. The
registry rows and the audit trail stay, with one audit event per application
or message purged. The daemon runs it daily ([retention] daily).

Applications on the registry book (issue 16) are official records: the
Regulation on Registry Work, not ``finished_days``, says how long they are kept
(their service's retention class, ``desk.retention``), and they go only by a
destruction list the committee approved. The items of approved lists are this
module's third source; they are erased by the same code, with one
``destroyed`` audit event each, and their book lines stay whole (see README,
"Retention and the destruction list", for why the line wins over PDPA).

Backups made before a purge or a destruction still hold what it removed, until
``[backup] keep`` rotates them out; the audit events keep what they recorded
(an event is evidence and cannot be changed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mailintake.base.config import Config
from mailintake.base.data import purge as table
from mailintake.base.data import retention as destruction
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


def due(cfg: Config, reg: Registry, now: datetime, *, only_list: int | None = None) -> list[dict[str, Any]]:
    """What ``[retention]`` and the approved destruction lists say must go at
    ``now``, each with the rule that says so (``only_list``: that list's items alone)."""
    r = cfg.retention
    items = [
        {
            "what": "application",
            "id": d["transaction_id"],
            "kind": d["status"],
            "since": d["approved_on"],
            "rule": f"destruction list {d['list_id']} item {d['position']}, approved by {d['approved_by']} on {d['approved_on']}",
            "action": "destroyed",
        }
        for d in destruction.approved_pending(reg, only_list)
    ]
    if only_list is not None:
        return items
    if r.finished_days:
        for app in table.finished_applications(reg, now - timedelta(days=r.finished_days)):  # not on the book
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


def purge(
    cfg: Config, reg: Registry, now: datetime, *, actor: str, dry_run: bool = False, only_list: int | None = None
) -> PurgeReport:
    """Purge what is past retention at ``now`` (nothing with ``dry_run``)."""
    report = PurgeReport(dry_run, due(cfg, reg, now, only_list=only_list))
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
                    action=item.get("action", "purged"),
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
