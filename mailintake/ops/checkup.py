"""``mailintake rules check``: every rule file and every template, checked the
way a sweep would meet them, before a sweep does. A template that fails at a
sweep quarantines every message that needed it; here it is one line naming the
file (and the line), and the command exits 1.

The templates (each ``*.j2`` and every entry of ``notices.toml`` and
``problems.toml``, as the lookup order finds them: the agency's first, then the
shipped one) are rendered with sample contexts that take both sides of their
branches. The samples are what the code gives each template.
"""

from __future__ import annotations

import re
import string
import tomllib
import traceback
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes

from mailintake.base.data.records import Application
from mailintake.base.errors import ConfigError
from mailintake.base.rules import Document, RulePlaces, RulesCheck, Service, check_rules
from mailintake.base.wording import Problem, TemplatePlaces, environment
from mailintake.intake.check import FileCheck


def check_all(places: RulePlaces) -> RulesCheck:
    """The rules (``base.rules.check_rules``), then every template rendered with
    the first service that loads (or a sample one)."""
    rules = check_rules(places)
    good, bad = check_templates(places, rules.services[0] if rules.services else SAMPLE_SERVICE)
    return RulesCheck(ok=rules.ok + tuple(good), errors=rules.errors + tuple(bad), services=rules.services)


# A service for the templates' sample data when the rules have none that loads.
SAMPLE_SERVICE = Service(
    "event-permit",
    "EVT",
    "ขออนุญาตจัดงาน",
    "Event permit",
    ("จัดงาน",),
    ("event",),
    "medium",
    True,
    500,
    15,
    None,
    (Document("แบบคำขอ", "Application form", ("pdf",)),),
    Path("services/event-permit.toml"),
)


# --- sample data: what the code gives each template ---------------------------------------
# Keep these in step with the code that renders: intake/respond.py (``context``,
# ``acknowledge``, ``verify``, ``oversized``), desk/office.py (``notify``) and the
# desk's callers of it, intake/health.py (``_alert``), and intake/check.py (the
# fields of each problem). A name the code gives and the samples lack makes
# ``rules check`` fail on the shipped templates (tests/test_config_cli.py).
# ops/anchors.py (``anchor``) renders audit_anchor. Each is .subject.j2, .txt.j2 (.html.j2 optional).
# desk/delays.py renders delay_reminder (to the clerk) and the delay, delay_opdc and closed notices.
# desk/watchdog.py renders ack_alert (to the admin), desk/digest.py digest (to the clerks),
# desk/reminders.py the reminder_* and withdrawn notices.
MAIL_TEMPLATES: tuple[str, ...] = ("ack", "more", "notice", "oversized", "verify", "admin_alert", "audit_anchor")
MAIL_TEMPLATES += ("delay_reminder", "ack_alert", "digest", "forward_confirm")
NOTICE_FIELDS = ("subject_th", "subject_en", "th", "en")
PROBLEM_FIELDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("empty", "too_large", "polyglot", "unreadable", "macro", "encoding", "truncated", "encrypted", "tnef"), ("name",)
    ),
    "type_not_allowed": ("name", "detected", "allowed"),
    "name_mismatch": ("name", "detected", "expected"),
    "low_resolution": ("name", "dpi", "min_dpi"),
    **dict.fromkeys(("juristic_webmail", "juristic_no_poa", "juristic_not_allowed"), ("domain",)),
}
_PROBLEM_VALUES = {"name": "แบบคำขอ.pdf", "detected": "EXE", "allowed": "PDF, JPEG", "expected": "PDF", "dpi": 150}
_PROBLEM_VALUES |= {"min_dpi": 300, "domain": "gmail.com"}


