"""The official e-receipts issued (table ``receipts``, R17): each numbered from
its own yearly sequence (``000001/2568``), with the application, the date, the
amount, the payment reference, the finance officer and the sha256 of its PDF
in the file store, so a copy can be given later exactly as sent. Writes happen
inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso

_COLUMNS = "label, transaction_id, issued_at, amount, reference, issued_by, sha256"


def add(
    reg: Registry, label: str, tid: str, at: datetime, *, amount: int, reference: str | None, officer: str, sha256: str
) -> None:
    reg.insert(
        "receipts",
        {
            "label": label,
            "transaction_id": tid,
            "issued_at": to_iso(at),
            "amount": amount,
            "reference": reference,
            "issued_by": officer,
            "sha256": sha256,
        },
    )


def get(reg: Registry, label: str) -> dict[str, Any] | None:
    return reg.one(f"SELECT {_COLUMNS} FROM receipts WHERE label = ?", (label,))


def of(reg: Registry, tid: str) -> list[dict[str, Any]]:
    """The receipts of one application, in the order issued."""
    return reg.all(f"SELECT {_COLUMNS} FROM receipts WHERE transaction_id = ? ORDER BY issued_at, label", (tid,))


def every(reg: Registry) -> list[dict[str, Any]]:
    """Every receipt issued, newest first."""
    return reg.all(f"SELECT {_COLUMNS} FROM receipts ORDER BY issued_at DESC, label DESC")
