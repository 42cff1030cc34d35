"""The desk's permit steps (R18, R19): issue the permit of an approved (and,
with a fee, paid) application, send it again with a new password, revoke it.

The file is made by ``permits.document`` and kept in the store; it goes to the
applicant in one email and its password in another, never with the file nor in
a subject, ``[permits] password_delay_minutes`` later. The password mail is
sealed in the outbox and forgotten once sent (``base.sealed``); with
``[permits] sms_command`` and a number from the clerk, it goes by SMS instead.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from mailintake.base import thaitext
from mailintake.base.data import outbox as outgoing
from mailintake.base.data import permits as register
from mailintake.base.data.db import to_iso
from mailintake.base.data.records import Application, Permit
from mailintake.base.errors import NotFound, StepRefused
from mailintake.desk.office import Office
from mailintake.desk.roles import require
from mailintake.permits import codes
from mailintake.permits.document import make_permit, valid_until_default
from mailintake.permits.register import status_of


def permit_context(permit: Permit) -> dict[str, Any]:
    """The ``permit`` of a notice's template context."""
    until = datetime.fromisoformat(permit.valid_until)
    return {
        "number": permit.number,
        "valid_until_th": thaitext.thai_date(until, with_time=False),
        "valid_until_en": thaitext.english_date(until, with_time=False),
    }


def sms_number(text: str | None, command: tuple[str, ...]) -> str | None:
    """A phone number as the clerk typed it (digits, an optional leading +,
    spaces and dashes), without the separators; None for none."""
    if text is None or not text.strip():
        return None
    if not command:
        raise StepRefused("--sms-to needs an SMS gateway: set [permits] sms_command in the config")
    if not re.fullmatch(r"\+?[0-9][0-9 -]{6,18}[0-9]", text.strip()):
        raise StepRefused(f"--sms-to: not a phone number: {text.strip()!r}")
    return re.sub(r"[ -]", "", text.strip())


