"""The application's life, after registration (DESIGN.md):

    received -> (info_requested <-> received) -> under_review -> approved | rejected
    approved -> fee_due -> fee_submitted -> fee_confirmed -> permit_issued -> delivered -> closed

Each step is done by a role, checked against the current status, written as an
audit event (who, when, status before and after) and, where the applicant should
know (R13, R16), told by a bilingual email queued in the same transaction. The
steps are the table ``STEPS``; the wording is ``templates/notices.toml``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailintake.base import thaitext
from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config, User
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.errors import NotFound, StepRefused
from mailintake.base.outgoing import compose, queue
from mailintake.base.rules import Service, load_services
from mailintake.base.wording import Renderer
from mailintake.desk import promptpay
from mailintake.desk.roles import require
from mailintake.permits import document as permits


@dataclass(frozen=True)
class Step:
    verb: str
    roles: tuple[str, ...]
    sources: tuple[str, ...]
    target: str
    notice: str


STEPS: dict[str, Step] = {s.verb: s for s in (
    Step("review", ("clerk",), ("received",), "under_review", "under_review"),
    Step("request-info", ("clerk",), ("received", "under_review"), "info_requested", "info_requested"),
    Step("approve", ("approver",), ("under_review",), "approved", "approved"),
    Step("reject", ("approver",), ("received", "info_requested", "under_review"), "rejected", "rejected"),
    Step("confirm-payment", ("finance",), ("fee_submitted",), "fee_confirmed", "fee_confirmed"),
    Step("reject-payment", ("finance",), ("fee_submitted",), "fee_due", "payment_rejected"),
)}
# Statuses reached by other commands: permit issue (permit_issued), the outbox
# when both permit emails are accepted (delivered).
IDENTITY_METHODS = ("photo", "in-person", "digital-id")


def allowed_next(status: str) -> list[str]:
    return [s.verb for s in STEPS.values() if status in s.sources]


class Desk:
    """Everything the clerk's, approver's and finance officer's commands need."""

    def __init__(self, cfg: Config, reg: Registry | None = None, renderer: Renderer | None = None):
        self.cfg = cfg
        self.reg = reg or Registry(cfg.db_path)
        self.renderer = renderer or Renderer(cfg)
        self.cal = WorkCalendar(cfg.hours)
        self.services = {s.id: s for s in load_services(cfg.search_path("rules"))}

    # --- reading --------------------------------------------------------------------------
    def app(self, tid: str) -> dict[str, Any]:
        row = self.reg.one("SELECT * FROM applications WHERE transaction_id = ?", (tid.upper(),))
        if row is None:
            raise NotFound(f"no application {tid}")
        return row

    def service_of(self, app: dict[str, Any]) -> Service | None:
        return self.services.get(app["service"]) if app["service"] else None

    def due_at(self, deemed: datetime, service: Service | None) -> datetime:
        days = service.time_limit_days if service else self.cfg.default_time_limit_days
        day = self.cal.add_working_days(self.cal.local(deemed).date(), days)
        return self.cal.at(day, self.cfg.hours.close)

    # --- mail to the applicant ------------------------------------------------------------------
    def notify(self, app: dict[str, Any], key: str, now: datetime, extra: dict[str, Any] | None = None,
               attachments: tuple[tuple[str, bytes, str], ...] = ()) -> str | None:
        """Queue the ``key`` notice to the applicant, threaded on their mail."""
        tid = app["transaction_id"]
        inbound = [r["message_id"] for r in self.reg.all(
            "SELECT message_id FROM messages WHERE transaction_id = ? AND kind IN ('application', 'reply') "
            "AND message_id IS NOT NULL ORDER BY id", (tid,))]
        ctx: dict[str, Any] = {"tid": tid, "app": app, "service": self.service_of(app), "reason": "", "docs": [],
                               "fee": None, "answer": "", "problems": [], "derived": False}
        ctx.update(extra or {})
        ctx["notice"] = self.renderer.notice(key, ctx)
        from mailintake.intake.parse import valid_address

        recipient = valid_address(app["applicant_email"])
        if recipient is None:
            self.reg.add_event(at=now, actor="system", action=f"{key}_not_sent", transaction_id=tid,
                               detail="no valid address to write to")
            return None
        composed = compose(self.cfg, self.renderer, template="notice", recipient=recipient, context=ctx, now=now,
                           tid=tid, in_reply_to=inbound[-1] if inbound else None, references=tuple(inbound),
                           auto=False, attachments=attachments)
        queue(self.cfg, self.reg, composed, kind=key, tid=tid, now=now)
        self.reg.update("applications", "transaction_id", tid, {"replied_at": to_iso(now)})
        return composed.message_id

    # --- the state machine ------------------------------------------------------------------------
    def _move(self, app: dict[str, Any], target: str, actor: str, action: str, now: datetime,
              detail: Any = None, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        tid = app["transaction_id"]
        self.reg.update("applications", "transaction_id", tid,
                        {"status": target, "updated_at": to_iso(now), **(changes or {})})
        self.reg.add_event(at=now, actor=actor, action=action, transaction_id=tid, before=app["status"], after=target,
                           detail=detail)
        return self.app(tid)

    def step(self, verb: str, tid: str, now: datetime, *, reason: str = "", docs: tuple[str, ...] = (),
             ref: str = "") -> dict[str, Any]:
        """Do one step of ``STEPS`` as the acting user; returns the application after it."""
        step = STEPS[verb]
        user = require(self.cfg, *step.roles)
        with self.reg.transaction():
            app = self.app(tid)
            if app["status"] not in step.sources:
                nxt = allowed_next(app["status"])
                raise StepRefused(f"{app['transaction_id']}: cannot {verb}: status is {app['status']}; "
                                  f"allowed next: {', '.join(nxt) if nxt else 'none by this command'}")
            self._guard(step, app)
            changes: dict[str, Any] = {}
            if verb in ("reject", "request-info", "reject-payment"):
                if not reason.strip():
                    raise StepRefused(f"{verb} needs --reason: the applicant is told why")
                changes["decision_reason"] = reason.strip() if verb == "reject" else app["decision_reason"]
            if verb == "confirm-payment":
                if not ref.strip():
                    raise StepRefused("confirm-payment needs --ref (the bank or PromptPay reference)")
                changes["payment_ref"] = ref.strip()
            if verb == "request-info":
                flags = [f for f in json.loads(app["flags"]) if f != "new_documents"]
                changes["flags"] = json.dumps(flags)
            detail = {k: v for k, v in (("reason", reason.strip()), ("docs", list(docs)), ("ref", ref.strip())) if v}
            app = self._move(app, step.target, user.login, verb.replace("-", "_"), now, detail or None, changes)
            self.notify(app, step.notice, now, {"reason": reason.strip(), "docs": list(docs),
                                                "problems": self._problem_wording(app)})
            if verb == "approve":
                app = self._after_approval(app, user, now)
        return app

    def _problem_wording(self, app: dict[str, Any]) -> list[Any]:
        """The application-level problems (R9) in Thai and English."""
        from mailintake.base.wording import Wording

        wording = Wording(self.cfg.find("templates", "problems.toml"))
        domain = app["applicant_email"].rpartition("@")[2]
        return [wording.problem(code, domain=domain) for code in json.loads(app["problems"]) if code.startswith("juristic_")]

    def _guard(self, step: Step, app: dict[str, Any]) -> None:
        service = self.service_of(app)
        if step.verb == "approve":
            if app["kind"] == "inquiry":
                raise StepRefused(f"{app['transaction_id']} is an inquiry: answer it with `triage reply`")
            if service is None:
                raise StepRefused(f"{app['transaction_id']}: cannot approve: no service set; "
                                  "use `triage set ID --service SERVICE`")
            if service.risk in ("medium", "high") and not app["identity"]:
                raise StepRefused(f"{app['transaction_id']}: cannot approve: identity not verified ({service.risk}-risk "
                                  "service); record it with `triage verify-identity`")

    def _after_approval(self, app: dict[str, Any], user: User, now: datetime) -> dict[str, Any]:
        """A service with a fee moves on to fee_due and the fee notice goes out (R17)."""
        service = self.service_of(app)
        if service is None or service.fee is None:
            return app
        deadline_day = self.cal.add_working_days(self.cal.local(now).date(), self.cfg.payment.deadline_days)
        deadline = self.cal.at(deadline_day, self.cfg.hours.close)
        app = self._move(app, "fee_due", "system", "fee_due", now, {"amount": service.fee, "deadline": to_iso(deadline)},
                         {"fee_amount": service.fee, "fee_due_at": to_iso(deadline)})
        fee, attachments = self.fee_details(app, service.fee, deadline)
        self.notify(app, "fee_due", now, {"fee": fee}, attachments)
        return app

    def fee_details(self, app: dict[str, Any], amount: int, deadline: datetime) -> tuple[dict[str, Any], tuple[tuple[str, bytes, str], ...]]:
        p = self.cfg.payment
        th, en = [], []
        if p.bank_account:
            th.append(f"โอนเงินเข้าบัญชี {p.bank_name} เลขที่ {p.bank_account} ชื่อบัญชี {p.account_name}".strip())
            en.append(f"Bank transfer to {p.bank_name} account {p.bank_account} ({p.account_name})".strip())
        if p.promptpay_id:
            th.append(f"พร้อมเพย์ {p.promptpay_id}")
            en.append(f"PromptPay {p.promptpay_id}")
        if p.comp_code:
            th.append(f"ชำระที่เคาน์เตอร์ธนาคาร (Comp Code {p.comp_code}) อ้างอิง {app['transaction_id']}")
            en.append(f"Bank counter bill payment (Comp Code {p.comp_code}), reference {app['transaction_id']}")
        if not th:
            th.append(f"ชำระที่สำนักงาน โทรศัพท์สอบถาม {self.cfg.agency.phone}")
            en.append(f"At our office; call {self.cfg.agency.phone}")
        local = self.cal.local(deadline)
        fee = {"amount": f"{amount:,}", "channels_th": th, "channels_en": en, "qr": bool(p.promptpay_id),
               "deadline_th": thaitext.thai_date(local), "deadline_en": thaitext.english_date(local)}
        attachments: tuple[tuple[str, bytes, str], ...] = ()
        if p.promptpay_id:
            png = promptpay.qr_png(promptpay.payload(p.promptpay_id, float(amount)))
            attachments = ((f"promptpay-{app['transaction_id']}.png", png, "image/png"),)
        return fee, attachments

    # --- actions that change no status ---------------------------------------------------------------
    def _act(self, tid: str, now: datetime, roles: tuple[str, ...], action: str, changes: dict[str, Any],
             detail: Any) -> tuple[User, dict[str, Any]]:
        user = require(self.cfg, *roles)
        with self.reg.transaction():
            app = self.app(tid)
            if changes:
                self.reg.update("applications", "transaction_id", app["transaction_id"],
                                {**changes, "updated_at": to_iso(now)})
            self.reg.add_event(at=now, actor=user.login, action=action, transaction_id=app["transaction_id"],
                               before=app["status"], after=app["status"], detail=detail)
        return user, self.app(tid)

    def take(self, tid: str, now: datetime) -> str:
        user = require(self.cfg, "clerk")
        self._act(tid, now, ("clerk",), "assigned", {"assigned_to": user.login}, {"to": user.login})
        return user.login

    def assign(self, tid: str, login: str, now: datetime) -> None:
        if login not in self.cfg.users:
            raise NotFound(f"no user {login} in [users]")
        self._act(tid, now, ("clerk", "admin"), "assigned", {"assigned_to": login}, {"to": login})

    def note(self, tid: str, text: str, now: datetime) -> None:
        """An internal note: kept in the audit log, never emailed."""
        self._act(tid, now, ("clerk", "approver", "finance", "admin"), "note", {}, text.strip()[:4000])

    def verify_identity(self, tid: str, method: str, note: str, now: datetime) -> None:
        """R10: record how the applicant's identity was proven."""
        if method not in IDENTITY_METHODS:
            raise StepRefused(f"--method must be one of {', '.join(IDENTITY_METHODS)}")
        record = json.dumps({"method": method, "note": note.strip()[:500], "at": to_iso(now)}, ensure_ascii=False)
        self._act(tid, now, ("clerk", "approver"), "identity_verified", {"identity": record},
                  {"method": method, "note": note.strip()[:500]})

    def check_documents(self, tid: str, poa: str | None, stamp: str | None, now: datetime) -> None:
        """R15: power of attorney and e-Stamp duty as the clerk found them."""
        changes: dict[str, Any] = {k: v for k, v in (("poa", poa), ("stamp", stamp)) if v}
        if not changes:
            raise StepRefused("give --poa and/or --stamp")
        detail = dict(changes)
        if poa == "ok":
            changes["problems"] = json.dumps([p for p in json.loads(self.app(tid)["problems"]) if p != "juristic_no_poa"])
        self._act(tid, now, ("clerk",), "documents_checked", changes, detail)

    def set(self, tid: str, now: datetime, *, service: str | None = None, juristic: bool | None = None) -> dict[str, Any]:
        """The clerk sets the service of an unassigned application, or marks a juristic person."""
        changes: dict[str, Any] = {}
        if service is not None:
            if service not in self.services:
                raise StepRefused(f"no service {service!r}; known: {', '.join(sorted(self.services))}")
            app = self.app(tid)
            changes["service"] = service
            changes["due_at"] = to_iso(self.due_at(datetime.fromisoformat(app["deemed_received_at"]),
                                                   self.services[service]))
        if juristic is not None:
            changes["juristic"] = int(juristic)
            changes["problems"] = json.dumps(self._juristic_problems(self.app(tid), juristic, service))
        if not changes:
            raise StepRefused("give --service or --juristic")
        _user, app = self._act(tid, now, ("clerk",), "updated", changes,
                               {k: v for k, v in changes.items() if k != "due_at"})
        return app

    def _juristic_problems(self, app: dict[str, Any], juristic: bool, service_id: str | None) -> list[str]:
        """R9 problems when the clerk marks a company: free webmail, no power of attorney."""
        from mailintake.base.rules import load_rules

        problems = [p for p in json.loads(app["problems"]) if not p.startswith("juristic_")]
        if not juristic:
            return problems
        rules = load_rules(self.cfg.find("rules", "mail.toml"))
        service = self.services.get(service_id or app["service"] or "")
        if service is not None and not service.juristic_allowed:
            problems.append("juristic_not_allowed")
        if app["applicant_email"].rpartition("@")[2].lower() in rules.webmail_domains:
            problems.append("juristic_webmail")
        names = [r["name"].lower() for r in self.reg.all("SELECT name FROM files WHERE transaction_id = ?",
                                                           (app["transaction_id"],))]
        if app["poa"] != "ok" and not any(k in n for n in names for k in rules.poa_keywords):
            problems.append("juristic_no_poa")
        return problems

    # --- permits (R18, R19) -------------------------------------------------------------------------
    def _permit_context(self, row: dict[str, Any]) -> dict[str, Any]:
        until = datetime.fromisoformat(row["valid_until"])
        return {"number": row["number"], "valid_until_th": thaitext.thai_date(until, with_time=False),
                "valid_until_en": thaitext.english_date(until, with_time=False)}

    def _make_and_send(self, app: dict[str, Any], row: dict[str, Any], now: datetime, *, password: str) -> dict[str, Any]:
        """Render and protect the permit file, keep it, and queue the two emails."""
        from mailintake.base.store import Store

        service = self.service_of(app)
        pdf, digest, signed = permits.make_permit(
            self.cfg, self.reg, app=app, service=service, number=row["number"],
            issued=datetime.fromisoformat(row["issued_at"]), valid_from=datetime.fromisoformat(row["valid_from"]),
            valid_until=datetime.fromisoformat(row["valid_until"]), approver_name=row["approver_name"],
            approver_position=row["approver_position"], password=password)
        Store(self.cfg.store_path).put(pdf)
        ctx = {"permit": self._permit_context(row)}
        name = f"permit-{re.sub(r'[^A-Za-z0-9-]', '_', row['number'])}.pdf"
        pdf_mid = self.notify(app, "permit_pdf", now, ctx, ((name, pdf, "application/pdf"),))
        # The password goes separately, never with the file nor in a subject (R19).
        derived = self.cfg.permits.password_policy == "derived"
        # A derived password is data the applicant already has: the email says
        # which, and never repeats it.
        password_mid = self.notify(app, "permit_password", now,
                                   {**ctx, "password": "" if derived else password, "derived": derived})
        changes = {"pdf_sha256": hashlib.sha256(pdf).hexdigest(), "qr_hash": digest, "signed": int(signed),
                   "password_hash": permits.hash_password(password), "status": "issued", "delivered_at": None,
                   "pdf_message_id": pdf_mid, "password_message_id": password_mid}
        self.reg.update("permits", "number", row["number"], changes)
        return {**row, **changes}

    def _password(self, app: dict[str, Any]) -> str:
        if self.cfg.permits.password_policy == "derived":
            from mailintake.base.store import Store

            return permits.derived_password(self.reg, Store(self.cfg.store_path).get, app["transaction_id"])
        return permits.new_password(self.cfg.permits.password_length)

    def issue_permit(self, tid: str, now: datetime, valid_until: datetime | None = None) -> dict[str, Any]:
        """Issue the permit of an approved (and, with a fee, paid) application."""
        user = require(self.cfg, "approver")
        with self.reg.transaction():
            app = self.app(tid)
            service = self.service_of(app)
            ready = app["status"] == "fee_confirmed" or (app["status"] == "approved" and service is not None
                                                          and service.fee is None)
            if not ready or service is None:
                raise StepRefused(f"{app['transaction_id']}: cannot issue a permit: status is {app['status']}; "
                                  "a permit follows approved (no fee) or fee_confirmed")
            local = self.cal.local(now)
            until = valid_until or permits.valid_until_default(self.cfg, local)
            if until <= now:
                raise StepRefused("--valid-until must be in the future")
            seq = self.reg.next_number("permit", local.year)
            number = self.cfg.permits.number_format.format(code=service.code, be_year=thaitext.be_year(local.year),
                                                           year=local.year, seq=seq)
            row = {"number": number, "year": local.year, "seq": seq, "transaction_id": app["transaction_id"],
                   "service": service.id, "holder_name": app["applicant_name"] or app["applicant_email"],
                   "holder_email": app["applicant_email"], "particulars": json.dumps({"subject": app["subject"]},
                                                                                     ensure_ascii=False),
                   "issued_at": to_iso(local), "valid_from": to_iso(local), "valid_until": to_iso(until),
                   "approver": user.login, "approver_name": user.name, "approver_position": user.position,
                   "status": "issued", "password_hash": "", "pdf_sha256": "", "qr_hash": ""}
            self.reg.insert("permits", row)
            app = self._move(app, "permit_issued", user.login, "permit_issued", now, {"permit": number})
            row = self._make_and_send(app, row, now, password=self._password(app))
        return row

    def resend_permit(self, tid: str, now: datetime) -> dict[str, Any]:
        """A new password and a newly encrypted file, by two new emails."""
        user = require(self.cfg, "clerk", "approver")
        with self.reg.transaction():
            app = self.app(tid)
            row = self.reg.one("SELECT * FROM permits WHERE transaction_id = ? AND status != 'revoked' "
                               "ORDER BY issued_at DESC LIMIT 1", (app["transaction_id"],))
            if row is None:
                raise StepRefused(f"{app['transaction_id']} has no permit to resend")
            if app["status"] == "delivered":
                app = self._move(app, "permit_issued", user.login, "permit_resent", now, {"permit": row["number"]})
            else:
                self.reg.add_event(at=now, actor=user.login, action="permit_resent", transaction_id=app["transaction_id"],
                                   before=app["status"], after=app["status"], detail={"permit": row["number"]})
            return self._make_and_send(app, row, now, password=self._password(app))

    def revoke_permit(self, number: str, reason: str, now: datetime) -> dict[str, Any]:
        user = require(self.cfg, "approver")
        if not reason.strip():
            raise StepRefused("revoke needs --reason")
        with self.reg.transaction():
            row = self.reg.one("SELECT * FROM permits WHERE number = ?", (number.strip().upper(),))
            if row is None:
                raise NotFound(f"no permit {number}")
            if row["status"] == "revoked":
                raise StepRefused(f"permit {row['number']} is already revoked")
            self.reg.update("permits", "number", row["number"], {"status": "revoked", "revoked_at": to_iso(now),
                                                                 "revoke_reason": reason.strip()})
            app = self.app(row["transaction_id"])
            self.reg.add_event(at=now, actor=user.login, action="permit_revoked", transaction_id=app["transaction_id"],
                               before=app["status"], after=app["status"], detail={"permit": row["number"],
                                                                                  "reason": reason.strip()})
            self.notify(app, "permit_revoked", now, {"permit": self._permit_context(row), "reason": reason.strip()})
        return permits.status_of(self.reg, row["number"], now)

    def reply_inquiry(self, tid: str, answer: str, now: datetime) -> None:
        """Answer an inquiry (process 1), threaded, in the bilingual frame."""
        user = require(self.cfg, "clerk")
        if not answer.strip():
            raise StepRefused("the answer is empty")
        with self.reg.transaction():
            app = self.app(tid)
            if app["kind"] != "inquiry":
                raise StepRefused(f"{app['transaction_id']} is an application, not an inquiry; "
                                  f"allowed next: {', '.join(allowed_next(app['status']))}")
            app = self._move(app, "answered", user.login, "answered", now, {"answer": answer.strip()})
            self.notify(app, "answer", now, {"answer": answer.strip()})
