"""The audit log (R27): every action, automatic or human, is an event; events are
append-only (the database refuses UPDATE and DELETE) and chained twice: by
SHA-256 (``hash``, every event) and by HMAC-SHA256 under the audit key, which
the database does not hold (``mac``, issue 11). Whoever can write the database
can drop the triggers and recompute the hashes, but not the MACs; whoever
rolls it back (deletes the last events, restores an older copy) is found by
the anchors of the chain head kept outside it (``check_anchor``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailintake.base.data.db import GENESIS, Registry, event_hash, event_mac

BACKDATED_SECONDS = 60  # ``at`` this far from the real time written: --now was used


@dataclass(frozen=True)
class Verification:
    events: int
    broken_id: int | None
    reason: str | None
    unkeyed: int = 0  # events written before the deployment had an audit key
    unchecked: int = 0  # keyed events whose MAC was not checked (no key at hand)
    head: tuple[int, str] | None = None  # the last event: id and its MAC (or hash when unkeyed)

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(reg: Registry, key: bytes | None = None, *, keyed_after: int | None = None) -> Verification:
    """Recompute both chains; name the first event that does not fit. With no
    ``key`` the MACs are counted as ``unchecked``; an event without a MAC after
    one with a MAC, or after ``keyed_after`` (the last event before the key was
    made, from the anchors log), was written without the key: refused."""
    prev, link = GENESIS, GENESIS
    count = unkeyed = unchecked = 0
    last_id = 0
    keyed_from: int | None = None
    for row in reg.db.query("SELECT * FROM events ORDER BY id"):
        count += 1
        at = row["id"]
        if at != last_id + 1:
            return Verification(count, at, f"events {last_id + 1} to {at - 1} are missing")
        if row["prev_hash"] != prev:
            return Verification(count, at, "does not follow the event before it")
        if event_hash(prev, row) != row["hash"]:
            return Verification(count, at, "its content was changed after it was written")
        if row.get("mac") is None:
            if keyed_from is not None:
                return Verification(count, at, f"it has no MAC though event {keyed_from} before it has: written without the key")
            if keyed_after is not None and at > keyed_after:
                return Verification(
                    count, at, f"it has no MAC though the audit key was made after event {keyed_after}: written without the key"
                )
            unkeyed += 1
        else:
            keyed_from = at if keyed_from is None else keyed_from
            if key is None:
                unchecked += 1
            elif event_mac(key, link, row) != row["mac"]:
                return Verification(
                    count, at, "its MAC does not match: changed after it was written, or not written with the key"
                )
        prev, last_id = row["hash"], at
        link = row.get("mac") or row["hash"]
    return Verification(count, None, None, unkeyed, unchecked, (last_id, link) if count else None)


def head(reg: Registry) -> tuple[int, str] | None:
    """The chain head: the last event's id and MAC (its hash when unkeyed)."""
    row = reg.one("SELECT id, hash, mac FROM events ORDER BY id DESC LIMIT 1")
    return None if row is None else (row["id"], row["mac"] or row["hash"])


def check_anchor(reg: Registry, event_id: int, mac: str, where: str) -> str | None:
    """None when the registry holds event ``event_id`` with this MAC (the
    anchor read from ``where``); else one line: rolled back or rewritten."""
    row = reg.one("SELECT id, hash, mac FROM events WHERE id = ?", (event_id,))
    if row is None:
        last = head(reg)
        ends = f"it ends at event {last[0]}" if last else "it holds no events"
        return f"event {event_id}, anchored in {where}, is missing ({ends}): the registry was rolled back"
    if (row["mac"] or row["hash"]) != mac.strip().lower():
        return f"event {event_id} differs from its anchor in {where}: the registry was rolled back or rewritten"
    return None


def backdated(event: dict[str, Any]) -> bool:
    """True when the event's ``at`` is more than a minute from the real time it
    was written (``--now`` was used)."""
    if not event.get("written_at") or not event.get("at"):
        return False
    gap = datetime.fromisoformat(event["written_at"]) - datetime.fromisoformat(event["at"])
    return abs(gap.total_seconds()) > BACKDATED_SECONDS


def list_events(reg: Registry, *, transaction_id: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT id, at, written_at, actor, action, transaction_id, status_before, status_after, detail FROM events"
    params: list[Any] = []
    where = []
    if transaction_id:
        where.append("transaction_id = ?")
        params.append(transaction_id.upper())
    if user:
        where.append("actor = ?")
        params.append(user)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [{**e, "backdated": backdated(e)} for e in reg.all(sql + " ORDER BY id", tuple(params))]
