"""The ``[appointments]`` section of ``base.config`` (issue 13, R10; the
queue-booking model of the OPDC's central queue): the office whose counter
receives visitors, how far ahead and how many slots are offered (and at most
how many on one day), the words a reply uses to ask for an appointment or to
cancel one and the negation words that undo them, and the kinds of visit
(``[[appointments.kinds]]``), each with its slot times, slot length, capacity
per slot and per day, and what to bring. An error in a kind names its key and
value (``kinds[1].slots[0]: expected HH:MM, got '25:00'``). Kept here so that
the configuration module stays within its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from mailintake.base.errors import ConfigError
from mailintake.base.settings import Reader, setting

KIND_KEYS = ("id", "name_th", "name_en", "slots", "minutes", "per_slot", "per_day")
OPTIONAL_KEYS = ("bring_th", "bring_en")


@dataclass(frozen=True)
class VisitKind:
    """One kind of visit: ``identity`` (show the ID card in person), ``documents``...
    ``bring_th``/``bring_en``: what to bring, said in the offer, the
    confirmation and the reminder (empty: nothing said)."""

    id: str
    name_th: str
    name_en: str
    slots: tuple[time, ...]
    minutes: int
    per_slot: int
    per_day: int
    bring_th: str = ""
    bring_en: str = ""


def _fail(r: Reader, where: str, what: str, value: Any) -> ConfigError:
    """An error naming the kind's key and its value: ``kinds[1].slots[0]: expected HH:MM, got '25:00'``."""
    return ConfigError(f"{r.where}: [{r.section}] {where}: {what}, got {value!r}")


def _kind(r: Reader, key: str, n: int, table: Any) -> VisitKind:
    where = f"{key}[{n}]"
    if not isinstance(table, dict):
        raise _fail(r, where, f"expected a table with {', '.join(KIND_KEYS)}", table)
    unknown = sorted(set(table) - set(KIND_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ConfigError(
            f"{r.where}: [{r.section}] {where}.{unknown[0]}: unknown key (known: {', '.join(KIND_KEYS + OPTIONAL_KEYS)})"
        )
    missing = [k for k in KIND_KEYS if k not in table]
    if missing:
        raise ConfigError(f"{r.where}: [{r.section}] {where}: missing key {missing[0]}")
    for k in ("id", "name_th", "name_en"):
        if not isinstance(table[k], str) or not table[k].strip():
            raise _fail(r, f"{where}.{k}", "expected text, not empty", table[k])
    if not str(table["id"]).isidentifier():
        raise _fail(r, f"{where}.id", "expected one word (letters, digits, _)", table["id"])
    for k in OPTIONAL_KEYS:
        if not isinstance(table.get(k, ""), str):
            raise _fail(r, f"{where}.{k}", "expected text", table[k])
    for k in ("minutes", "per_slot", "per_day"):
        c = table[k]
        if not isinstance(c, int) or isinstance(c, bool) or not 1 <= c <= 1000:
            raise _fail(r, f"{where}.{k}", "expected a whole number from 1 to 1000", c)
    slots = table["slots"]
    if not isinstance(slots, list) or not slots:
        raise _fail(r, f"{where}.slots", "expected a list of HH:MM", slots)
    times = []
    for i, s in enumerate(slots):
        try:
            hh, mm = str(s).split(":")
            times.append(time(int(hh), int(mm)))
        except (ValueError, TypeError):
            raise _fail(r, f"{where}.slots[{i}]", "expected HH:MM", s) from None
    if len(set(times)) != len(times):
        raise _fail(r, f"{where}.slots", "a slot time is given twice", slots)
    return VisitKind(
        table["id"], table["name_th"], table["name_en"], tuple(sorted(times)), table["minutes"], table["per_slot"],
        table["per_day"], table.get("bring_th", "").strip(), table.get("bring_en", "").strip(),
    )  # fmt: skip


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
    per_day_offered: int = setting(low=1, high=100)
    per_day: int = setting(low=1, high=5000)
    default_kind: str = setting(required=True)
    ask_words: tuple[str, ...] = setting()
    cancel_words: tuple[str, ...] = setting()
    negation_words: tuple[str, ...] = setting()
    kinds: tuple[VisitKind, ...] = setting(read=read_kinds)

    def kind(self, kind_id: str) -> VisitKind | None:
        return next((k for k in self.kinds if k.id == kind_id), None)

    def check(self, r: Reader) -> None:
        if self.kind(self.default_kind) is None:
            raise r.fail("default_kind", f"not one of the kinds ({', '.join(k.id for k in self.kinds)})")
        if self.first_day > self.days_ahead:
            raise r.fail("first_day", "must not be more than days_ahead")
        for key in ("ask_words", "cancel_words", "negation_words"):
            if not getattr(self, key) or any(not w.strip() for w in getattr(self, key)):
                raise r.fail(key, "expected one or more words")
