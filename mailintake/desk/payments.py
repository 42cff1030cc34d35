"""The fee (R17): after approval a service with a fee moves on to ``fee_due``
and the applicant is told the amount, the deadline and how to pay (bank
account, PromptPay with a QR code of the amount, bank counter bill payment).
Finance confirms or rejects the slip with a step of ``STEPS``: confirming
records the amount (which must be the fee) and the reference, and sends the
official e-receipt (``permits.receipt``). A slip must be a JPEG or PDF the checks
accept (``slip_problems``); past the deadline the application lapses to
``fee_expired`` (``lapse_unpaid``, from the deadline job).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Any

from mailintake.base import promptpay, thaitext
from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data import applications, receipts
from mailintake.base.data.db import to_iso
from mailintake.base.data.records import Application
from mailintake.base.deployment import Deployment
from mailintake.base.errors import NotFound, StepRefused, UserError
from mailintake.base.rules import KNOWN_TYPES
from mailintake.base.wording import Problem
from mailintake.desk.office import Attachments, Office
from mailintake.desk.roles import require
from mailintake.permits.codes import qr_png
from mailintake.permits.receipt import SEQUENCE as RECEIPTS
from mailintake.permits.receipt import receipt_label, render_receipt


def fee_details(
    cfg: Config, cal: WorkCalendar, app: Application, amount: int, deadline: datetime
) -> tuple[dict[str, Any], Attachments]:
    """The ``fee`` context of the notice (a template context, so a dict) and,
    with PromptPay, the QR code of the amount as an attachment."""
    p = cfg.payment
    tid = app.transaction_id
    th, en = [], []
    if p.bank_account:
        th.append(f"โอนเงินเข้าบัญชี {p.bank_name} เลขที่ {p.bank_account} ชื่อบัญชี {p.account_name}".strip())
        en.append(f"Bank transfer to {p.bank_name} account {p.bank_account} ({p.account_name})".strip())
    if p.promptpay_id:
        th.append(f"พร้อมเพย์ {p.promptpay_id}")
        en.append(f"PromptPay {p.promptpay_id}")
    if p.comp_code:
        th.append(f"ชำระที่เคาน์เตอร์ธนาคาร (Comp Code {p.comp_code}) อ้างอิง {tid}")
        en.append(f"Bank counter bill payment (Comp Code {p.comp_code}), reference {tid}")
    if not th:
        th.append(f"ชำระที่สำนักงาน โทรศัพท์สอบถาม {cfg.agency.phone}")
        en.append(f"At our office; call {cfg.agency.phone}")
    local = cal.local(deadline)
    fee = {
        "amount": f"{amount:,}",
        "channels_th": th,
        "channels_en": en,
        "qr": bool(p.promptpay_id),
        "deadline_th": thaitext.thai_date(local),
        "deadline_en": thaitext.english_date(local),
    }
    attachments: Attachments = ()
    if p.promptpay_id:
        png = qr_png(promptpay.payload(p.promptpay_id, float(amount)))
        attachments = ((f"promptpay-{tid}.png", png, "image/png"),)
    return fee, attachments


def ask_for_fee(office: Office, app: Application, now: datetime) -> Application:
    """After approval: a service with a fee moves on to fee_due and the fee
    notice goes out (R17); a free service stays approved."""
    service = office.service_of(app)
    if service is None or service.fee is None:
        return app
    cfg, cal = office.cfg, office.cal
    deadline = cal.at(cal.add_working_days(cal.local(now).date(), cfg.payment.deadline_days), cfg.hours.close)
    app = office.move(
        app,
        "fee_due",
        "system",
        "fee_due",
        now,
        {"amount": service.fee, "deadline": to_iso(deadline)},
        fee_amount=service.fee,
        fee_due_at=to_iso(deadline),
    )
    fee, attachments = fee_details(cfg, cal, app, service.fee, deadline)
    office.notify(app, "fee_due", now, {"fee": fee}, attachments)
    return app


# A bank or PromptPay reference: one line, printed on the e-receipt and in listings.
MAX_REFERENCE = 64
# An amount as typed: digits (Thai ones too), thousands grouped by commas or not, decimals.
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


def check_reference(ref: str) -> str:
    """The reference finance gives when confirming, stripped: one line (no
    control or invisible formatting characters: it goes into mail, the PDF
    and the tables) of at most ``MAX_REFERENCE`` characters."""
    ref = ref.strip()
    if not ref:
        raise StepRefused("confirm-payment needs --reference (the bank or PromptPay reference)")
    bad = next((c for c in ref if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise StepRefused(f"the reference must be one line of text: it holds the control or invisible character U+{ord(bad):04X}")
    if len(ref) > MAX_REFERENCE:
        raise StepRefused(f"the reference is {len(ref)} characters; at most {MAX_REFERENCE}")
    return ref


def parse_amount(text: str) -> int:
    """The amount finance typed, in whole baht: ``200``, ``200.00``, ``1,000``,
    Thai digits (``๒๐๐``). Fees are whole baht (a service's ``fee`` is an
    integer), so a fraction of a baht is refused."""
    if not _AMOUNT.match(text.strip()):
        raise StepRefused(f"--amount {text.strip()!r} is not an amount in baht (e.g. 200 or 200.00)")
    value = Decimal(text.strip().replace(",", ""))
    if value != value.to_integral_value():
        raise StepRefused(f"--amount {text.strip()}: fees are in whole baht; give the amount paid in whole baht (e.g. 200)")
    if value < 1:
        raise StepRefused(f"--amount {text.strip()}: the amount paid must be at least 1 baht")
    return int(value)


def check_amount(app: Application, amount: int | None) -> None:
    """Finance records the amount paid; it must be the fee asked (R17)."""
    if amount is None:
        raise StepRefused("confirm-payment needs --amount (the amount paid, in baht)")
    if app.fee_amount is not None and amount != app.fee_amount:
        raise StepRefused(
            f"{app.transaction_id}: the amount paid ({amount:,} baht) is not the fee ({app.fee_amount:,} baht); not confirmed"
        )


def issue_receipt(office: Office, app: Application, now: datetime, officer: str) -> tuple[str, Attachments]:
    """The official e-receipt after confirmation: the next number of this
    year's ``receipt`` sequence, recorded (``receipts``: date, amount,
    reference, officer) with an event, its PDF kept in the file store, and the
    PDF to attach."""
    local = office.cal.local(now)
    label = receipt_label(office.reg.next_number(RECEIPTS, local.year), local.year)
    amount = app.fee_amount or 0
    pdf = render_receipt(
        office.cfg,
        app,
        office.service_of(app),
        label=label,
        amount=amount,
        reference=app.payment_ref or "",
        at=local,
        officer=officer,
    )
    digest = office.dep.store.put(pdf)  # kept as sent: `payments receipt` gives the same bytes later
    receipts.add(
        office.reg, label, app.transaction_id, now, amount=amount, reference=app.payment_ref, officer=officer, sha256=digest
    )
    office.reg.add_event(
        at=now,
        actor=officer,
        action="receipt_issued",
        transaction_id=app.transaction_id,
        detail={"receipt": label, "amount": amount, "ref": app.payment_ref, "sha256": digest},
    )
    return label, ((receipt_file_name(label), pdf, "application/pdf"),)


def receipt_file_name(label: str) -> str:
    """The receipt's file name, as attached and as copied: ``receipt-000001-2568.pdf``."""
    return f"receipt-{label.replace('/', '-')}.pdf"


