"""The application's life, after registration (DESIGN.md):

    received -> (info_requested <-> received) -> under_review -> approved | rejected
    approved -> fee_due -> fee_submitted -> fee_confirmed -> permit_issued -> delivered -> closed

Each step is done by a role, checked against the current status, written as an
audit event (who, when, status before and after) and, where the applicant should
know (R13, R16), told by a bilingual email queued in the same transaction. The
steps are the table ``STEPS`` (``desk.office``); the wording is
``templates/notices.toml``.

``Desk`` is the one object the command line and the intake hold: the state
machine is here; the fee is ``desk.payments``, permits ``desk.permit_steps``,
the actions that change no status ``desk.actions``, each reached through it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base.data.records import Application, Permit
from mailintake.base.deployment import Deployment
from mailintake.base.errors import StepRefused
from mailintake.base.wording import Problem
from mailintake.desk import answers, checklist, payments
from mailintake.desk.actions import IDENTITY_METHODS, Actions
from mailintake.desk.office import STEPS, Attachments, Office, Step, allowed_next
from mailintake.desk.permit_steps import PermitSteps
from mailintake.desk.roles import require

__all__ = ["IDENTITY_METHODS", "STEPS", "Desk", "Step", "allowed_next"]


class Desk(Office):
    """Everything the clerk's, approver's and finance officer's commands need."""

    def __init__(self, dep: Deployment):
        super().__init__(dep)
        self.actions = Actions(self)
        self.permits = PermitSteps(self)

    # --- the state machine ------------------------------------------------------------------------
    def step(
        self,
        verb: str,
        tid: str,
        now: datetime,
        *,
        reason: str = "",
        docs: tuple[str, ...] = (),
        ref: str = "",
        override: str = "",
        amount: int | None = None,
    ) -> Application:
        """Do one step of ``STEPS`` as the acting user; returns the application
        after it. ``request-info`` with no reason asks for the documents named, else the missing ones;
        ``approve`` is refused while ``desk.checklist.blocks`` finds anything,
        unless ``override`` gives the approver's reason for what may be overridden."""
        step = STEPS[verb]
        user = require(self.cfg, *step.roles)
        with self.reg.transaction():
            app = self.app(tid)
            if app.status not in step.sources:
                nxt = allowed_next(app.status)
                raise StepRefused(
                    f"{app.transaction_id}: cannot {verb}: status is {app.status}; "
                    f"allowed next: {', '.join(nxt) if nxt else 'none by this command'}"
                )
            if verb == "approve":
                checklist.guard_approval(self, app, override, user.login, now)
            if verb == "request-info" and not reason.strip():  # the documents named with --doc, else the missing ones
                reason, docs = checklist.request_default(self, app, docs)
            changes: dict[str, Any] = {}
            if verb in ("reject", "request-info", "reject-payment"):
                if not reason.strip():
                    raise StepRefused(f"{verb} needs --reason: the applicant is told why")
                changes["decision_reason"] = reason.strip() if verb == "reject" else app.decision_reason
            if verb == "confirm-payment":
                changes["payment_ref"] = ref = payments.check_reference(ref)  # one line, of a sensible length
                payments.check_amount(app, amount)
            if verb == "request-info":
                changes["flags"] = tuple(f for f in app.flags if f != "new_documents")
            given = (("reason", reason.strip()), ("docs", list(docs)), ("ref", ref.strip()), ("amount", amount))
            detail = {k: v for k, v in given if v}
            app = self.move(app, step.target, user.login, verb.replace("-", "_"), now, detail or None, **changes)
            extra: dict[str, Any] = {"reason": reason.strip(), "docs": list(docs), "problems": self._problem_wording(app)}
            attachments: Attachments = ()
            if verb == "confirm-payment":
                extra["receipt"], attachments = payments.issue_receipt(self, app, now, user.login)
            self.notify(app, step.notice, now, extra, attachments)
            if verb == "approve":
                app = payments.ask_for_fee(self, app, now)
        return app

    def _problem_wording(self, app: Application) -> list[Problem]:
        """The application-level problems (R9) in Thai and English."""
        domain = app.applicant_email.rpartition("@")[2]
        return [self.dep.wording.problem(code, domain=domain) for code in app.problems if code.startswith("juristic_")]

    def reply_inquiry(self, tid: str, answer: str, now: datetime, answer_en: str = "") -> None:
        """Answer an inquiry (process 1), threaded, in the bilingual frame (R28):
        ``answer`` in Thai, ``answer_en`` in English (``desk.answers``)."""
        user = require(self.cfg, "clerk")
        answer, answer_en = answers.check(answer, answer_en)
        with self.reg.transaction():
            app = self.app(tid)
            if app.kind != "inquiry":
                raise StepRefused(
                    f"{app.transaction_id} is an application, not an inquiry; allowed next: {', '.join(allowed_next(app.status))}"
                )
            app = self.move(app, "answered", user.login, "answered", now, {"answer": answer, "answer_en": answer_en or None})
            self.notify(app, "answer", now, {"answer": answer, "answer_en": answer_en})

    # --- the rooms, by the names the command line knows ----------------------------------------
    def fee_details(self, app: Application, amount: int, deadline: datetime) -> tuple[dict[str, Any], Attachments]:
        return payments.fee_details(self.cfg, self.cal, app, amount, deadline)

    def take(self, tid: str, now: datetime) -> str:
        return self.actions.take(tid, now)

    def assign(self, tid: str, login: str, now: datetime) -> None:
        self.actions.assign(tid, login, now)

    def note(self, tid: str, text: str, now: datetime) -> None:
        self.actions.note(tid, text, now)

    def verify_identity(self, tid: str, method: str, note: str, now: datetime) -> None:
        self.actions.verify_identity(tid, method, note, now)

    def check_documents(self, tid: str, poa: str | None, stamp: str | None, now: datetime) -> None:
        self.actions.check_documents(tid, poa, stamp, now)

    def set(self, tid: str, now: datetime, *, service: str | None = None, juristic: bool | None = None) -> Application:
        return self.actions.set(tid, now, service=service, juristic=juristic)

    def issue_permit(self, tid: str, now: datetime, valid_until: datetime | None = None) -> Permit:
        return self.permits.issue(tid, now, valid_until)

    def resend_permit(self, tid: str, now: datetime) -> Permit:
        return self.permits.resend(tid, now)

    def revoke_permit(self, number: str, reason: str, now: datetime) -> dict[str, Any]:
        return self.permits.revoke(number, reason, now)
