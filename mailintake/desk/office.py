"""What every room of the desk shares: the deployment it works in, the
application by its ID, its service and time limit, a status move written with
its audit event, an action that changes no status, and the bilingual notice to
the applicant queued in the same transaction (R13, R16).

``Desk`` (``desk.lifecycle``) is an ``Office``; the rooms (``desk.actions``,
``desk.payments``, ``desk.permit_steps``) and ``desk.reactions`` work through one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailintake.base.config import Config, User
from mailintake.base.data import applications
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import Application
from mailintake.base.deployment import Deployment
from mailintake.base.errors import NotFound
from mailintake.base.headers import valid_address
from mailintake.base.outgoing import compose, queue
from mailintake.base.rules import Service
from mailintake.desk import clock
from mailintake.desk.roles import require

Attachments = tuple[tuple[str, bytes, str], ...]


@dataclass(frozen=True)
class Step:
    """One step of the state machine: who may do it, from which statuses, to
    which status, and the notice that tells the applicant."""

    verb: str
    roles: tuple[str, ...]
    sources: tuple[str, ...]
    target: str
    notice: str


STEPS: dict[str, Step] = {
    s.verb: s
    for s in (
        Step("review", ("clerk",), ("received",), "under_review", "under_review"),
        Step("request-info", ("clerk",), ("received", "under_review"), "info_requested", "info_requested"),
        Step("approve", ("approver",), ("under_review",), "approved", "approved"),
        Step("reject", ("approver",), ("received", "info_requested", "under_review"), "rejected", "rejected"),
        Step("confirm-payment", ("finance",), ("fee_submitted",), "fee_confirmed", "fee_confirmed"),
        Step("reject-payment", ("finance",), ("fee_submitted",), "fee_due", "payment_rejected"),
        # No answer to a request for information within [reminders] info_answer_days
        # working days: the deadline job (desk.reminders.withdraw) withdraws it as
        # "system"; a clerk may too, when the applicant asks.
        Step("withdraw", ("clerk",), ("info_requested",), "withdrawn", "withdrawn"),
    )
}
# Statuses reached by other commands: permit issue (permit_issued), the outbox
# when both permit emails are accepted (delivered), the deadline job once the
# result was told (closed: desk.delays.close_finished), the deadline job past
# the fee deadline with no slip (fee_expired: desk.payments.lapse_unpaid).


def allowed_next(status: str) -> list[str]:
    return [s.verb for s in STEPS.values() if status in s.sources]


class Office:
    """The deployment and the operations every room of the desk uses."""

    def __init__(self, dep: Deployment):
        self.dep = dep
        self.cfg: Config = dep.cfg
        self.reg: Registry = dep.registry
        self.cal = dep.calendar
        self.renderer = dep.renderer

    @property
    def services(self) -> dict[str, Service]:
        return {s.id: s for s in self.dep.services}

    # --- reading --------------------------------------------------------------------------
    def app(self, tid: str) -> Application:
        found = applications.get(self.reg, tid)
        if found is None:
            raise NotFound(f"no application {tid}")
        return found

    def service_of(self, app: Application) -> Service | None:
        return self.dep.service(app.service)

    def due_at(self, deemed: datetime, service: Service | None) -> datetime:
        """When the application must be decided: the service's time limit in working days (R11)."""
        days = service.time_limit_days if service else self.cfg.default_time_limit_days
        day = self.cal.add_working_days(self.cal.local(deemed).date(), days)
        return self.cal.at(day, self.cfg.hours.close)

    # --- writing --------------------------------------------------------------------------
    def move(
        self, app: Application, target: str, actor: str, action: str, now: datetime, detail: Any = None, **changes: Any
    ) -> Application:
        """Move ``app`` to ``target`` with its audit event; returns it after the
        move, its service clock read again when the move starts, pauses or stops it."""
        moved = applications.move(self.reg, app, target, actor=actor, action=action, now=now, detail=detail, **changes)
        if app.status in clock.RUNNING + clock.PAUSED or target in clock.RUNNING + clock.PAUSED:
            moved = self.refresh_clock(moved)
        return moved

    def refresh_clock(self, app: Application) -> Application:
        """Read the service clock of ``app`` from its events and store it (``desk.clock``)."""
        limit = clock.limit_of(self.service_of(app), self.cfg.default_time_limit_days)
        clock.refresh(self.reg, self.cal, self.cfg.hours.close, app, limit)
        return self.app(app.transaction_id)

    def act(
        self, tid: str, now: datetime, roles: tuple[str, ...], action: str, changes: dict[str, Any], detail: Any
    ) -> tuple[User, Application]:
        """An action that changes no status, by a user holding one of ``roles``,
        written as an audit event; returns the user and the application after it."""
        user = require(self.cfg, *roles)
        with self.reg.transaction():
            app = self.app(tid)
            if changes:
                applications.update(self.reg, app.transaction_id, **changes, updated_at=to_iso(now))
            self.reg.add_event(
                at=now,
                actor=user.login,
                action=action,
                transaction_id=app.transaction_id,
                before=app.status,
                after=app.status,
                detail=detail,
            )
        return user, self.app(tid)

    # --- mail to the applicant ------------------------------------------------------------------
    def notify(
        self,
        app: Application,
        key: str,
        now: datetime,
        extra: dict[str, Any] | None = None,
        attachments: Attachments = (),
        *,
        due: datetime | None = None,
        sms: tuple[str, str] | None = None,
    ) -> str | None:
        """Queue the ``key`` notice to the applicant, threaded on their mail,
        due at ``due`` (default at once; ``sms``: number and text of a secret's
        second channel); returns its Message-ID, or None when there is no
        address to write to."""
        tid = app.transaction_id
        inbound = [m.message_id for m in applications.inbound_of(self.reg, tid) if m.message_id is not None]
        # A template context is free-form: the notice templates read these names.
        ctx: dict[str, Any] = {
            "tid": tid,
            "app": app,
            "service": self.service_of(app),
            "reason": "",
            "docs": [],
            "fee": None,
            "answer": "",
            "problems": [],
        }
        ctx.update(extra or {})
        ctx["notice"] = self.renderer.notice(key, ctx)
        recipient = valid_address(app.reply_address)  # the address the applicant named, else theirs (R5)
        if recipient is None:
            self.reg.add_event(
                at=now, actor="system", action=f"{key}_not_sent", transaction_id=tid, detail="no valid address to write to"
            )
            return None
        composed = compose(
            self.cfg,
            self.renderer,
            template="notice",
            recipient=recipient,
            context=ctx,
            now=now,
            tid=tid,
            in_reply_to=inbound[-1] if inbound else None,
            references=tuple(inbound),
            auto=False,
            attachments=attachments,
        )
        queue(self.cfg, self.reg, composed, kind=key, tid=tid, now=now, due=due, sms=sms)
        if self.app(tid).replied_at is None:  # Table 2's "date replied": the first reply, never moved (R11)
            applications.update(self.reg, tid, replied_at=to_iso(now))
        return composed.message_id
