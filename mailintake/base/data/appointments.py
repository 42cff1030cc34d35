"""SQL of appointments (issue 13, R10): the bookings at the counter, each with
its queue number of the day and office (table ``appointments``), and the
offers of free slots sent to an applicant (``appointment_offers``). The rules
are ``desk.appointments``'s; every write runs inside the caller's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mailintake.base.data.db import Registry
from mailintake.base.data.records import _JSON, Record

# A booking that holds its slot: booked, or the visitor came.
HOLDING = ("booked", "attended")


@dataclass(frozen=True)
class Appointment(Record):
    """One booking (table ``appointments``)."""

    id: int
    transaction_id: str
    kind: str
    office: str
    day: str
    slot: str
    starts_at: str
    ends_at: str
    queue_number: int
    status: str
    uid: str
    booked_at: str
    booked_by: str
    sequence: int = 0
    offer_id: int | None = None
    source_message: str | None = None
    reminded_at: str | None = None
    cancelled_at: str | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    cancel_source: str | None = None
    attended_at: str | None = None
    attended_by: str | None = None


@dataclass(frozen=True)
class Offer(Record):
    """Free slots offered to an applicant, numbered from 1 (``slots``: [day, HH:MM] pairs)."""

    id: int
    transaction_id: str
    kind: str
    why: str
    offered_at: str
    offered_by: str
    slots: tuple[Any, ...] = field(default=(), metadata=_JSON)
    source_message: str | None = None
    message_id: str | None = None


# --- capacity -------------------------------------------------------------------------------
def taken(reg: Registry, office: str, kind: str | None, day: str, slot: str | None = None) -> int:
    """Bookings holding a place of ``kind`` (any kind when None) on ``day`` (at ``slot`` when given)."""
    sql = "SELECT COUNT(*) AS n FROM appointments WHERE office = ? AND day = ? AND status IN (?, ?)"
    params: tuple[Any, ...] = (office, day, *HOLDING)
    if kind is not None:
        sql += " AND kind = ?"
        params += (kind,)
    if slot is not None:
        sql += " AND slot = ?"
        params += (slot,)
    row = reg.one(sql, params)
    return int(row["n"]) if row else 0


def taken_by_slot(reg: Registry, office: str, kind: str, first: str, last: str) -> dict[tuple[str, str], int]:
    """Bookings holding a place, per (day, slot), for days ``first`` to ``last``."""
    rows = reg.all(
        "SELECT day, slot, COUNT(*) AS n FROM appointments WHERE office = ? AND kind = ? AND day BETWEEN ? AND ? "
        "AND status IN (?, ?) GROUP BY day, slot",
        (office, kind, first, last, *HOLDING),
    )
    return {(r["day"], r["slot"]): int(r["n"]) for r in rows}


def taken_by_day(reg: Registry, office: str, first: str, last: str) -> dict[str, int]:
    """Bookings of every kind holding a place at ``office``, per day from ``first`` to ``last``."""
    rows = reg.all(
        "SELECT day, COUNT(*) AS n FROM appointments WHERE office = ? AND day BETWEEN ? AND ? AND status IN (?, ?) GROUP BY day",
        (office, first, last, *HOLDING),
    )
    return {r["day"]: int(r["n"]) for r in rows}


def next_queue_number(reg: Registry, office: str, day: str) -> int:
    """The next queue number of ``day`` at ``office``: numbers are never reused."""
    row = reg.one("SELECT MAX(queue_number) AS n FROM appointments WHERE office = ? AND day = ?", (office, day))
    return int(row["n"] or 0) + 1 if row else 1


# --- bookings -------------------------------------------------------------------------------
def add(reg: Registry, row: dict[str, Any]) -> Appointment:
    new_id = reg.insert("appointments", row)
    found = get(reg, new_id)
    assert found is not None
    return found


def get(reg: Registry, appointment_id: int) -> Appointment | None:
    row = reg.one("SELECT * FROM appointments WHERE id = ?", (appointment_id,))
    return None if row is None else Appointment.from_row(row)


def handled(reg: Registry, source: str) -> bool:
    """Whether the reply ``source`` already booked, cancelled or asked for an offer."""
    sql = (
        "SELECT 1 FROM appointments WHERE source_message = ? OR cancel_source = ? "
        "UNION ALL SELECT 1 FROM appointment_offers WHERE source_message = ? LIMIT 1"
    )
    return reg.one(sql, (source, source, source)) is not None


def by_source(reg: Registry, source: str) -> Appointment | None:
    """The booking a reply (by its Message-ID or stored digest) made, if any."""
    row = reg.one("SELECT * FROM appointments WHERE source_message = ?", (source,))
    return None if row is None else Appointment.from_row(row)


def active_of(reg: Registry, tid: str, today: str) -> Appointment | None:
    """The application's booking still to come (status ``booked`` and its day
    not before ``today``, the office's local date), the latest first: a booking
    whose day has gone by no longer holds the applicant."""
    row = reg.one(
        "SELECT * FROM appointments WHERE transaction_id = ? AND status = 'booked' AND day >= ? ORDER BY id DESC LIMIT 1",
        (tid, today),
    )
    return None if row is None else Appointment.from_row(row)


def gone_by(reg: Registry, today: str) -> list[Appointment]:
    """Bookings still ``booked`` whose day is before ``today``: missed."""
    rows = reg.all("SELECT * FROM appointments WHERE status = 'booked' AND day < ? ORDER BY day, slot, queue_number", (today,))
    return [Appointment.from_row(r) for r in rows]


def mark_missed(reg: Registry, appointment_id: int) -> bool:
    """A booking whose day went by with no visit; False when already marked (once)."""
    cur = reg.conn.execute("UPDATE appointments SET status = 'missed' WHERE id = ? AND status = 'booked'", (appointment_id,))
    return cur.rowcount == 1


def of_application(reg: Registry, tid: str) -> list[Appointment]:
    rows = reg.all("SELECT * FROM appointments WHERE transaction_id = ? ORDER BY id", (tid,))
    return [Appointment.from_row(r) for r in rows]


def on_day(reg: Registry, day: str, office: str | None = None) -> list[Appointment]:
    """The day's bookings, by time then queue number (cancelled ones too)."""
    sql = "SELECT * FROM appointments WHERE day = ?"
    params: tuple[Any, ...] = (day,)
    if office is not None:
        sql += " AND office = ?"
        params += (office,)
    rows = reg.all(sql + " ORDER BY slot, queue_number", params)
    return [Appointment.from_row(r) for r in rows]


