"""The respond stage: what the office answers to a registered message, composed
and queued in the registration's transaction (nothing is sent here).

- a new application or inquiry: the acknowledgement (R4), listing its files and
  what is wrong with them, or an event saying why there is none;
- a reply: the application's reaction (``desk.reactions.react``: documents asked
  for move it back to ``received``), and a receipt for new files when the
  reaction did not already tell the applicant;
- a permit verification (R18): the permit's status, a few times a day per sender;
- mail too large to fetch: how to send smaller files.

Every automatic answer goes where the sender asked (Reply-To when valid, else
From: R4), and is capped per hour on that address
(``answers_per_address_per_hour``) and in all (``answers_per_hour``): a loop
with another robot, or a flood aimed at a victim through Reply-To or forged
From addresses, ends at the cap; past it the mail is still registered and the
clerk sees ``answer_withheld``. The first acknowledgement of an application
is no such answer (issue 12, R4): when the sender's domain passed DMARC by the
trusted Authentication-Results and the acknowledgement goes to that domain it
is never capped; otherwise it counts against a cap of its own
(``first_acks_per_address_per_hour``), never against the other two. Mail
whose trusted Authentication-Results say DMARC fail is not answered at all. Answers never repeat what a stranger wrote:
no subject, no display name, no VERIFY token but a permit number we issued,
file names only when they are plain (``plain_name``); they thread on the
sender's Message-ID under our own subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from email.message import Message
from typing import Any

from mailintake.base import thaitext
from mailintake.base.calendar import WorkCalendar, short_holiday_name
from mailintake.base.config import Hours
from mailintake.base.data import answers, applications, messages
from mailintake.base.data.db import to_iso
from mailintake.base.deployment import Deployment
from mailintake.base.outgoing import Composed, compose, queue
from mailintake.base.rules import MailRules
from mailintake.base.trust import Authentication
from mailintake.base.wording import whole_dpi
from mailintake.desk import book, checklist, replyto, satisfaction
from mailintake.desk.lifecycle import Desk
from mailintake.desk.reactions import REPLIED, Happened, react
from mailintake.desk.services import JURISTIC_PROBLEMS
from mailintake.intake.check import FileCheck
from mailintake.intake.classify import Verdict
from mailintake.intake.parse import Incoming
from mailintake.intake.record import SYSTEM, Checked
from mailintake.permits.register import status_of

_MSGID = re.compile(r"^<[^<>\s]+>$")
# A file name an answer may list as it is: letters (Thai too), digits, spaces
# and - _ ( ), at most one dot (the extension); anything that could read as a
# link or an address is listed as "file N" instead.
_PLAIN_NAME = re.compile(r"^[\w\u0E00-\u0E7F ()-]{1,60}(\.[A-Za-z0-9]{1,5})?$")
WITHHELD = "answer_withheld"


class Responder:
    """The answers of one deployment; the desk writes the notices of a reaction."""

    def __init__(self, dep: Deployment, desk: Desk):
        self.dep, self.desk = dep, desk
        self.cfg, self.reg, self.cal, self.renderer = dep.cfg, dep.registry, dep.calendar, dep.renderer

    def over_cap(self, recipient: str, now: datetime, *, first_ack: bool = False) -> str | None:
        """Why no more automatic answers (``first_ack``: first acknowledgements
        of applications) may go to ``recipient`` this hour, or None."""
        lim, since = self.cfg.limits, now - timedelta(hours=1)
        if first_ack:
            cap = lim.first_acks_per_address_per_hour
            if answers.first_acks_to_since(self.reg, recipient, since, cap) >= cap:
                return f"{cap} first acknowledgements to {recipient} in the last hour with no DMARC pass"
            return None
        if (
            answers.others_to_since(self.reg, recipient, since, lim.answers_per_address_per_hour)
            >= lim.answers_per_address_per_hour
        ):
            return f"{lim.answers_per_address_per_hour} automatic answers to {recipient} in the last hour"
        if answers.others_since(self.reg, since, lim.answers_per_hour) >= lim.answers_per_hour:
            return f"{lim.answers_per_hour} automatic answers in all in the last hour"
        return None

    def may_answer(
        self,
        recipient: str,
        answer: str,
        now: datetime,
        *,
        tid: str | None = None,
        auth: Authentication | None = None,
        first_ack: bool = False,
    ) -> bool:
        """Whether the automatic ``answer`` may go to ``recipient``; when not,
        an ``answer_withheld`` event says why (and the application is flagged,
        so the clerk answers by hand). A first acknowledgement (``first_ack``)
        to the domain that passed DMARC is never capped."""
        trusted = first_ack and dmarc_passed(auth, recipient)
        why = None if trusted else self.over_cap(recipient, now, first_ack=first_ack)
        if auth is not None and auth.dmarc_failed:
            domain = auth.dmarc_domain or recipient.rpartition("@")[2]
            why = f"DMARC fail for {domain}: no {'acknowledgement' if answer == 'ack' else answer.replace('_', ' ')} sent"
        if why is None:
            return True
        self.reg.add_event(
            at=now, actor=SYSTEM, action=WITHHELD, transaction_id=tid, detail={"answer": answer, "to": recipient, "why": why}
        )
        app = applications.get(self.reg, tid) if tid else None
        if app is not None and WITHHELD not in app.flags:
            applications.update(self.reg, app.transaction_id, flags=(*app.flags, WITHHELD), updated_at=to_iso(now))
        return False

    # --- a new application or inquiry ---------------------------------------------------
    def acknowledge(
        self,
        msg: Incoming,
        verdict: Verdict,
        tid: str,
        checks: Checked,
        now: datetime,
        received: datetime,
        deemed: datetime,
        auth: Authentication | None = None,
    ) -> None:
        failed = auth is not None and auth.dmarc_failed  # a reply address named (R5) is recorded, ack or not
        named = replyto.take(self.desk, tid, msg.body_text, msg.from_addr, now, dmarc_failed=failed, message_id=msg.message_id)
        recipient = msg.reply_address
        if recipient is None:
            self.reg.add_event(
                at=now, actor=SYSTEM, action="ack_impossible", transaction_id=tid, detail="no valid From or Reply-To address"
            )
            return
        first = verdict.application_kind != "inquiry"
        if not self.may_answer(recipient, "ack", now, tid=tid, auth=auth, first_ack=first):
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
        ctx["right_address"] = self.cfg.agency.mailbox_address if "forwarded" in verdict.flags else None  # R23
        ctx |= named.context()  # the sender learns of the reply address recorded, or why not (R5)
        if not ctx["inquiry"]:  # the required documents no file answers (desk.checklist)
            ctx["missing_documents"] = checklist.missing(self.reg, verdict.service, tid)
        composed = self.answer("ack", recipient, ctx, now, kind="ack", tid=tid, msg=msg)
        self.reg.add_event(
            at=now,
            actor=SYSTEM,
            action="ack_queued",
            transaction_id=tid,
            detail={"to": recipient, "message_id": composed.message_id},
        )

    # --- a reply on an application ------------------------------------------------------
    def on_reply(
        self, msg: Incoming, tid: str, checks: Checked, now: datetime, received: datetime, auth: Authentication | None = None
    ) -> None:
        """The application reacts (the desk tells the applicant when it moves);
        new files that moved nothing get a receipt."""
        before = applications.get(self.reg, tid)
        if before is None:
            return
        satisfaction.record(self.reg, tid, before.status, msg.body_text, now)  # a closed one was asked (R26)
        failed = auth is not None and auth.dmarc_failed
        replyto.from_reply(self.desk, tid, msg.body_text, msg.from_addr, msg.reply_to, now, dmarc_failed=failed)
        # A slip may be a phone's photo: a low resolution does not stop it (R17).
        files = tuple((c.name, c.kind, all(p.code == "low_resolution" for p in c.problems)) for _d, c in checks)
        react(self.reg, Happened(REPLIED, tid, has_files=bool(checks), files=files), now, self.desk)
        after = applications.get(self.reg, tid)
        # A reply with files while a fee is due was answered by the desk: moved, or the slip explained.
        moved = after is not None and (after.status != before.status or before.status == "fee_due")
        recipient = after.reply_to if after is not None and after.reply_to else msg.reply_address  # R5
        if checks and recipient is not None and not moved and self.may_answer(recipient, "receipt", now, tid=tid, auth=auth):
            ctx = self.context(tid, msg, received, received, checks)
            self.answer("more", recipient, ctx, now, kind="receipt", tid=tid, msg=msg)

    # --- a permit verification (R18) ----------------------------------------------------
    def verify(
        self, msg: Incoming, number: str, message_row: int, now: datetime, received: datetime, auth: Authentication | None = None
    ) -> None:
        """Answer with the permit's status, at most ``verify_per_sender_per_day``
        times per sender and within the caps on the address it goes to. The
        number is repeated only when it is one we issued."""
        earlier = messages.verify_requests_since(
            self.reg, msg.from_addr or "", received - timedelta(hours=24), besides=message_row
        )
        recipient = msg.reply_address
        if earlier >= self.cfg.permits.verify_per_sender_per_day or recipient is None:
            why = "no valid address" if recipient is None else f"{earlier} checks in 24 h from this sender"
            self.reg.add_event(at=now, actor=SYSTEM, action="verify_not_answered", detail={"permit": number[:80], "why": why})
            return
        if not self.may_answer(recipient, "verify_answer", now, auth=auth):
            return
        result = status_of(self.reg, number, now)
        shown = number if result["status"] != "unknown" else None
        self.answer("verify", recipient, {"number": shown, "result": result}, now, kind="verify_answer", msg=msg)
        self.reg.add_event(
            at=now,
            actor=SYSTEM,
            action="verify_answered",
            transaction_id=result.get("transaction_id"),
            detail={"permit": number[:80], "status": result["status"], "to": recipient},
        )

    # --- mail too large to fetch ---------------------------------------------------------
    def oversized(self, headers: Message, size: int, sender_name: str, recipient: str | None, now: datetime) -> None:
        """Tell the sender how to send smaller files, unless a robot sent it."""
        if recipient is None or is_automatic(self.dep.rules, headers) or not self.may_answer(recipient, "oversized", now):
            return
        mb = self.cfg.limits.max_message_bytes / (1024 * 1024)
        ctx = {"size_mb": f"{size / (1024 * 1024):.1f}", "limit_mb": f"{mb:g}", "applicant_name": None, "subject": None}
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
            "register_number": book.number_of(self.reg, tid),  # เลขทะเบียนรับ in the registry book (issue 16)
            "subject": None,  # never the sender's words (issue 11)
            "applicant_name": None,
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
            "missing_documents": [],
        }

    def listed_files(self, files: Sequence[FileCheck]) -> dict[str, Any]:
        """The files an answer lists: at most ``[limits] ack_max_files``, those
        with problems first (the applicant must act on them), and how many more
        were received."""
        limit = self.cfg.limits.ack_max_files
        # The dpi as the clerk's listings show it (one rounding rule: ``whole_dpi``).
        files = [replace(f, dpi=whole_dpi(f.dpi), name=plain_name(f.name, i)) for i, f in enumerate(files, 1)]
        ordered = list(files) if len(files) <= limit else [f for f in files if not f.accepted] + [f for f in files if f.accepted]
        shown, rest = ordered[:limit], ordered[limit:]
        return {"files": shown, "files_more": len(rest), "files_more_problems": sum(not f.accepted for f in rest)}


def dmarc_passed(auth: Authentication | None, recipient: str) -> bool:
    """The trusted Authentication-Results say DMARC pass for the domain the
    answer goes to (or one it is a subdomain of): the sender is who they say."""
    if auth is None or auth.dmarc != "pass" or not auth.dmarc_domain:
        return False
    domain, passed = recipient.rpartition("@")[2].lower(), auth.dmarc_domain.lower()
    return domain == passed or domain.endswith("." + passed)


def plain_name(name: str, index: int) -> str:
    """A file name as an answer lists it: as sent when plain, else "file N"."""
    return name if _PLAIN_NAME.match(name) else f"file {index} / ไฟล์ที่ {index}"


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
                known = WorkCalendar(hours).holiday(day_of)  # the office's calendar: package, its list, config
                name_th = short_holiday_name(known.name_th) if known is not None and known.name_th else name_en
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
