"""How many automatic answers went out lately (issues 11 and 12), counted in
two kinds: the first acknowledgement of an application (outbox kind ``ack`` of
an application of kind ``application``), capped on its own by ``[limits]
first_acks_per_address_per_hour``; and every other automatic answer
(``senders.AUTOMATIC_ANSWERS``: an inquiry's acknowledgement, receipts, VERIFY
answers, oversized notes), capped by ``answers_per_address_per_hour`` and
``answers_per_hour``. Reads only.
"""

from __future__ import annotations

from datetime import datetime

from mailintake.base.data.db import Registry
from mailintake.base.data.senders import AUTOMATIC_ANSWERS

_FIRST_ACK = "(o.kind = 'ack' AND COALESCE(a.kind, '') = 'application')"
_FROM = "FROM outbox o LEFT JOIN applications a ON a.transaction_id = o.transaction_id"


def _recent(rows: list[dict[str, str]], since: datetime) -> int:
    return sum(1 for r in rows if datetime.fromisoformat(r["created_at"]) > since)


def others_to_since(reg: Registry, address: str, since: datetime, at_most: int) -> int:
    """Automatic answers but first acknowledgements queued to ``address`` after ``since`` (up to ``at_most``)."""
    marks = ", ".join("?" for _ in AUTOMATIC_ANSWERS)
    rows = reg.all(
        f"SELECT o.created_at {_FROM} WHERE lower(o.recipient) = ? AND o.kind IN ({marks}) AND NOT {_FIRST_ACK} "
        "ORDER BY o.id DESC LIMIT ?",
        (address.lower(), *AUTOMATIC_ANSWERS, at_most),
    )
    return _recent(rows, since)


def others_since(reg: Registry, since: datetime, at_most: int) -> int:
    """Automatic answers but first acknowledgements queued to anyone after ``since``."""
    marks = ", ".join("?" for _ in AUTOMATIC_ANSWERS)
    rows = reg.all(
        f"SELECT o.created_at {_FROM} WHERE o.kind IN ({marks}) AND NOT {_FIRST_ACK} ORDER BY o.id DESC LIMIT ?",
        (*AUTOMATIC_ANSWERS, at_most),
    )
    return _recent(rows, since)


def first_acks_to_since(reg: Registry, address: str, since: datetime, at_most: int) -> int:
    """First acknowledgements of applications queued to ``address`` after ``since``."""
    rows = reg.all(
        f"SELECT o.created_at {_FROM} WHERE lower(o.recipient) = ? AND {_FIRST_ACK} ORDER BY o.id DESC LIMIT ?",
        (address.lower(), at_most),
    )
    return _recent(rows, since)
