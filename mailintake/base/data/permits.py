"""The permit register's rows (table ``permits``): the SQL of issuing, sending,
delivering, revoking and listing permits. Rows come back as ``Permit`` records;
writes happen inside the caller's transaction (``Registry.transaction()``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import Permit

# The columns ``permit list`` shows (its JSON contract): no password hash, no particulars.
LISTED = (
    "number",
    "transaction_id",
    "service",
    "holder_name",
    "holder_email",
    "issued_at",
    "valid_until",
    "status",
    "signed",
    "delivered_at",
    "revoked_at",
)


def _one(reg: Registry, sql: str, params: tuple[Any, ...]) -> Permit | None:
    row = reg.one(sql, params)
    return None if row is None else Permit.from_row(row)


# --- reading -------------------------------------------------------------------------------
def get(reg: Registry, number: str) -> Permit | None:
    """The permit numbered ``number`` (compared in upper case, as numbers are written)."""
    return _one(reg, "SELECT * FROM permits WHERE number = ?", (number.strip().upper(),))


def by_file(reg: Registry, pdf_sha256: str) -> Permit | None:
    """The permit whose file (as last sent) has this SHA-256."""
    return _one(reg, "SELECT * FROM permits WHERE pdf_sha256 = ?", (pdf_sha256,))


def by_message_id(reg: Registry, message_id: str) -> Permit | None:
    """The permit one of whose two emails has this Message-ID."""
    return _one(reg, "SELECT * FROM permits WHERE pdf_message_id = ? OR password_message_id = ?", (message_id, message_id))


def current_of(reg: Registry, tid: str) -> Permit | None:
    """The application's latest permit not revoked."""
    return _one(
        reg, "SELECT * FROM permits WHERE transaction_id = ? AND status != 'revoked' ORDER BY issued_at DESC LIMIT 1", (tid,)
    )


def awaiting_delivery(reg: Registry) -> list[Permit]:
    """Permits issued and sent whose delivery is not settled yet."""
    return [Permit.from_row(r) for r in reg.all("SELECT * FROM permits WHERE status = 'issued' AND pdf_message_id IS NOT NULL")]


def list_permits(reg: Registry, as_of: datetime | None = None) -> list[Permit]:
    """The register in the order permits were issued; with ``as_of``, as it
    stood then: permits issued by then, a revocation only once made."""
    found = [Permit.from_row(r) for r in reg.all("SELECT * FROM permits ORDER BY issued_at, number")]
    if as_of is None:
        return found
    then = [p for p in found if datetime.fromisoformat(p.issued_at) <= as_of]
    return [
        replace(p, status="delivered" if p.delivered_at else "issued", revoked_at=None, revoke_reason=None)
        if p.revoked_at and datetime.fromisoformat(p.revoked_at) > as_of
        else p
        for p in then
    ]


def listed(permit: Permit) -> dict[str, Any]:
    """The JSON-ready row of ``permit list``."""
    return {k: getattr(permit, k) for k in LISTED}


def status_of_number(reg: Registry, number: str) -> str | None:
    """The permit's status in the register now, or None when there is no such permit."""
    row = reg.one("SELECT status FROM permits WHERE number = ?", (number.strip().upper(),))
    return None if row is None else str(row["status"])


# --- writing -------------------------------------------------------------------------------
def add(reg: Registry, permit: Permit) -> None:
    """Enter a new permit in the register."""
    row = permit.as_dict()
    row["particulars"] = json.dumps(permit.particulars, ensure_ascii=False)
    reg.insert("permits", row)


def record_sending(
    reg: Registry,
    number: str,
    *,
    pdf_sha256: str,
    qr_hash: str,
    signed: bool,
    password_hash: str,
    pdf_message_id: str | None,
    password_message_id: str | None,
    content_sha256: str | None = None,
) -> None:
    """The file just made and the two emails that carry it: the permit is issued, not delivered yet."""
    reg.update(
        "permits",
        "number",
        number,
        {
            "pdf_sha256": pdf_sha256,
            "qr_hash": qr_hash,
            "signed": int(signed),
            "password_hash": password_hash,
            "status": "issued",
            "delivered_at": None,
            "pdf_message_id": pdf_message_id,
            "password_message_id": password_message_id,
            "content_sha256": content_sha256,
        },
    )


def mark_delivered(reg: Registry, number: str, now: datetime) -> None:
    reg.update("permits", "number", number, {"status": "delivered", "delivered_at": to_iso(now)})


def mark_delivery_failed(reg: Registry, number: str) -> None:
    reg.update("permits", "number", number, {"status": "delivery_failed", "delivered_at": None})


def revoke(reg: Registry, number: str, reason: str, now: datetime) -> None:
    reg.update("permits", "number", number, {"status": "revoked", "revoked_at": to_iso(now), "revoke_reason": reason})
