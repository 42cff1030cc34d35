"""The register stage: write what the stages before it decided, and decide
nothing. The message row and where it was seen (folder, UIDVALIDITY, UID),
the file records, the application with its transaction ID (R11) and deadlines,
the audit events. Files are in the store before the transaction that names
them; the pipeline opens that transaction and the respond stage queues its
answer in it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from typing import Any

from mailintake.base import thaitext
from mailintake.base.calendar import Deadline
from mailintake.base.data import applications, messages, senders
from mailintake.base.data import outbox as sent
from mailintake.base.data.db import to_iso
from mailintake.base.data.messages import Place
from mailintake.base.data.records import Message as MessageRow
from mailintake.base.deployment import Deployment
from mailintake.base.headers import decode
from mailintake.base.store import sha256
from mailintake.base.trust import ReceiptTime
from mailintake.desk import book
from mailintake.intake.check import FileCheck
from mailintake.intake.classify import AUTOREPLY, BOUNCE, DELIVERY_NOTE, OWN, READ_RECEIPT, REPORT_KINDS, Verdict
from mailintake.intake.parse import Incoming, header_text, one_line
from mailintake.intake.reported import record_report
from mailintake.intake.source import Envelope

SYSTEM = "system"
Checked = Sequence[tuple[str, FileCheck]]
_REPORT_ACTIONS = {
    AUTOREPLY: "autoreply_recorded",
    BOUNCE: "bounce_recorded",
    OWN: "own_mail_recorded",
    DELIVERY_NOTE: "delivery_note_recorded",
    READ_RECEIPT: "read_receipt_recorded",
}


@dataclass(frozen=True)
class Outcome:
    kind: str  # application | reply | held | autoreply | bounce | own | verify | spam | oversized | duplicate | quarantined
    message_row: int
    transaction_id: str | None = None


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def place_of(env: Envelope | None) -> Place | None:
    return None if env is None else Place(env.folder, env.uidvalidity, env.uid)


def kept_headers(headers: Message) -> str:
    """The headers of a message whose body is not kept (spam, oversized), one line each."""
    return _j({k.lower(): [one_line(decode(str(v)), 500)] for k, v in list(headers.raw_items())[:200]})


class Recorder:
    """Rows of the messages a deployment takes, written inside the caller's
    transaction unless a method says otherwise."""

    def __init__(self, dep: Deployment):
        self.dep, self.reg, self.cal, self.cfg = dep, dep.registry, dep.calendar, dep.cfg

    # --- rows ---------------------------------------------------------------------------
    def message(
        self,
        env: Envelope | None,
        msg: Incoming,
        kind: str,
        now: datetime,
        *,
        tid: str | None = None,
        flags: Sequence[str] = (),
        headers: bool = False,
        outbox_id: int | None = None,
        receipt: ReceiptTime | None = None,
    ) -> int:
        """One message row with its receipt time (R1): the legal one in
        ``received_at``, the mailbox's INTERNALDATE and the trusted Received:
        time beside it, and which of them ``received_at`` is."""
        if receipt is None:
            when = env.internaldate if env else now
            receipt = ReceiptTime(when, when, None, False)
        return messages.add(
            self.reg,
            {
                "sha256": msg.sha256,
                "body_sha256": msg.body_sha256,
                "message_id": msg.message_id,
                "kind": kind,
                "transaction_id": tid,
                "folder": env.folder if env else None,
                "uidvalidity": env.uidvalidity if env else None,
                "uid": env.uid if env else None,
                **self.receipt_columns(receipt),
                "date_header": to_iso(msg.date_header),
                "received_chain": _j(list(msg.received_chain[:20])),
                "fetched_at": to_iso(now),
                "size": msg.size,
                "from_addr": msg.from_addr or (msg.header("from") or "")[:300],
                "reply_to": msg.reply_to,
                "to_addrs": _j(list(msg.to_addrs)),
                "subject": msg.subject,
                "defects": _j(list(msg.defects)),
                "flags": _j(list(flags)),
                "headers": _j({k: list(v) for k, v in msg.headers.items()}) if headers else None,
                "stored": 1,
                "outbox_id": outbox_id,
                "created_at": to_iso(now),
            },
            place_of(env),
        )

    def receipt_columns(self, receipt: ReceiptTime) -> dict[str, str | None]:
        trusted = receipt.trusted
        return {
            "received_at": to_iso(self.cal.local(receipt.at)),
            "internaldate": to_iso(receipt.internaldate),
            "receipt_source": receipt.source,
            "trusted_received_at": to_iso(self.cal.local(trusted.at)) if trusted else None,
        }

    def files(self, message_row: int, tid: str | None, checks: Checked) -> None:
        for digest, fc in checks:
            messages.add_file(
                self.reg,
                message_row=message_row,
                tid=tid,
                sha256=digest,
                name=fc.name,
                size=fc.size,
                declared_type=fc.declared_type,
                content_type=fc.content_type,
                kind=fc.kind,
                accepted=fc.accepted,
                dpi=fc.dpi,
                problem=fc.problem,
                problem_th="; ".join(p.th for p in fc.problems) or None,
                problem_en="; ".join(p.en for p in fc.problems) or None,
                details={"problems": [p.code for p in fc.problems], **fc.details},
            )

    def new_transaction_id(self, received: datetime) -> str:
        year = self.cal.local(received).year
        seq = self.reg.next_number("transaction", year)
        return self.cfg.ids.format.format(prefix=self.cfg.ids.prefix, be_year=thaitext.be_year(year), year=year, seq=seq)

    def begin(self, msg: Incoming, retry_row: int | None) -> None:
        """The crash counter of this message ends with its registration; a
        quarantined message retried gives its old row up to this outcome."""
        messages.end_attempt(self.reg, msg.sha256)
        if retry_row is not None:
            messages.retire(self.reg, retry_row)

    # --- what the headers alone decided (each in its own transaction but oversized) ----------
    def spam(self, env: Envelope, headers: Message, raw_header: bytes, reason: str, now: datetime) -> Outcome:
        """Spam is recorded by its headers only; its body is never parsed (R22)
        and the message is moved to ``[mailbox] spam_folder``."""
        with self.reg.transaction():
            row = self._by_headers(env, headers, raw_header, "spam", now, header_text(headers, "From", 300), reason)
            self.reg.add_event(at=now, actor=SYSTEM, action="spam_quarantined", detail={"reason": reason, "message": row})
        return Outcome("spam", row)

    def oversized(self, env: Envelope, headers: Message, recipient: str | None, now: datetime) -> Outcome:
        """Too large to fetch: recorded by its headers (the caller's
        transaction, where the respond stage tells the sender)."""
        sender = recipient or header_text(headers, "From", 300)
        row = self._by_headers(env, headers, env.header, "oversized", now, sender, f"{env.size} bytes")
        self.reg.add_event(at=now, actor=SYSTEM, action="oversized", detail={"message": row, "size": env.size})
        return Outcome("oversized", row)

    def _by_headers(
        self, env: Envelope, headers: Message, raw_header: bytes, kind: str, now: datetime, sender: str, flag: str
    ) -> int:
        """The row of a message whose body is never fetched or kept: its headers,
        where it was seen, and why (``flag``)."""
        return messages.add(
            self.reg,
            {
                "sha256": sha256(raw_header),
                "message_id": str(headers.get("Message-ID", ""))[:300] or None,
                "kind": kind,
                "folder": env.folder,
                "uidvalidity": env.uidvalidity,
                "uid": env.uid,
                "received_at": to_iso(self.cal.local(env.internaldate)),
                "internaldate": to_iso(env.internaldate),
                "fetched_at": to_iso(now),
                "size": env.size,
                "from_addr": sender,
                "subject": header_text(headers, "Subject", 300),
                "headers": kept_headers(headers),
                "flags": _j([flag]),
                "stored": 0,
                "created_at": to_iso(now),
            },
            place_of(env),
        )

    def quarantine(
        self,
        env: Envelope | None,
        raw: bytes,
        stage: str,
        error: str,
        now: datetime,
        existing: int | None = None,
        receipt: ReceiptTime | None = None,
    ) -> Outcome:
        """Keep a message the road could not finish, naming the stage and the
        error (its own transaction). Its INTERNALDATE is kept, so a retry
        finds the same receipt time."""
        with self.reg.transaction():
            if existing is not None:
                messages.quarantine_again(self.reg, existing, stage, error)
                row = existing
            else:
                when = env.internaldate if env else now
                receipt = receipt or ReceiptTime(when, when, None, False)
                row = messages.add(
                    self.reg,
                    {
                        "sha256": sha256(raw),
                        "kind": "quarantined",
                        "folder": env.folder if env else None,
                        "uidvalidity": env.uidvalidity if env else None,
                        "uid": env.uid if env else None,
                        **self.receipt_columns(receipt),
                        "fetched_at": to_iso(now),
                        "size": len(raw),
                        "stored": 1,
                        "stage": stage,
                        "error": error[:1000],
                        "attempts": 1,
                        "created_at": to_iso(now),
                    },
                    place_of(env),
                )
            self.reg.add_event(
                at=now, actor=SYSTEM, action="quarantined", detail={"message": row, "stage": stage, "error": error[:300]}
            )
        return Outcome("quarantined", row)

    # --- what the road decided --------------------------------------------------------------
    def duplicate(
        self, env: Envelope | None, msg: Incoming, original: MessageRow, now: datetime, receipt: ReceiptTime | None = None
    ) -> Outcome:
        row = self.message(env, msg, "duplicate", now, tid=original.transaction_id, receipt=receipt)
        self.reg.add_event(
            at=now,
            actor=SYSTEM,
            action="duplicate_ignored",
            transaction_id=original.transaction_id,
            detail={"message": row, "same_as": original.id},
        )
        return Outcome("duplicate", row, original.transaction_id)

    def application(
        self,
        env: Envelope | None,
        msg: Incoming,
        verdict: Verdict,
        checks: Checked,
        now: datetime,
        receipt: ReceiptTime,
        deadline: Deadline,
        due_at: datetime | None,
    ) -> Outcome:
        """A new application or inquiry, as classify found it, with its files,
        its receipt time (R1), its deemed receipt and the day it must be decided by."""
        tid = self.new_transaction_id(receipt.at)
        problems = sorted({p.code for _d, fc in checks for p in fc.problems}) + list(verdict.problems)
        service = verdict.service.id if verdict.service else None
        row = self.message(env, msg, "application", now, tid=tid, flags=verdict.flags, receipt=receipt)
        self.files(row, tid, checks)
        messages.add_application(
            self.reg,
            tid=tid,
            kind=verdict.application_kind,
            service=service,
            juristic=verdict.juristic,
            due_at=due_at,
            applicant_email=msg.reply_address or (msg.header("from") or "")[:300],
            applicant_name=msg.from_name or None,
            subject=msg.subject,
            received_at=self.cal.local(receipt.at),
            deemed_received_at=deadline.deemed_received_at,
            ack_due_at=deadline.ack_due_at,
            ack_reason=deadline.reason,
            problems=problems,
            flags=list(verdict.flags),
            now=now,
        )
        number = book.register_mail(
            self.reg,
            tid=tid,
            subject=msg.subject,
            body=msg.body_text,
            sender=f"{msg.from_name} <{msg.reply_address or msg.from_addr or ''}>".strip(),
            to=", ".join(msg.to_addrs[:3]),
            dated=msg.date_header,
            received=self.cal.local(receipt.at),
            deemed=self.cal.local(deadline.deemed_received_at),
            files=len(checks),
            now=now,
        )
        self.reg.add_event(
            at=now,
            actor=SYSTEM,
            action="registered",
            transaction_id=tid,
            before=None,
            after="received",
            detail={
                "message": row,
                "files": len(checks),
                "kind": verdict.application_kind,
                "service": service,
                "deemed": to_iso(deadline.deemed_received_at),
                "reason": deadline.reason,
                "receipt_source": receipt.source,
                "book_number": number,
            },
        )
        return Outcome("application", row, tid)

    def reply(
        self, env: Envelope | None, msg: Incoming, tid: str, checks: Checked, now: datetime, receipt: ReceiptTime
    ) -> Outcome:
        """More mail on an application: its files, and the ``new_documents`` flag."""
        app = applications.get(self.reg, tid)
        assert app is not None
        row = self.message(env, msg, "reply", now, tid=tid, receipt=receipt)
        self.files(row, tid, checks)
        flags = app.flags + (("new_documents",) if checks and "new_documents" not in app.flags else ())
        applications.update(self.reg, tid, flags=flags, updated_at=to_iso(now))
        self.reg.add_event(
            at=now,
            actor=SYSTEM,
            action="documents_added" if checks else "reply_recorded",
            transaction_id=tid,
            before=app.status,
            after=app.status,
            detail={"message": row, "files": len(checks)},
        )
        return Outcome("reply", row, tid)

    def held(
        self, env: Envelope | None, msg: Incoming, verdict: Verdict, checks: Checked, now: datetime, receipt: ReceiptTime
    ) -> Outcome:
        """Mail quoting an application's ID from someone else: kept with its
        files, joined to nothing, for the clerk (``desk.held``)."""
        tid = verdict.transaction_id
        assert tid is not None
        row = self.message(env, msg, "held", now, receipt=receipt)
        senders.held_flag(self.reg, row, verdict.reason, tid)
        self.files(row, None, checks)
        app = applications.get(self.reg, tid)
        self.reg.add_event(
            at=now,
            actor=SYSTEM,
            action="mail_held",
            transaction_id=tid,
            before=app.status if app else None,
            after=app.status if app else None,
            detail={"message": row, "files": len(checks), "reason": verdict.reason[:500]},
        )
        return Outcome("held", row, tid)

    def verify(self, env: Envelope | None, msg: Incoming, number: str, now: datetime, receipt: ReceiptTime) -> Outcome:
        return Outcome("verify", self.message(env, msg, "verify", now, flags=[number], receipt=receipt))

    def report(self, env: Envelope | None, msg: Incoming, verdict: Verdict, now: datetime, receipt: ReceiptTime) -> Outcome:
        """Robot mail (auto-replies, our own mail back, delivery reports, read
        receipts), with its headers; a report is applied to the mail it is about."""
        ob = (
            sent.by_message_id(self.reg, verdict.outbox_message_id)
            if verdict.kind in REPORT_KINDS and verdict.outbox_message_id
            else None
        )
        outbox_id, tid = (ob.id, ob.transaction_id) if ob else (None, None)
        row = self.message(
            env,
            msg,
            verdict.kind,
            now,
            tid=tid,
            headers=True,
            outbox_id=outbox_id,
            flags=[verdict.reason[:500]],
            receipt=receipt,
        )
        delivery = record_report(self.cfg, self.reg, ob, verdict, now, row) if ob else {}
        self.reg.add_event(
            at=now,
            actor=SYSTEM,
            action=_REPORT_ACTIONS.get(verdict.kind, "recorded"),
            transaction_id=tid,
            detail={"message": row, "reason": verdict.reason[:500], **delivery},
        )
        return Outcome(verdict.kind, row, tid)