def booked_from(reg: Registry, day: str) -> list[Appointment]:
    """Bookings still ``booked`` from ``day`` on."""
    rows = reg.all("SELECT * FROM appointments WHERE status = 'booked' AND day >= ? ORDER BY day, slot, queue_number", (day,))
    return [Appointment.from_row(r) for r in rows]


def booked_on_day(reg: Registry, day: str) -> list[Appointment]:
    """Bookings of ``day`` still to come."""
    rows = reg.all("SELECT * FROM appointments WHERE day = ? AND status = 'booked' ORDER BY slot, queue_number", (day,))
    return [Appointment.from_row(r) for r in rows]


def mark_reminded(reg: Registry, appointment_id: int, at: str) -> bool:
    """Record the reminder; False when another run recorded it first (sent once)."""
    cur = reg.conn.execute(
        "UPDATE appointments SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL AND status = 'booked'",
        (at, appointment_id),
    )
    return cur.rowcount == 1


def mark_cancelled(reg: Registry, appointment_id: int, at: str, by: str, reason: str, source: str | None) -> bool:
    """Cancel a booking (``source``: the reply that asked, if one did); the
    invitation's SEQUENCE goes up so that the calendar takes the CANCEL."""
    cur = reg.conn.execute(
        "UPDATE appointments SET status = 'cancelled', cancelled_at = ?, cancelled_by = ?, cancel_reason = ?, "
        "cancel_source = ?, sequence = sequence + 1 WHERE id = ? AND status = 'booked'",
        (at, by, reason, source, appointment_id),
    )
    return cur.rowcount == 1


def mark_attended(reg: Registry, appointment_id: int, at: str, by: str) -> bool:
    cur = reg.conn.execute(
        "UPDATE appointments SET status = 'attended', attended_at = ?, attended_by = ? WHERE id = ? AND status = 'booked'",
        (at, by, appointment_id),
    )
    return cur.rowcount == 1


# --- offers ---------------------------------------------------------------------------------
def add_offer(
    reg: Registry, *, tid: str, kind: str, why: str, slots: list[tuple[str, str]], at: str, by: str, source: str | None
) -> int:
    return reg.insert(
        "appointment_offers",
        {
            "transaction_id": tid,
            "kind": kind,
            "why": why,
            "slots": json.dumps([list(s) for s in slots]),
            "source_message": source,
            "offered_at": at,
            "offered_by": by,
        },
    )


def set_offer_message(reg: Registry, offer_id: int, message_id: str | None) -> None:
    reg.update("appointment_offers", "id", offer_id, {"message_id": message_id})


def last_offer(reg: Registry, tid: str) -> Offer | None:
    row = reg.one("SELECT * FROM appointment_offers WHERE transaction_id = ? ORDER BY id DESC LIMIT 1", (tid,))
    return None if row is None else Offer.from_row(row)


def offer_by_message(reg: Registry, tid: str, message_ids: list[str]) -> Offer | None:
    """The offer of ``tid`` sent as one of ``message_ids`` (the first of them
    found, in the order given: In-Reply-To first, then References from the newest)."""
    for mid in message_ids:
        row = reg.one(
            "SELECT * FROM appointment_offers WHERE transaction_id = ? AND message_id = ? ORDER BY id DESC LIMIT 1", (tid, mid)
        )
        if row is not None:
            return Offer.from_row(row)
    return None


def offer_by_source(reg: Registry, source: str) -> Offer | None:
    row = reg.one("SELECT * FROM appointment_offers WHERE source_message = ? ORDER BY id LIMIT 1", (source,))
    return None if row is None else Offer.from_row(row)


def offer_used(reg: Registry, offer_id: int) -> bool:
    """Whether a booking was made from offer ``offer_id``."""
    return reg.one("SELECT 1 FROM appointments WHERE offer_id = ? LIMIT 1", (offer_id,)) is not None


def unclear_answered(reg: Registry, tid: str, offer_id: int) -> bool:
    """Whether a reply that named no slot was answered since offer ``offer_id``
    was made (the answer is itself an offer, ``why`` "unclear"): once per offer."""
    sql = "SELECT 1 FROM appointment_offers WHERE transaction_id = ? AND id >= ? AND why = 'unclear' LIMIT 1"
    return reg.one(sql, (tid, offer_id)) is not None
