"""The reads behind the monthly service statistics (``desk.statistics``):
audit events of the actions it counts, each with the application it is about
(its kind and service as they are now, its deemed receipt and fee, and the
service clock recorded on it: ``due_at`` and ``clock``). Months are
cut in Python, in the agency's time zone: ``at`` keeps the offset it was
written with, so text comparison would cut at the wrong hour."""

from __future__ import annotations

from typing import Any

from mailintake.base.data.db import Registry

_COLUMNS = (
    "e.id, e.at, e.action, e.transaction_id, e.status_before, e.status_after, e.detail, "
    "a.kind, a.service, a.deemed_received_at, a.fee_amount, a.due_at, a.clock"
)


def events_of_actions(reg: Registry, actions: tuple[str, ...]) -> list[dict[str, Any]]:
    """Events whose action is one of ``actions``, oldest first, with the
    application's kind, service, deemed receipt and fee (None when the event
    is about no application)."""
    if not actions:
        return []
    marks = ", ".join("?" for _ in actions)
    return reg.all(
        f"SELECT {_COLUMNS} FROM events e LEFT JOIN applications a ON a.transaction_id = e.transaction_id "
        f"WHERE e.action IN ({marks}) ORDER BY e.id",
        actions,
    )


def status_moves_to(reg: Registry, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
    """Events that moved an application into one of ``statuses`` (from another
    status), oldest first, with the application's columns as above."""
    marks = ", ".join("?" for _ in statuses)
    return reg.all(
        f"SELECT {_COLUMNS} FROM events e JOIN applications a ON a.transaction_id = e.transaction_id "
        f"WHERE e.status_after IN ({marks}) AND (e.status_before IS NULL OR e.status_before != e.status_after) "
        "ORDER BY e.id",
        statuses,
    )


def event_times(reg: Registry, actions: tuple[str, ...]) -> list[str]:
    """The ``at`` of every event of ``actions`` (for the months that have data)."""
    marks = ", ".join("?" for _ in actions)
    return [r["at"] for r in reg.all(f"SELECT at FROM events WHERE action IN ({marks})", actions)]
