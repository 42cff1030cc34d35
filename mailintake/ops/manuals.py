"""The citizen manual of each service (คู่มือสำหรับประชาชน, ITA items O8 and
O9) as data for the public site's templates (``templates/site/``): what the
service file says (documents, fee, time limit) and what the office's
configuration says about applying by email (the saraban@ address, the files it
accepts, the hours, how a permit arrives). The wording is in the templates;
this module only gathers the facts, so a manual never says what the system
does not do.
"""

from __future__ import annotations

import re
from typing import Any

from mailintake.base.config import Config
from mailintake.base.rules import Service

# The names of the file types the office accepts, as a citizen reads them.
TYPE_NAMES = {"pdf": "PDF", "doc": "Word (DOC)", "docx": "Word (DOCX)", "txt": "TXT", "jpeg": "JPEG", "png": "PNG"}


def page_name(service: Service) -> str:
    """The manual's file name under ``services/``: the service id, made safe
    for any web server and file system."""
    return re.sub(r"[^a-z0-9-]+", "-", service.id.lower()).strip("-") + ".html"


def office_facts(cfg: Config) -> dict[str, Any]:
    """What every manual says the same way: where to send, when mail counts
    as received, which files are read, how fees and permits go."""
    h = cfg.hours
    return {
        "mailbox": cfg.agency.mailbox_address,
        "complaints": cfg.agency.complaints_email or cfg.agency.mailbox_address,
        "phone": cfg.agency.phone,
        "open": f"{h.open:%H:%M}",
        "close": f"{h.close:%H:%M}",
        "ack_by": f"{h.ack_by:%H:%M}",
        "types": [TYPE_NAMES.get(t, t.upper()) for t in cfg.checks.allowed_types],
        "min_dpi": cfg.checks.min_dpi,
        "max_attachment_mb": round(cfg.limits.max_attachment_bytes / (1024 * 1024)),
        "max_message_mb": round(cfg.limits.max_message_bytes / (1024 * 1024)),
        "pay_days": cfg.payment.deadline_days,
        "promptpay": bool(cfg.payment.promptpay_id),
        "bank": bool(cfg.payment.bank_account),
        "info_answer_days": cfg.reminders.info_answer_days,
        "password_sms": bool(cfg.permits.sms_command),
    }


def manual(cfg: Config, service: Service, year: int) -> dict[str, Any]:
    """One service's manual: its facts as the templates show them (``year``:
    the Gregorian year of the example permit number)."""
    code = service.code
    # A service file writes the fee's basis "Thai / English" (the e-receipt prints both).
    basis = [part.strip() for part in service.fee_basis.split(" / ", 1)] if service.fee_basis else [""]
    try:
        example = cfg.permits.number_format.format(code=code, be_year=year + 543, year=year, seq=1)
    except (KeyError, ValueError, IndexError):
        example = f"{code}-{year + 543}-0001"
    return {
        "id": service.id,
        "page": page_name(service),
        "code": code,
        "name_th": service.name_th,
        "name_en": service.name_en,
        "subject_th": f"[{code}] {service.name_th}",
        "subject_en": f"[{code}] {service.name_en}",
        "documents": [
            {
                "name_th": d.name_th,
                "name_en": d.name_en,
                "types": [TYPE_NAMES.get(t, t.upper()) for t in d.types],
                "required": d.required,
            }
            for d in service.documents
        ],
        "fee": service.fee,
        "fee_basis_th": basis[0],
        "fee_basis_en": basis[-1],
        "time_limit_days": service.time_limit_days,
        "result_within_days": service.result_within_days,
        "identity_needed": service.risk in ("medium", "high"),
        "juristic_allowed": service.juristic_allowed,
        "reports": [
            {"name_th": r.name_th, "name_en": r.name_en, "every_days": r.every_days, "times": r.times} for r in service.reminders
        ],
        "permit_example": example,
    }


def manuals(cfg: Config, services: tuple[Service, ...] | list[Service], year: int) -> list[dict[str, Any]]:
    """Every service's manual, by code."""
    return [manual(cfg, s, year) for s in sorted(services, key=lambda s: s.code)]
