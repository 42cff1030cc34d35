"""The official e-receipt of a fee (R17): a Thai/English PDF on the permit's
page (``permits.document.new_page``: A4, Sarabun, shaped by HarfBuzz), numbered
from its own yearly sequence (``receipt``, printed ``number/B.E. year``), with
the agency's name and the fee's legal basis from the service file
(``fee_basis``). Sent to the applicant attached to the payment confirmation."""

from __future__ import annotations

from datetime import datetime

from mailintake.base import thaitext
from mailintake.base.config import Config
from mailintake.base.data.records import Application
from mailintake.base.rules import Service
from mailintake.permits.document import letterhead

SEQUENCE = "receipt"


def receipt_label(number: int, year: int) -> str:
    """A receipt number as printed: ``000001/2568`` (its B.E. year)."""
    return f"{number:06d}/{thaitext.be_year(year)}"


def render_receipt(
    cfg: Config,
    app: Application,
    service: Service | None,
    *,
    label: str,
    amount: int,
    reference: str,
    at: datetime,
    officer: str,
) -> bytes:
    """The e-receipt as a PDF."""

    pdf, para = letterhead(cfg, f"e-Receipt {label}")
    para("ใบเสร็จรับเงินอิเล็กทรอนิกส์", 22, "B", 0)
    para("Official e-Receipt", 15, "B")
    para(f"เลขที่ / No. {label}", 14, "B", 4)
    name = service.name_th + " / " + service.name_en if service else (app.service or "-")
    rows = [
        ("วันที่", "Date", f"{thaitext.thai_date(at)} / {thaitext.english_date(at)}"),
        ("ได้รับเงินจาก", "Received from", f"{app.applicant_name or ''} <{app.applicant_email}>".strip()),
        ("เลขรับคำขอ", "Transaction ID", app.transaction_id),
        ("รายการ", "For", f"ค่าธรรมเนียม{name}"),
        ("จำนวนเงิน", "Amount", f"{amount:,} บาท / baht"),
        ("เลขอ้างอิงการชำระ", "Payment reference", reference),
        ("อาศัยอำนาจตาม", "Legal basis", (service.fee_basis if service else "") or "-"),
        ("ผู้รับเงิน", "Received by", officer),
    ]
    for label_th, label_en, value in rows:
        para(f"{label_th} / {label_en}: {value}", 13, "", 1)
    pdf.ln(4)
    para("เอกสารนี้ออกโดยระบบอิเล็กทรอนิกส์ / This receipt was issued electronically.", 11)
    return bytes(pdf.output())
