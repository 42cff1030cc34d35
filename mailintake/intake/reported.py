"""What a delivery report or read receipt does to the mail it reports on.

A hard bounce (RFC 3464 ``Action: failed``, status 5.x.x) blocks the address
for ``bounce_block_days``, and the acknowledgement no longer counts as given;
delay and delivery notes are kept on the outgoing row; a read receipt (RFC 8098)
marks it read. The application's reaction (a permit's delivery goes back to the
clerk) goes through ``desk.reactions.react``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from mailintake.base.config import Config
from mailintake.base.data import outbox as table
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import OutgoingMail
from mailintake.desk.reactions import BOUNCED, Happened, react
from mailintake.intake.classify import BOUNCE, READ_RECEIPT, Verdict
from mailintake.intake.delivery import FAILED


def record_report(
    cfg: Config, reg: Registry, row: OutgoingMail | Mapping[str, Any], verdict: Verdict, now: datetime, message_row: int
) -> dict[str, Any]:
    """Apply a delivery report to the outgoing mail ``row`` it is about (inside
    the caller's transaction); returns what was done, for the audit event."""
    mail = row if isinstance(row, OutgoingMail) else OutgoingMail.from_row(row)
    if verdict.kind == BOUNCE:
        return _bounced(cfg, reg, mail, verdict, now, message_row)
    if verdict.kind == READ_RECEIPT:
        disposition = verdict.report.disposition if verdict.report else None
        if disposition == "displayed":
            table.mark_read(reg, mail, now)
            return {"outcome": "read", "message_id": mail.message_id}
        return _note(reg, mail, f"disposition {disposition or 'unknown'}", None, "", now, message_row)
    about = verdict.report.about(mail.recipient) if verdict.report else ()
    notes = [_note(reg, mail, r.action, r.status, r.diagnostic, now, message_row) for r in about]
    return notes[-1] if notes else _note(reg, mail, "unknown", None, verdict.reason, now, message_row)


def _note(
    reg: Registry, mail: OutgoingMail, action: str, status: str | None, diagnostic: str, now: datetime, message_row: int
) -> dict[str, Any]:
    """A delivery note on the outgoing mail (delayed, relayed, delivered, expanded)."""
    table.add_delivery_note(
        reg, mail, {"at": to_iso(now), "action": action, "status": status, "diagnostic": diagnostic[:200], "message": message_row}
    )
    return {"outcome": "delivery_note", "action": action, "status": status, "message_id": mail.message_id}


def _bounced(cfg: Config, reg: Registry, mail: OutgoingMail, verdict: Verdict, now: datetime, message_row: int) -> dict[str, Any]:
    """The mail did not arrive. A permanent failure (5.x.x) blocks the address;
    either way the acknowledgement no longer counts as given, and a permit's
    delivery goes back to the clerk."""
    about = verdict.report.about(mail.recipient) if verdict.report else ()
    failed = [r for r in about if r.action == FAILED]
    hard = any(r.permanent for r in failed)
    detail = "; ".join(dict.fromkeys(r.describe() for r in failed)) or verdict.reason
    table.mark_bounced(reg, mail, f"{'hard' if hard else 'soft'} bounce: {detail}")
    if mail.kind == "ack" and mail.transaction_id:
        table.unacknowledge(reg, mail.transaction_id)
    out: dict[str, Any] = {"outcome": "hard_bounce" if hard else "soft_bounce", "message_id": mail.message_id}
    if hard and cfg.smtp.bounce_block_days > 0:
        out["blocked_until"] = _block(cfg, reg, mail, detail, now, message_row)
    react(reg, Happened(BOUNCED, mail.transaction_id, outbox_message_id=mail.message_id), now)
    return out


def _block(cfg: Config, reg: Registry, mail: OutgoingMail, reason: str, now: datetime, message_row: int) -> str:
    """Block the address for ``bounce_block_days`` from ``now`` (a later hard
    bounce extends the block)."""
    until = to_iso(now + timedelta(days=cfg.smtp.bounce_block_days)) or ""
    address = mail.recipient.strip().lower()
    table.block_address(reg, address, reason=reason, since=now, until=until, outbox_id=mail.id, message_row=message_row)
    reg.add_event(
        at=now,
        actor="system",
        action="address_blocked",
        transaction_id=mail.transaction_id,
        detail={"address": address, "until": until, "reason": reason[:300], "message": message_row},
    )
    return until
