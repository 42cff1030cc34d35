"""The respond stage: what the office answers to a registered message, composed
and queued in the registration's transaction (nothing is sent here).

- a new application or inquiry: the acknowledgement (R4), listing its files and
  what is wrong with them, or an event saying why there is none;
- a reply: the application's reaction (``desk.reactions.react``: documents asked
  for move it back to ``received``), and a receipt for new files when the
  reaction did not already tell the applicant;
- a permit verification (R18): the permit's status, a few times a day per sender;
- mail too large to fetch: how to send smaller files.

Automatic answers to one address are limited per hour
(``acks_per_sender_per_hour``): a loop with another robot ends after a few.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from email.message import Message
from functools import lru_cache
from typing import Any

import holidays

from mailintake.base import thaitext
from mailintake.base.calendar import short_holiday_name
from mailintake.base.config import Hours
from mailintake.base.data import applications, messages
from mailintake.base.data import outbox as sent
from mailintake.base.deployment import Deployment
from mailintake.base.outgoing import Composed, compose, queue
from mailintake.base.rules import MailRules
from mailintake.base.wording import whole_dpi
from mailintake.desk.lifecycle import Desk
from mailintake.desk.reactions import REPLIED, Happened, react
from mailintake.desk.services import JURISTIC_PROBLEMS
from mailintake.intake.check import FileCheck
from mailintake.intake.classify import Verdict
from mailintake.intake.parse import Incoming, one_line
from mailintake.intake.record import SYSTEM, Checked
from mailintake.permits.register import status_of

_MSGID = re.compile(r"^<[^<>\s]+>$")


class Responder:
    """The answers of one deployment; the desk writes the notices of a reaction."""

    def __init__(self, dep: Deployment, desk: Desk):
        self.dep, self.desk = dep, desk
        self.cfg, self.reg, self.cal, self.renderer = dep.cfg, dep.registry, dep.calendar, dep.renderer

    def may_answer(self, recipient: str, now: datetime) -> bool:
        """At most ``acks_per_sender_per_hour`` automatic answers to one address."""
        return sent.answers_since(self.reg, recipient, now - timedelta(hours=1)) < self.cfg.limits.acks_per_sender_per_hour

    # --- a new application or inquiry ---------------------------------------------------
    def acknowledge(
        self, msg: Incoming, verdict: Verdict, tid: str, checks: Checked, now: datetime, received: datetime, deemed: datetime
    ) -> None:
        recipient = msg.reply_address
        if recipient is None:
            self.reg.add_event(
                at=now, actor=SYSTEM, action="ack_impossible", transaction_id=tid, detail="no valid From or Reply-To address"
            )
            return
        if not self.may_answer(recipient, now):
            self.reg.add_event(
                at=now,
                actor=SYSTEM,
                action="ack_rate_limited",
                transaction_id=tid,
                detail={"to": recipient, "limit_per_hour": self.cfg.limits.acks_per_sender_per_hour},
            )
            return
        domain = (msg.from_addr or "").rpartition("@")[2]
        app = applications.get(self.reg, tid)
        ctx = self.context(tid, msg, received, deemed, checks, reason=app.ack_reason if app else None)
        ctx["inquiry"] = verdict.application_kind == "inquiry"
        ctx["service"] = verdict.service
        ctx["app_problems"] = [
            self.dep.wording.problem(code, domain=domain) for code in verdict.problems if code in JURISTIC_PROBLEMS
        ]
        ctx["identity_needed"] = verdict.service is not None and verdict.service.risk in ("medium", "high")
        composed = self.answer("ack", recipient, ctx, now, kind="ack", tid=tid, msg=msg)
        self.reg.add_event(
            at=now,
            actor=SYSTEM,
            action="ack_queued",
            transaction_id=tid,
            detail={"to": recipient, "message_id": composed.message_id},
        )

    # --- a reply on an application ------------------------------------------------------
    def on_reply(self, msg: Incoming, tid: str, checks: Checked, now: datetime, received: datetime) -> None:
        """The application reacts (the desk tells the applicant when it moves);
        new files that moved nothing get a receipt."""
        before = applications.get(self.reg, tid)
        if before is None:
            return
        react(self.reg, Happened(REPLIED, tid, has_files=bool(checks)), now, self.desk)
        after = applications.get(self.reg, tid)
        moved = after is not None and after.status != before.status
        recipient = msg.reply_address
        if checks and recipient is not None and not moved and self.may_answer(recipient, now):
            ctx = self.context(tid, msg, received, received, checks)
            self.answer("more", recipient, ctx, now, kind="receipt", tid=tid, msg=msg)

    # --- a permit verification (R18) ----------------------------------------------------
    def verify(self, msg: Incoming, number: str, message_row: int, now: datetime, received: datetime) -> None:
        """Answer with the permit's status, at most ``verify_per_sender_per_day`` times."""
        earlier = messages.verify_requests_since(
            self.reg, msg.from_addr or "", received - timedelta(hours=24), besides=message_row
        )
        recipient = msg.reply_address
        if earlier >= self.cfg.permits.verify_per_sender_per_day or recipient is None:
            why = "no valid address" if recipient is None else f"{earlier} checks in 24 h from this sender"
            self.reg.add_event(at=now, actor=SYSTEM, action="verify_not_answered", detail={"permit": number, "why": why})
            return
        result = status_of(self.reg, number, now)
        self.answer("verify", recipient, {"number": number, "result": result}, now, kind="verify_answer", msg=msg)
        self.reg.add_event(
            at=now,
            actor=SYSTEM,
            action="verify_answered",
            transaction_id=result.get("transaction_id"),
            detail={"permit": number, "status": result["status"], "to": recipient},
        )

    # --- mail too large to fetch ---------------------------------------------------------
    def oversized(self, headers: Message, size: int, sender_name: str, recipient: str | None, now: datetime) -> None:
        """Tell the sender how to send smaller files, unless a robot sent it."""
        if recipient is None or is_automatic(self.dep.rules, headers) or not self.may_answer(recipient, now):
            return
        mb = self.cfg.limits.max_message_bytes / (1024 * 1024)
        ctx = {
            "size_mb": f"{size / (1024 * 1024):.1f}",
            "limit_mb": f"{mb:g}",
            "applicant_name": sender_name or None,
            "subject": one_line(str(headers.get("Subject", "")), 200),
        }
        mid = str(headers.get("Message-ID") or "").strip()
        self.answer("oversized", recipient, ctx, now, kind="oversized", in_reply_to=mid if _MSGID.match(mid) else None)

    # --- what the answers say -------------------------------------------------------------
    def answer(
        self,
        template: str,
        recipient: str,
        ctx: dict[str, Any],
        now: datetime,
        *,
        kind: str,
        tid: str | None = None,
        msg: Incoming | None = None,
        in_reply_to: str | None = None,
    ) -> Composed:
        """Compose ``template`` to ``recipient``, threaded on ``msg`` when given,
        and queue it in the caller's transaction."""
        composed = compose(
            self.cfg,
            self.renderer,
            template=template,
            recipient=recipient,
            context=ctx,
            now=now,
            tid=tid,
            in_reply_to=msg.message_id if msg is not None else in_reply_to,
            references=msg.references if msg is not None else (),
        )
        queue(self.cfg, self.reg, composed, kind=kind, tid=tid, now=now)
        return composed

    def context(
        self, tid: str, msg: Incoming, received: datetime, deemed: datetime, checks: Checked, *, reason: str | None = None
    ) -> dict[str, Any]:
        """What an answer about received mail says. ``reason`` is the stored
        reason for the deemed receipt (``applications.ack_reason``): when it
        says receipt was deemed later, ``later_th`` and ``later_en`` give why."""
        local_received, local_deemed = self.cal.local(received), self.cal.local(deemed)
        later = deemed_later(reason or "", local_received.date(), self.cfg.hours)
        source = receipt_by_mailbox(reason or "") if later else None
        return {
            "tid": tid,
            "subject": msg.subject,
            "applicant_name": msg.from_name or None,
            "received_th": thaitext.thai_date(local_received),
            "received_en": thaitext.english_date(local_received),
            "deemed_th": thaitext.thai_date(local_deemed),
            "deemed_en": thaitext.english_date(local_deemed),
            "later_th": [th for th, _en in later],
            "later_en": [en for _th, en in later],
            "later_source_th": source[0] if source else None,
            "later_source_en": source[1] if source else None,
            **self.listed_files([fc for _d, fc in checks]),
            "resend": any(not fc.accepted for _d, fc in checks),
            "inquiry": False,
            "service": None,
            "app_problems": [],
            "identity_needed": False,
        }

    def listed_files(self, files: Sequence[FileCheck]) -> dict[str, Any]:
        """The files an answer lists: at most ``[limits] ack_max_files``, those
        with problems first (the applicant must act on them), and how many more
        were received."""
        limit = self.cfg.limits.ack_max_files
        # The dpi as the clerk's listings show it (one rounding rule: ``whole_dpi``).
        files = [replace(f, dpi=whole_dpi(f.dpi)) for f in files]
        ordered = list(files) if len(files) <= limit else [f for f in files if not f.accepted] + [f for f in files if f.accepted]
        shown, rest = ordered[:limit], ordered[limit:]
        return {"files": shown, "files_more": len(rest), "files_more_problems": sum(not f.accepted for f in rest)}


