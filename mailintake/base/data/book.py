"""SQL of the official registry book (issue 16): its lines (table ``book``,
one per number, cancelled ones kept) and the stamped copies of the first PDF
(table ``stamped_files``). The rules are ``desk.book``'s."""

from __future__ import annotations

from typing import Any

from mailintake.base.data.db import Registry

SEQUENCE = "book"


def add(reg: Registry, row: dict[str, Any]) -> int:
    return reg.insert("book", row)


def update(reg: Registry, line_id: int, changes: dict[str, Any]) -> None:
    reg.update("book", "id", line_id, changes)


def by_number(reg: Registry, year: int, number: int) -> list[dict[str, Any]]:
    return reg.all("SELECT * FROM book WHERE year = ? AND number = ? ORDER BY id", (year, number))


def of_transaction(reg: Registry, tid: str) -> dict[str, Any] | None:
    return reg.one("SELECT * FROM book WHERE transaction_id = ? ORDER BY id LIMIT 1", (tid,))


def between(reg: Registry, first_day: str, last_day: str) -> list[dict[str, Any]]:
    """Lines registered from ``first_day`` to ``last_day`` (ISO dates, inclusive), in book order."""
    return reg.all(
        "SELECT * FROM book WHERE registered_on BETWEEN ? AND ? ORDER BY registered_on, year, number, id",
        (first_day, last_day),
    )


def numbers(reg: Registry, year: int) -> list[int]:
    return [r["number"] for r in reg.all("SELECT number FROM book WHERE year = ? ORDER BY number, id", (year,))]


def years(reg: Registry) -> list[int]:
    return [r["year"] for r in reg.all("SELECT DISTINCT year FROM book ORDER BY year")]


def last_number(reg: Registry, year: int) -> int:
    row = reg.one("SELECT value FROM sequences WHERE name = ? AND year = ?", (SEQUENCE, year))
    return int(row["value"]) if row else 0


def set_last_number(reg: Registry, year: int, value: int) -> None:
    """Move the year's sequence on (``book start-at``); never back."""
    reg.conn.execute(
        "INSERT INTO sequences (name, year, value) VALUES (?, ?, ?) "
        "ON CONFLICT(name, year) DO UPDATE SET value = MAX(value, excluded.value)",
        (SEQUENCE, year, value),
    )


def add_stamp(reg: Registry, row: dict[str, Any]) -> None:
    reg.insert("stamped_files", row)


def stamps_of(reg: Registry, tid: str) -> list[dict[str, Any]]:
    return reg.all("SELECT * FROM stamped_files WHERE transaction_id = ? ORDER BY made_at", (tid,))