def receipt_copy(dep: Deployment, ref: str) -> tuple[dict[str, Any], bytes]:
    """A receipt, by its number (``000001/2568``) or by its application's ID
    (its latest receipt), and its PDF as sent (finance, clerks, approvers)."""
    require(dep.cfg, "finance", "clerk", "approver")
    ref = ref.strip()
    issued = [receipts.get(dep.registry, ref)] if "/" in ref else receipts.of(dep.registry, ref.upper())
    found = issued[-1] if issued else None
    if found is None:
        raise NotFound(f"no e-receipt {ref}" if "/" in ref else f"no e-receipt for {ref.upper()}")
    if not dep.store.has(found["sha256"]):
        raise UserError(f"the PDF of e-receipt {found['label']} is not in the file store (sha256 {found['sha256']})")
    return found, dep.store.get(found["sha256"])


def receipts_issued(dep: Deployment) -> list[dict[str, Any]]:
    """Every e-receipt issued, newest first (finance, clerks, approvers)."""
    require(dep.cfg, "finance", "clerk", "approver")
    return receipts.every(dep.registry)


# What a slip may be (R17: JPEG or PDF), within what the checks accept.
SLIP_KINDS = ("jpeg", "pdf")


def slip_problems(office: Office, files: tuple[tuple[str, str | None, bool], ...]) -> list[Problem]:
    """Why none of ``files`` (name, kind, usable: no problem but a low
    resolution) can be a slip; empty when one can."""
    kinds = [k for k in SLIP_KINDS if k in office.cfg.checks.allowed_types]
    if any(usable and kind in kinds for _name, kind, usable in files):
        return []
    allowed = ", ".join(KNOWN_TYPES[k][0] for k in kinds)
    wording, out = office.dep.wording, []
    for name, kind, _usable in files:
        if kind in kinds:  # the right type, but damaged, encrypted or the like
            p = wording.problem("unreadable", name=name)
        else:
            p = wording.problem(
                "type_not_allowed", name=name, detected=KNOWN_TYPES[kind][0] if kind in KNOWN_TYPES else "?", allowed=allowed
            )
        out.append(Problem(p.code, f"{name}: {p.th}", f"{name}: {p.en}"))
    return out


def lapse_unpaid(dep: Deployment, now: datetime) -> list[dict[str, Any]]:
    """Past the fee deadline (``fee_due_at``) with no slip: the application
    lapses to ``fee_expired`` and the applicant is told (R17). A deadline job,
    run as ``system``; idempotent (a lapsed one is no longer ``fee_due``)."""
    office = Office(dep)
    lapsed: list[dict[str, Any]] = []
    for app in applications.in_status(office.reg, "fee_due"):
        if app.fee_due_at is None or datetime.fromisoformat(app.fee_due_at) > now:
            continue
        with office.reg.transaction():
            moved = office.move(app, "fee_expired", "system", "fee_expired", now, {"deadline": app.fee_due_at})
            office.notify(moved, "fee_expired", now)
        lapsed.append({"kind": "fee_expired", "transaction_id": app.transaction_id, "deadline": app.fee_due_at})
    return lapsed
