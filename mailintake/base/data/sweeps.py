"""The sweeps' rows (table ``sweeps``) and the JSON values of the ``kv`` table
that sweep health keeps (the last run, the last full sweep, the streak of
failures): the SQL of ``intake.health`` and of a sweep's start and end.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import Record

_JSON = {"json": True}


@dataclass(frozen=True)
class SweepRow(Record):
    """One sweep as the table keeps it: ``finished_at`` is None while it runs,
    and stays None when it was killed."""

    id: int
    started_at: str
    finished_at: str | None = None
    clock: str | None = None
    counts: dict[str, int] = field(default_factory=dict, metadata=_JSON)
    folders: dict[str, int] = field(default_factory=dict, metadata=_JSON)
    errors: tuple[str, ...] = field(default_factory=tuple, metadata=_JSON)


@dataclass(frozen=True)
class SweepRun:
    """How one run ended, as sweep health keeps it (JSON in ``kv``: the last
    run, the last full sweep, the last INBOX-only poll). ``result`` is ``ok``,
    ``failed`` (with a ``reason``), ``running`` or ``did not finish``; ``full``
    is None when not known (a row read back from the table); ``errors`` counts."""

    id: int | None
    full: bool | None
    result: str
    reason: str | None = None
    clock: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    folders: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepRun:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def get_run(reg: Registry, key: str) -> SweepRun | None:
    """The run stored under ``key`` (``last_run``, ``last_sweep``, ``last_poll``)."""
    value = get_json(reg, key)
    return None if value is None else SweepRun.from_dict(value)


def set_run(reg: Registry, key: str, run: SweepRun) -> None:
    set_json(reg, key, run.as_dict())


def start(reg: Registry, *, started_at: datetime, clock: datetime) -> int:
    """A new sweep row (call inside a transaction); returns its id."""
    return reg.insert("sweeps", {"started_at": to_iso(started_at), "clock": to_iso(clock)})


def finish(
    reg: Registry, sweep_id: int, *, finished_at: str, counts: dict[str, int], folders: dict[str, int], errors: list[str]
) -> None:
    """Record the end of a sweep (call inside a transaction); at most 100 errors are kept."""
    reg.update(
        "sweeps",
        "id",
        sweep_id,
        {
            "finished_at": finished_at,
            "counts": json.dumps(counts),
            "folders": json.dumps(folders),
            "errors": json.dumps(errors[:100], ensure_ascii=False),
        },
    )


def get(reg: Registry, sweep_id: int) -> SweepRow | None:
    row = reg.one("SELECT * FROM sweeps WHERE id = ?", (sweep_id,))
    return None if row is None else SweepRow.from_row(row)


def latest(reg: Registry) -> SweepRow | None:
    """The sweep started last, finished or not."""
    row = reg.one("SELECT * FROM sweeps ORDER BY id DESC LIMIT 1")
    return None if row is None else SweepRow.from_row(row)


def latest_id(reg: Registry) -> int:
    """The id of the sweep started last; 0 before the first."""
    row = reg.one("SELECT MAX(id) AS id FROM sweeps")
    return int(row["id"] or 0) if row else 0


# --- JSON values in kv ------------------------------------------------------------------------
def get_json(reg: Registry, key: str) -> Any:
    """The JSON value stored under ``key``; None when there is none."""
    value = reg.get_kv(key)
    return None if value is None else json.loads(value)


def set_json(reg: Registry, key: str, value: Any) -> None:
    """Store ``value`` as JSON under ``key`` (call inside a transaction)."""
    reg.set_kv(key, json.dumps(value, ensure_ascii=False))