_LOW = Problem("low_resolution", "ความละเอียดของภาพประมาณ 150 dpi", "The image resolution is about 150 dpi")
_POA = Problem("juristic_no_poa", "ต้องแนบหนังสือมอบอำนาจ", "A power of attorney is needed")
_FILES = [
    FileCheck("แบบคำขอ.pdf", 182_000, "application/pdf", "application/pdf", "pdf", True, 300),
    FileCheck("บัตรประชาชน.jpg", 95_000, "image/jpeg", "image/jpeg", "jpeg", False, 150, (_LOW,)),
]
_APP = Application(
    transaction_id="SRB-2568-000001",
    status="under_review",
    applicant_email="somchai@example.com",
    received_at="2025-12-08T09:15:00+07:00",
    deemed_received_at="2025-12-08T09:15:00+07:00",
    ack_due_at="2025-12-09T10:00:00+07:00",
    ack_reason="received in office hours",
    created_at="2025-12-08T09:20:00+07:00",
    updated_at="2025-12-08T09:20:00+07:00",
    service="event-permit",
    applicant_name="สมชาย ใจดี",
    subject="ขออนุญาตจัดงาน",
    problems=("juristic_no_poa",),
    fee_amount=500,
    payment_ref="TXN123456",
    decision_reason="เอกสารไม่ครบ",
)
_PERMIT = {"number": "EVT-2568-0001", "valid_until_th": "8 ธันวาคม 2569", "valid_until_en": "8 December 2026"}
_FEE = {
    "amount": "500",
    "channels_th": ["โอนเข้าบัญชีธนาคารกรุงไทย 000-0-00000-0"],
    "channels_en": ["Transfer to Krungthai Bank 000-0-00000-0"],
    "qr": True,
    "deadline_th": "วันอังคารที่ 16 ธันวาคม 2568 เวลา 16:30 น.",
    "deadline_en": "Tuesday 16 December 2025, 16:30",
}
# What desk/delays.py gives the delay notices (``_delay_context``) and the closed one.
_DELAY: dict[str, Any] = {
    "number": 1,
    "limit_days": 7,
    "due_th": "วันศุกร์ที่ 19 ธันวาคม 2568 เวลา 16:30 น.",
    "due_en": "Friday 19 December 2025, 16:30",
    "next_th": "วันศุกร์ที่ 2 มกราคม 2569",
    "next_en": "Friday 2 January 2026",
    "received_th": "วันอังคารที่ 9 ธันวาคม 2568 เวลา 09:00 น.",
    "received_en": "Tuesday 9 December 2025, 09:00",
    "days_late": 7,
    "reason_at": None,
    "opdc": "opdc@opdc.go.th",
}
_RESULT = {"finished_th": "วันพฤหัสบดีที่ 11 ธันวาคม 2568 เวลา 11:00 น.", "finished_en": "Thursday 11 December 2025, 11:00"}
_REMIND: dict[str, Any] = {"what": "fee_due", "due": {"th": _RESULT["finished_th"], "en": _RESULT["finished_en"]}}
# The extra context each notice is sent with, besides the defaults of ``Office.notify``.
_STEP = {"reason": "เอกสารไม่ครบ", "docs": ["สำเนาทะเบียนบ้าน"], "problems": [_POA]}
NOTICE_EXTRAS: dict[str, list[dict[str, Any]]] = {
    **dict.fromkeys(
        ("under_review", "info_requested", "approved", "rejected", "payment_rejected"),
        [_STEP, {"reason": "", "docs": [], "problems": []}],
    ),
    "fee_confirmed": [{**_STEP, "receipt": "000001/2568"}, {"reason": "", "docs": [], "problems": [], "receipt": ""}],
    "slip_refused": [{"problems": [_POA]}],
    "fee_expired": [{}],
    "received_again": [{}],
    "fee_submitted": [{}],
    "answer": [{"answer": "สำนักงานเปิดวันจันทร์ถึงวันศุกร์", "answer_en": e} for e in ("Open Monday to Friday.", None)],
    "reply_address": [  # desk/replyto.py: recorded, or refused with the reason
        {"reply": {"reply_address": "somchai.office@example.org", "reply_refused": None, "reply_refused_address": None}},
        {"reply": {"reply_address": None, "reply_refused": _POA, "reply_refused_address": None}},
    ],
    "fee_due": [{"fee": _FEE}, {"fee": {**_FEE, "qr": False, "channels_th": [], "channels_en": []}}],
    "permit_pdf": [{"permit": _PERMIT}],
    "permit_password": [{"permit": _PERMIT, "password": "Xk7pQ2mN4r"}],
    "permit_password_sms": [{"permit": _PERMIT, "password": "Xk7pQ2mN4r"}],
    "permit_revoked": [{"permit": _PERMIT, "reason": "ผิดเงื่อนไข"}],
    "delay": [{"reason": r, "delay": {**_DELAY, "opdc": o}} for r, o in (("รอผลตรวจสถานที่", "opdc@opdc.go.th"), ("", ""))],
    "delay_opdc": [
        {"reason": "", "delay": _DELAY, "sent_to": "somchai@example.com", "copy_of": {"th": "หนังสือแจ้ง", "en": "The notice"}}
    ],
    "closed": [
        {"reason": "", "result": {**_RESULT, "approved": True, "permit": _PERMIT["number"]}},
        {"reason": "เอกสารไม่ครบ", "result": {**_RESULT, "approved": False, "permit": None}},
    ],
    # What desk/reminders.py gives its notices (``remind``).
    "reminder_fee": [{"remind": {**_REMIND, "amount": 500}}, {"remind": {**_REMIND, "amount": None}}],
    "reminder_docs": [{"remind": _REMIND}],
    "withdrawn": [{"remind": {**_REMIND, "days": 15}}],
    "reminder_permit": [{"remind": {**_REMIND, "permit": _PERMIT["number"]}}],
    "reminder_report": [{"remind": {**_REMIND, "name_th": "รายงานตัว 90 วัน", "name_en": "90-day report", "number": 1}}],
}