class PermitSteps:
    """Issue, resend and revoke, through the desk's ``Office``."""

    def __init__(self, office: Office):
        self.office = office
        self.reg = office.reg
        self.cfg = office.cfg

    def issue(self, tid: str, now: datetime, valid_until: datetime | None = None, sms_to: str | None = None) -> Permit:
        """Issue the permit of an approved (and, with a fee, paid) application;
        ``sms_to``: the applicant's phone, for the password's second channel."""
        user = require(self.cfg, "approver")
        phone = sms_number(sms_to, self.cfg.permits.sms_command)
        with self.reg.transaction():
            app = self.office.app(tid)
            service = self.office.service_of(app)
            ready = app.status == "fee_confirmed" or (app.status == "approved" and service is not None and service.fee is None)
            if not ready or service is None:
                raise StepRefused(
                    f"{app.transaction_id}: cannot issue a permit: status is {app.status}; "
                    "a permit follows approved (no fee) or fee_confirmed"
                )
            local = self.office.cal.local(now)
            until = valid_until or valid_until_default(self.cfg, local)
            if until <= now:
                raise StepRefused("--valid-until must be in the future")
            seq = self.reg.next_number("permit", local.year)
            number = self.cfg.permits.number_format.format(
                code=service.code, be_year=thaitext.be_year(local.year), year=local.year, seq=seq
            )
            permit = Permit(
                number=number,
                year=local.year,
                seq=seq,
                transaction_id=app.transaction_id,
                service=service.id,
                holder_name=app.applicant_name or app.applicant_email,
                holder_email=app.applicant_email,
                particulars={"subject": app.subject},
                issued_at=to_iso(local) or "",
                valid_from=to_iso(local) or "",
                valid_until=to_iso(until) or "",
                approver=user.login,
                approver_name=user.name,
                approver_position=user.position,
                status="issued",
            )
            register.add(self.reg, permit)
            app = self.office.move(app, "permit_issued", user.login, "permit_issued", now, {"permit": number})
            return self._make_and_send(app, permit, now, phone)

    def resend(self, tid: str, now: datetime, sms_to: str | None = None) -> Permit:
        """A new password and a newly encrypted file, by two new emails."""
        user = require(self.cfg, "clerk", "approver")
        phone = sms_number(sms_to, self.cfg.permits.sms_command)
        with self.reg.transaction():
            app = self.office.app(tid)
            permit = register.current_of(self.reg, app.transaction_id)
            if permit is None:
                raise StepRefused(f"{app.transaction_id} has no permit to resend")
            if permit.password_message_id:  # a password still waiting for its delay goes no more
                outgoing.withdraw(self.reg, permit.password_message_id, "replaced by a new password (permit resend)")
            if app.status == "delivered":
                app = self.office.move(app, "permit_issued", user.login, "permit_resent", now, {"permit": permit.number})
            else:
                self.reg.add_event(
                    at=now,
                    actor=user.login,
                    action="permit_resent",
                    transaction_id=app.transaction_id,
                    before=app.status,
                    after=app.status,
                    detail={"permit": permit.number},
                )
            return self._make_and_send(app, permit, now, phone)

    def revoke(self, number: str, reason: str, now: datetime) -> dict[str, Any]:
        """Revoke a permit; the holder is told why. Returns its public status (``permit status``)."""
        user = require(self.cfg, "approver")
        if not reason.strip():
            raise StepRefused("revoke needs --reason")
        with self.reg.transaction():
            permit = register.get(self.reg, number)
            if permit is None:
                raise NotFound(f"no permit {number}")
            if permit.status == "revoked":
                raise StepRefused(f"permit {permit.number} is already revoked")
            register.revoke(self.reg, permit.number, reason.strip(), now)
            app = self.office.app(permit.transaction_id)
            self.reg.add_event(
                at=now,
                actor=user.login,
                action="permit_revoked",
                transaction_id=app.transaction_id,
                before=app.status,
                after=app.status,
                detail={"permit": permit.number, "reason": reason.strip()},
            )
            self.office.notify(app, "permit_revoked", now, {"permit": permit_context(permit), "reason": reason.strip()})
        return status_of(self.reg, permit.number, now)

    # --- the file and its two emails ------------------------------------------------------------
    def _make_and_send(self, app: Application, permit: Permit, now: datetime, phone: str | None) -> Permit:
        """Render and protect the permit file, keep it, and queue the two emails."""
        service = self.office.service_of(app)
        assert service is not None
        password = codes.new_password(self.cfg.permits.password_length)
        pdf, digest, signed, content_sha256 = make_permit(self.cfg, app=app, service=service, permit=permit, password=password)
        self.office.dep.store.put(pdf)
        ctx = {"permit": permit_context(permit)}
        name = f"permit-{re.sub(r'[^A-Za-z0-9-]', '_', permit.number)}.pdf"
        pdf_mid = self.office.notify(app, "permit_pdf", now, ctx, ((name, pdf, "application/pdf"),))
        # The password goes separately, later, never with the file nor in a subject (R19).
        secret = {**ctx, "password": password}
        sms = None
        if phone and self.cfg.permits.sms_command:
            said = self.office.renderer.notice("permit_password_sms", {**secret, "tid": app.transaction_id})
            sms = (phone, f"{said['th']}\n{said['en']}")
        due = now + timedelta(minutes=self.cfg.permits.password_delay_minutes)
        password_mid = self.office.notify(app, "permit_password", now, secret, due=due, sms=sms)
        pdf_sha256, password_hash = hashlib.sha256(pdf).hexdigest(), codes.hash_password(password)
        register.record_sending(
            self.reg,
            permit.number,
            pdf_sha256=pdf_sha256,
            qr_hash=digest,
            signed=signed,
            password_hash=password_hash,
            pdf_message_id=pdf_mid,
            password_message_id=password_mid,
            content_sha256=content_sha256,
        )
        return permit.replace(
            content_sha256=content_sha256,
            pdf_sha256=pdf_sha256,
            qr_hash=digest,
            signed=int(signed),
            password_hash=password_hash,
            pdf_message_id=pdf_mid,
            password_message_id=password_mid,
            status="issued",
            delivered_at=None,
        )
