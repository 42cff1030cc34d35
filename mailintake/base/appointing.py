"""The ``[appointments]`` section of ``base.config`` (issue 13, R10; the
queue-booking model of the OPDC's central queue): the office whose counter
receives visitors, how far ahead and how many slots are offered, the words a
reply uses to ask for an appointment or to cancel one, and the kinds of visit
(``[[appointments.kinds]]``), each with its slot times, slot length and
capacity per slot and per day. Kept here so that the configuration module
stays within its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from mailintake.base.settings import Reader, setting

KIND_KEYS = ("id", "name_th", "name_en", "slots", "minutes", "per_slot", "per_day")


@dataclass(frozen=True)
class VisitKind:
    """One kind of visit: ``identity`` (show the ID card in person), ``documents``..."""

    id: str
    name_th: str
    name_en: str
    slots: tuple[time, ...]
    minutes: int
    per_slot: int
    per_day: int


def _kind(r: Reader, key: str, n: int, table: Any) -> VisitKind:
    where = f"{key}[{n}]"
    if not isinstance(table, dict):
        raise r.fail(key, f"{where}: expected a table with {', '.join(KIND_KEYS)}")
    unknown = sorted(set(table) - set(KIND_KEYS))
    missing = [k for k in KIND_KEYS if k not in table]
    if unknown or missing:
        raise r.fail(key, f"{where}: {'unknown key ' + unknown[0] if unknown else 'missing key ' + missing[0]}")
    words = [table[k] for k in ("id", "name_th", "name_en")]
    if not all(isinstance(w, str) and w.strip() for w in words):
        raise r.fail(key, f"{where}: id, name_th and name_en must be text, not empty")
    if not str(table["id"]).isidentifier():
        raise r.fail(key, f"{where}: id must be one word (letters, digits, _)")
    counts = [table[k] for k in ("minutes", "per_slot", "per_day")]
    if not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 1000 for c in counts):
        raise r.fail(key, f"{where}: minutes, per_slot and per_day must be whole numbers from 1 to 1000")
    slots = table["slots"]
    if not isinstance(slots, list) or not slots:
        raise r.fail(key, f"{where}: slots must be a list of HH:MM")
    times = tuple(sorted(r.clock(key, s) for s in slots))
    if len(set(times)) != len(times):
        raise r.fail(key, f"{where}: a slot time is given twice")
    return VisitKind(words[0], words[1], words[2], times, counts[0], counts[1], counts[2])


def read_kinds(r: Reader, key: str) -> tuple[VisitKind, ...]:
    value = r.table.get(key)
    if not isinstance(value, list) or not value:
        raise r.fail(key, "expected one or more [[appointments.kinds]] tables")
    kinds = tuple(_kind(r, key, n, t) for n, t in enumerate(value, start=1))
    if len({k.id for k in kinds}) != len(kinds):
        raise r.fail(key, "a kind id is used twice")
    return kinds


@dataclass(frozen=True)
class Appointments:
    office: str = setting(required=True)
    place_th: str = setting(required=True)
    place_en: str = setting(required=True)
    first_day: int = setting(low=0, high=30)
    days_ahead: int = setting(low=1, high=120)
    offer_count: int = setting(low=1, high=20)
    per_day: int = setting(low=1, high=5000)
    default_kind: str = setting(required=True)
    ask_words: tuple[str, ...] = setting()
    cancel_words: tuple[str, ...] = setting()
    kinds: tuple[VisitKind, ...] = setting(read=read_kinds)

    def kind(self, kind_id: str) -> VisitKind | None:
        return next((k for k in self.kinds if k.id == kind_id), None)

    def check(self, r: Reader) -> None:
        if self.kind(self.default_kind) is None:
            raise r.fail("default_kind", f"not one of the kinds ({', '.join(k.id for k in self.kinds)})")
        if self.first_day > self.days_ahead:
            raise r.fail("first_day", "must not be more than days_ahead")
        for key in ("ask_words", "cancel_words"):
            if not getattr(self, key) or any(not w.strip() for w in getattr(self, key)):
                raise r.fail(key, "expected one or more words")