def notice_contexts(key: str, service: Any) -> list[dict[str, Any]]:
    """The contexts a notice is rendered with, as ``Office.notify`` builds them
    (a notice the code does not send gets every name any notice may read)."""
    base = {"tid": _APP.transaction_id, "app": _APP, "reason": "", "docs": [], "fee": None, "answer": ""}
    base |= {"problems": []}
    extras = NOTICE_EXTRAS.get(key) or [{k: v for e in NOTICE_EXTRAS.values() for x in e for k, v in x.items()}]
    return [{**base, "service": s, **extra} for extra in extras for s in (service, None)]


def template_contexts(stem: str, service: Any) -> list[dict[str, Any]] | None:
    """The contexts the mail template ``stem`` is rendered with, or None for a
    template the code never renders."""
    when_th, when_en = "วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 09:15 น.", "Monday 8 December 2025, 09:15"
    dates = {"received_th": when_th, "received_en": when_en, "deemed_th": when_th, "deemed_en": when_en}
    listed: dict[str, Any] = {"tid": _APP.transaction_id, "subject": _APP.subject, "applicant_name": _APP.applicant_name}
    listed |= dates
    # Why receipt was deemed later (``intake.respond.deemed_later``); empty when it was not.
    listed |= {"later_th": ["ได้รับหลังเวลาทำการ (16:30 น.)"], "later_en": ["received after office hours (16:30)"]}
    files: dict[str, Any] = {"files": _FILES, "files_more": 3, "files_more_problems": 1, "resend": True}
    none: dict[str, Any] = {"files": [], "files_more": 0, "files_more_problems": 0, "resend": False}
    # What ``Responder.context`` gives every answer, then what ``acknowledge`` adds.
    listed |= {"inquiry": False, "service": None, "app_problems": [], "identity_needed": False, "missing_documents": []}
    ack: dict[str, Any] = {"service": service, "app_problems": [_POA], "identity_needed": True}
    ack |= {"right_address": "saraban@example.go.th"}  # an officer's forward (intake/forwarded.py)
    ack |= {"reply_address": "somchai.office@example.org", "reply_refused": _POA}  # desk/replyto.py (R5)
    ack |= {"missing_documents": list(service.documents) if service is not None else []}  # desk.checklist.missing
    asked: dict[str, Any] = {"inquiry": True, "subject": "", "applicant_name": None, "later_th": [], "later_en": []}
    notice = {"subject_th": "คำขอของท่านได้รับอนุมัติ", "subject_en": "Approved", "th": "อนุมัติแล้ว", "en": "Approved."}
    result: dict[str, Any] = {
        "number": _PERMIT["number"],
        "service": "event-permit",
        "holder": "สม*** ใจ***",
        "issued_at": "2025-12-08T10:00:00+07:00",
        "valid_from": "2025-12-08T00:00:00+07:00",
        "valid_until": "2026-12-08T00:00:00+07:00",
        "revoked_at": "2026-01-05T10:00:00+07:00",
        "revoke_reason": None,
        "delivered_at": "2025-12-08T10:05:00+07:00",
        "signed": False,
        "transaction_id": _APP.transaction_id,
    }
    alert: dict[str, Any] = {"failed": 3, "since": "2025-12-08T08:30:00+07:00", "reason": "cannot reach IMAP server"}
    alert |= {"mailbox": "saraban@example.go.th", "at": "2025-12-08T13:30:00+07:00"}
    on = {"th": "วันศุกร์ที่ 26 ธันวาคม 2568", "en": "Friday 26 December 2025"}
    late = [
        {"transaction_id": _APP.transaction_id, "ack_due_at": _APP.ack_due_at, "overdue": o, "why": "pending"} for o in (0, 1)
    ]
    line = {"tid": _APP.transaction_id, "service": "event-permit", "status": "received", "due_at": "", "assigned_to": None}
    lists: dict[str, Any] = {"new": [line], "due_today": [], "overdue": [line], "assigned": {}, "mine": [line]}
    lists |= {"held": [{"id": 3, "held_for": _APP.transaction_id, "reason": "not from the applicant"}], "ack_alerts": late}
    samples: dict[str, list[dict[str, Any]]] = {
        "ack_alert": [{"late": late, "mailbox": alert["mailbox"], "at": alert["at"]}],
        "digest": [{**lists, "login": x, "day": on, "mailbox": alert["mailbox"]} for x in ("somchai", None)],
        "ack": [{**listed, **files, **ack}, {**listed, **none, **asked}],
        "more": [{**listed, **files}],
        "notice": [{**c, "notice": notice} for c in notice_contexts("approved", service)],
        "oversized": [{"size_mb": "62.5", "limit_mb": "50", "applicant_name": None, "subject": s} for s in ("ขออนุญาต", "")],
        "verify": [
            {"number": "EVT-2568-0001", "result": {**result, "status": status}} for status in ("valid", "expired", "revoked")
        ]
        + [{"number": "EVT-2568-9999", "result": {"number": "EVT-2568-9999", "status": "unknown"}}],
        "admin_alert": [{**alert, "recovered": r} for r in (False, True)],
        "forward_confirm": [  # intake/forwarded.py: registered, joined its application, or held
            {"tid": _APP.transaction_id, "citizen": "somchai@example.com", "subject": None, "applicant_name": None, "outcome": o}
            for o in ("application", "reply", "held")
        ],
        "audit_anchor": [{"event": 42, "mac": "0f" * 32, "mailbox": alert["mailbox"], "at": alert["at"]}],
        "delay_reminder": [
            {"tid": _APP.transaction_id, "app": _APP, "service": s, "reason": r, "delay": _DELAY, "notice_on": on}
            for s, r in ((service, "รอผลตรวจสถานที่"), (None, ""))
        ],
    }
    return samples.get(stem)