def is_automatic(rules: MailRules, headers: Message) -> bool:
    """Headers that say a robot sent the message (RFC 3834 and the like)."""
    return any(r.matches([str(v) for v in headers.get_all(r.header) or []]) for r in rules.auto_rules)


# --- why receipt was deemed later, in Thai and English ----------------------------------------
# The parts of the stored reason (``WorkCalendar.deadline`` and ``Receipt.describe``
# write them, joined by "; "): each part the applicant should know of is said
# in both languages; the others (the deemed time itself) are already in the answer.
_HOLIDAY = re.compile(r"^(\d{1,2}) ([A-Z][a-z]{2}) is (a public|an agency) holiday \((.+)\)$")
_NOT_WORKING = re.compile(r"^[A-Z][a-z]+day is not a working day$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@lru_cache(maxsize=8)
def _thai_holiday_names(year: int) -> dict[date, str]:
    return {d: str(n) for d, n in holidays.country_holidays("TH", years=[year], language="th").items()}


def _day_after(received: date, day: int, month: str) -> date:
    """The date of ``day month`` on or after the receipt (a holiday can be in the next year)."""
    moment = date(received.year, _MONTHS.index(month) + 1, day)
    return moment if moment >= received else moment.replace(year=received.year + 1)


def _as_moment(day: date) -> datetime:
    return datetime.combine(day, time())


def deemed_later(reason: str, received: date, hours: Hours) -> list[tuple[str, str]]:
    """Why receipt was deemed later than the mail arrived, as (Thai, English)
    sentences, from the stored reason; none for mail received in working time."""
    parts = [p.strip() for p in reason.split(";")]
    if not reason or any(p.startswith("in working time") for p in parts):
        return []
    hours_th = f"{hours.open:%H.%M}–{hours.close:%H.%M} น."
    hours_en = f"{hours.open:%H:%M}–{hours.close:%H:%M}"
    out: list[tuple[str, str]] = []
    for part in parts:
        holiday = _HOLIDAY.match(part)
        if part == "after hours":
            out.append((f"ได้รับอีเมลหลังเวลาทำการ ({hours_th})", f"it arrived after office hours ({hours_en})"))
        elif part == "before opening":
            out.append((f"ได้รับอีเมลก่อนเวลาทำการ ({hours_th})", f"it arrived before office hours ({hours_en})"))
        elif _NOT_WORKING.match(part):
            day = _as_moment(received)
            out.append(
                (
                    f"ได้รับอีเมลใน{thaitext.thai_date(day, with_time=False)} ซึ่งไม่ใช่วันทำการ",
                    f"it arrived on {thaitext.english_date(day, with_time=False)}, not a working day",
                )
            )
        elif holiday is not None:
            day_of = _day_after(received, int(holiday.group(1)), holiday.group(2))
            name_en = holiday.group(4)
            if holiday.group(3) == "a public":
                name_th = short_holiday_name(_thai_holiday_names(day_of.year).get(day_of, "")) or name_en
                kind_th, kind_en = "วันหยุดราชการ", "a public holiday"
            else:
                name_th, kind_th, kind_en = name_en, "วันหยุดของหน่วยงาน", "a holiday of the office"
            when = _as_moment(day_of)
            out.append(
                (
                    f"{thaitext.thai_date(when, with_time=False)} เป็น{kind_th} ({name_th})",
                    f"{thaitext.english_date(when, with_time=False)} is {kind_en} ({name_en})",
                )
            )
    return out


def receipt_by_mailbox(reason: str) -> tuple[str, str] | None:
    """(Thai, English) saying the receipt time is the mailbox's, when the
    stored reason says no trusted Received: header gave it; else None."""
    if not any(
        p.strip().startswith("received by the mailbox at") and "no trusted Received header" in p for p in reason.split(";")
    ):
        return None
    return (
        "เวลารับคือเวลาที่กล่องอีเมลของหน่วยงานบันทึกไว้ เนื่องจากไม่พบบันทึกการรับจากเครื่องแม่ข่ายอีเมลของหน่วยงาน",
        "The time of receipt is when our mailbox stored the email: no record of our mail server receiving it was found.",
    )
