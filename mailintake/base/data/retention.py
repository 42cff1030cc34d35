"""SQL of retention and the destruction list (issue 16): the book lines of
finished applications with the moment each finished, the destruction lists
(``destruction_lists``) and their items (``destruction_items``). The rules are
``desk.retention``'s; the erasing is ``ops.purge``'s."""

from __future__ import annotations

from typing import Any

from mailintake.base.data.db import Registry

# An application in one of these is finished: its retention runs from then.
# (``delivered`` becomes ``closed`` the next working day: desk.delays.close_finished.)
FINISHED = ("closed", "withdrawn", "rejected", "answered", "fee_expired")

_LINES = (
    "SELECT b.*, a.status, a.service, a.purged_at, a.updated_at, "
    "(SELECT MAX(e.at) FROM events e WHERE e.transaction_id = a.transaction_id AND e.status_after = a.status) "
    "AS finished_at FROM book b JOIN applications a ON a.transaction_id = b.transaction_id "
)


def finished_lines(reg: Registry) -> list[dict[str, Any]]:
    """Book lines of finished applications not erased and on no destruction list yet."""
    marks = ", ".join("?" for _ in FINISHED)
    return reg.all(
        _LINES + f"WHERE a.status IN ({marks}) AND a.purged_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM destruction_items d WHERE d.book_id = b.id) ORDER BY b.year, b.number, b.id",
        FINISHED,
    )


def line_of(reg: Registry, tid: str) -> dict[str, Any] | None:
    """The book line of ``tid`` with its application's status and when it finished."""
    return reg.one(_LINES + "WHERE b.transaction_id = ? ORDER BY b.id LIMIT 1", (tid,))


def add_list(reg: Registry, row: dict[str, Any]) -> int:
    return reg.insert("destruction_lists", row)


def add_item(reg: Registry, row: dict[str, Any]) -> None:
    reg.insert("destruction_items", row)


def get_list(reg: Registry, list_id: int) -> dict[str, Any] | None:
    return reg.one("SELECT * FROM destruction_lists WHERE id = ?", (list_id,))


def approve(reg: Registry, list_id: int, changes: dict[str, Any]) -> None:
    reg.update("destruction_lists", "id", list_id, changes)


def items_of(reg: Registry, list_id: int) -> list[dict[str, Any]]:
    """The items of a list in its order, each with its book line."""
    return reg.all(
        "SELECT d.position, d.keep_until, b.* FROM destruction_items d JOIN book b ON b.id = d.book_id "
        "WHERE d.list_id = ? ORDER BY d.position",
        (list_id,),
    )


def approved_pending(reg: Registry, list_id: int | None = None) -> list[dict[str, Any]]:
    """Items of approved lists whose application is not erased yet (``ops.purge.due``)."""
    only = "AND l.id = ? " if list_id is not None else ""
    return reg.all(
        "SELECT d.list_id, d.position, d.transaction_id, a.status, l.approved_by, l.approved_on "
        "FROM destruction_items d JOIN destruction_lists l ON l.id = d.list_id "
        "JOIN applications a ON a.transaction_id = d.transaction_id "
        f"WHERE l.approved_at IS NOT NULL AND a.purged_at IS NULL {only}ORDER BY d.list_id, d.position",
        (list_id,) if list_id is not None else (),
    )


def lines_since(reg: Registry, first_day: str) -> list[dict[str, Any]]:
    """Book lines registered from ``first_day`` (ISO date) on, in book order (``book export``)."""
    return reg.all("SELECT * FROM book WHERE registered_on >= ? ORDER BY registered_on, year, number, id", (first_day,))