# --- checking every template ----------------------------------------------------------------
def check_templates(places: TemplatePlaces, service: Any) -> tuple[list[str], list[str]]:
    """Render every mail template, notice and problem sentence the lookup order
    finds (the agency's directory first, the shipped one for what it lacks) with
    the sample data; returns a line for each good file and one for each error,
    naming the file and, where Jinja knows it, the line. ``service`` is a
    ``rules.Service`` (the agency's own when it has one)."""
    ok: list[str] = []
    errors: list[str] = []
    dirs = places.search_path("templates")
    env = environment(dirs)
    found: dict[str, Path] = {}
    for d in dirs:
        for path in sorted(d.glob("*.j2")):
            found.setdefault(path.name, path)
    for stem in MAIL_TEMPLATES:
        for part in ("subject", "txt"):
            if f"{stem}.{part}.j2" not in found:
                errors.append(f"templates/{stem}.{part}.j2: not found in {', '.join(map(str, dirs)) or 'any directory'}")
    for name, path in found.items():
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
            continue
        problems = _check_one(env, source, template_contexts(name.split(".")[0], service), places.agency, str(path))
        errors += problems
        ok += [] if problems else [f"{path}: ok"]
    # The pages (templates/site/, templates/report/): their syntax; they are
    # rendered with the site's data at `publish` and `report monthly`.
    pages: dict[str, Path] = {}
    for d in dirs:
        for path in sorted(d.glob("*/*.j2")):
            pages.setdefault(str(path.relative_to(d)), path)
    for path in pages.values():
        try:
            env.parse(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
        except jinja2.TemplateSyntaxError as exc:
            errors.append(f"{path}:{exc.lineno}: {exc.message}")
        else:
            ok.append(f"{path}: ok")
    for check in (_check_notices, _check_problems):
        try:
            path, problems = check(places, env, service)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        errors += problems
        ok += [] if problems else [f"{path}: ok"]
    return ok, errors


def _table(places: TemplatePlaces, name: str) -> tuple[Path, dict[str, Any]]:
    """The TOML file ``name`` found first in the templates' search path."""
    path = places.find("templates", name)
    try:
        with path.open("rb") as fh:
            return path, tomllib.load(fh)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _check_one(env: jinja2.Environment, source: str, contexts: list[dict[str, Any]] | None, agency: Any, where: str) -> list[str]:
    """The errors of one template: its syntax, then (when the code renders
    it) each name it reads that the code does not give, then a rendering with
    each sample context. ``where`` names it in the errors."""
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [f"{where}:{exc.lineno}: {exc.message}"]
    if contexts is None:
        return []  # an office's own template that no mail uses: its syntax is all there is to check
    given = {"agency", *env.globals, *(k for c in contexts for k in c)}
    # A name the template itself asks about (``x is defined``) may be absent.
    tests = tree.find_all(jinja2.nodes.Test)
    given |= {t.node.name for t in tests if t.name in ("defined", "undefined") and isinstance(t.node, jinja2.nodes.Name)}
    for name in sorted(jinja2.meta.find_undeclared_variables(tree) - given):
        line = next((n.lineno for n in tree.find_all(jinja2.nodes.Name) if n.name == name), 0)
        return [f"{where}:{line}: unknown variable '{name}'"]
    template = env.overlay(autoescape=where.endswith(".html.j2")).from_string(source)
    for context in contexts:
        try:
            template.render(agency=agency, **context)
        except Exception as exc:  # noqa: BLE001 - any error a sweep would meet, as one line
            lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
            return [f"{where}:{lines[-1] if lines else 0}: {exc}"]
    return []


def _check_notices(places: TemplatePlaces, env: jinja2.Environment, service: Any) -> tuple[Path, list[str]]:
    """Every notice the desk sends is in the ``notices.toml`` found first, with
    its four texts, each rendering with the context it is sent with."""
    path, table = _table(places, "notices.toml")
    errors = [f"{path}: no [{key}] (the desk sends it)" for key in NOTICE_EXTRAS if key not in table]
    for key, entry in table.items():
        if not isinstance(entry, dict):
            errors.append(f"{path}: [{key}]: expected a table of {', '.join(NOTICE_FIELDS)}")
            continue
        sms = key.endswith("_sms")  # a text message has no subject
        errors += [f"{path}: [{key}] {f}: missing" for f in NOTICE_FIELDS if f not in entry and not (sms and "subject" in f)]
        for f, text in entry.items():
            errors += _check_one(env, str(text), notice_contexts(key, service), places.agency, f"{path}: [{key}] {f}")
    return path, errors


def _check_problems(places: TemplatePlaces, _env: jinja2.Environment, _service: Any) -> tuple[Path, list[str]]:
    """Every problem the checks name is in the ``problems.toml`` found first,
    in Thai and English, reading only the fields the checks give it."""
    path, table = _table(places, "problems.toml")
    errors = [f"{path}: no [{code}] (the checks name it)" for code in PROBLEM_FIELDS if code not in table]
    for code, entry in table.items():
        given = PROBLEM_FIELDS.get(code, tuple(_PROBLEM_VALUES))
        for lang in ("th", "en"):
            text = entry.get(lang) if isinstance(entry, dict) else None
            if not isinstance(text, str):
                errors.append(f"{path}: [{code}] {lang}: expected text")
                continue
            try:
                wanted = [re.split(r"[.\[]", f)[0] for _, f, _, _ in string.Formatter().parse(text) if f is not None]
            except ValueError as exc:
                errors.append(f"{path}: [{code}] {lang}: {exc}")
                continue
            for name in wanted:
                if name not in given:
                    errors.append(f"{path}: [{code}] {lang}: unknown field {{{name}}}; it may use {{{'} {'.join(given)}}}")
                    break
    return path, errors
