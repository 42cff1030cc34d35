"""The audit log (R27): every action, automatic or human, is an event; events are
append-only (the database refuses UPDATE and DELETE) and hash-chained, so that
editing the file behind the database's back is found by ``verify``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailintake.base.data.db import GENESIS, Registry, event_hash


@dataclass(frozen=True)
class Verification:
    events: int
    broken_id: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(reg: Registry) -> Verification:
    """Recompute the chain; name the first event that does not fit."""
    prev = GENESIS
    count = 0
    last_id = 0
    for row in reg.db.query("SELECT * FROM events ORDER BY id"):
        count += 1
        if row["id"] != last_id + 1:
            return Verification(count, row["id"], f"events {last_id + 1} to {row['id'] - 1} are missing")
        if row["prev_hash"] != prev:
            return Verification(count, row["id"], "does not follow the event before it")
        if event_hash(prev, row) != row["hash"]:
            return Verification(count, row["id"], "its content was changed after it was written")
        prev, last_id = row["hash"], row["id"]
    return Verification(count, None, None)


def list_events(reg: Registry, *, transaction_id: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
    sql, params = "SELECT id, at, actor, action, transaction_id, status_before, status_after, detail FROM events", []
    where = []
    if transaction_id:
        where.append("transaction_id = ?")
        params.append(transaction_id.upper())
    if user:
        where.append("actor = ?")
        params.append(user)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return reg.all(sql + " ORDER BY id", tuple(params))
