"""How the application's life reacts to what happens to its mail: the one hook
the intake road and the outbox call, inside their own transaction.

- ``REPLIED``: the applicant wrote again with files: documents asked for move the
  application back to ``received``; a slip (a JPEG or PDF the checks accept)
  while a fee is due moves it to ``fee_submitted``, anything else is explained
  and moves nothing; each time the applicant is told.
- ``ACCEPTED``: SMTP accepted mail; a permit whose two emails are both accepted
  is delivered (R19).
- ``BOUNCED``: a permit email bounced; delivery goes back to the clerk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailintake.base.data import applications
from mailintake.base.data import outbox as outgoing
from mailintake.base.data import permits as register
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import Application
from mailintake.desk import appointments, payments
from mailintake.desk.office import Office

REPLIED, ACCEPTED, BOUNCED = "replied", "accepted", "bounced"


@dataclass(frozen=True)
class Happened:
    """What happened: ``kind`` is REPLIED, ACCEPTED or BOUNCED."""

    kind: str
    transaction_id: str | None = None
    has_files: bool = False
    outbox_message_id: str | None = None
    # The reply's files: name, kind and whether the checks found nothing but a low resolution (a slip's test).
    files: tuple[tuple[str, str | None, bool], ...] = ()


def react(reg: Registry, happened: Happened, now: datetime, desk: Office | None = None) -> None:
    """Apply the application's reaction to ``happened`` (call inside the
    caller's transaction; a REPLIED needs the ``desk`` that writes notices)."""
    if happened.kind == REPLIED and desk is not None and happened.transaction_id:
        app = applications.get(reg, happened.transaction_id)
        if app is not None:
            _on_reply(desk, app, happened, now)
    elif happened.kind == ACCEPTED:
        _settle_deliveries(reg, now)
    elif happened.kind == BOUNCED and happened.outbox_message_id:
        _reopen_delivery(reg, happened.outbox_message_id, now)


def _on_reply(desk: Office, app: Application, happened: Happened, now: datetime) -> None:
    appointments.on_reply(desk, app, now)  # a slot's number, "cancel" or "appointment" (R10)
    if not happened.has_files:
        return
    if app.status == "info_requested":
        app = desk.move(app, "received", "system", "documents_received", now)
        desk.notify(app, "received_again", now)
    elif app.status == "fee_due":
        problems = payments.slip_problems(desk, happened.files)
        if problems:  # not a JPEG or PDF the checks accept: explained, the status stays (R17)
            detail = {"files": [name for name, _kind, _ok in happened.files], "problems": [p.code for p in problems]}
            desk.reg.add_event(at=now, actor="system", action="slip_refused", transaction_id=app.transaction_id, detail=detail)
            desk.notify(app, "slip_refused", now, {"problems": problems})
            return
        app = desk.move(app, "fee_submitted", "system", "slip_received", now)
        desk.notify(app, "fee_submitted", now)


def _settle_deliveries(reg: Registry, now: datetime) -> None:
    """A permit is delivered when SMTP has accepted both its emails (R19)."""
    for permit in register.awaiting_delivery(reg):
        ids = [m for m in (permit.pdf_message_id, permit.password_message_id) if m]
        sent = outgoing.statuses(reg, ids)
        if len(ids) != 2 or len(sent) != 2 or any(s != "sent" for s in sent.values()):
            continue
        with reg.transaction():
            register.mark_delivered(reg, permit.number, now)
            app = applications.get(reg, permit.transaction_id)
            before = app.status if app else None
            if before == "permit_issued":
                applications.update(reg, permit.transaction_id, status="delivered", updated_at=to_iso(now))
            reg.add_event(
                at=now,
                actor="system",
                action="permit_delivered",
                transaction_id=permit.transaction_id,
                before=before,
                after="delivered" if before == "permit_issued" else before,
                detail={"permit": permit.number},
            )


def _reopen_delivery(reg: Registry, outbox_message_id: str, now: datetime) -> None:
    """A bounce of a permit email puts delivery back in the clerk's hands."""
    permit = register.by_message_id(reg, outbox_message_id)
    if permit is None or permit.status == "revoked":
        return
    register.mark_delivery_failed(reg, permit.number)
    app = applications.get(reg, permit.transaction_id)
    if app is not None:
        # A closed application is open again: its permit did not arrive (desk.delays closes).
        back = app.status in ("delivered", "closed")
        if back:
            applications.update(reg, permit.transaction_id, status="permit_issued", updated_at=to_iso(now))
        reg.add_event(
            at=now,
            actor="system",
            action="permit_delivery_bounced",
            transaction_id=permit.transaction_id,
            before=app.status,
            after="permit_issued" if back else app.status,
            detail={
                "permit": permit.number,
                "bounced": outbox_message_id,
                "next": "mailintake permit resend " + permit.transaction_id,
            },
        )
