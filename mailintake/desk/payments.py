"""The fee (R17): after approval a service with a fee moves on to ``fee_due``
and the applicant is told the amount, the deadline and how to pay (bank
account, PromptPay with a QR code of the amount, bank counter bill payment).
Finance confirms or rejects the slip with a step of ``STEPS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base import promptpay, thaitext
from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data.db import to_iso
from mailintake.base.data.records import Application
from mailintake.desk.office import Attachments, Office
from mailintake.permits.codes import qr_png


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
