"""Register what a sweep decided, one SQLite transaction per message: the message
row, its (folder, UIDVALIDITY, UID), the file records, the application with its
transaction ID (R11) and deadlines, the audit event and the queued
acknowledgement. Nothing is sent here, and files are in the store before the
transaction that names them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from typing import TYPE_CHECKING, Any

from mailintake.base import thaitext
from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.outgoing import compose, queue
from mailintake.base.rules import Service
from mailintake.base.wording import Problem, Renderer, Wording
from mailintake.desk.reactions import REPLIED, Happened, react
from mailintake.desk.services import is_inquiry_code, match_service
from mailintake.intake.check import FileCheck
from mailintake.intake.classify import (
    AUTOREPLY,
    BOUNCE,
    DELIVERY_NOTE,
    NEW,
    OWN,
    READ_RECEIPT,
    REPLY,
    REPORT_KINDS,
    VERIFY,
    MailRules,
    Verdict,
)
from mailintake.intake.outbox import record_report
from mailintake.intake.parse import Incoming, header_text, one_line

if TYPE_CHECKING:
    from mailintake.desk.lifecycle import Desk
from mailintake.base.store import Store
from mailintake.intake.source import Envelope

SYSTEM = "system"
_MSGID = re.compile(r"^<[^<>\s]+>$")
# A Thai juristic-person registration number: 13 digits, the first 0.
JURISTIC_ID = re.compile(r"(?<!\d)0\d{12}(?!\d)")


@dataclass(frozen=True)
class Outcome:
    kind: str  # application | reply | autoreply | bounce | own | spam | duplicate | quarantined
    message_row: int
    transaction_id: str | None = None


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class Registrar:
    def __init__(self, cfg: Config, reg: Registry, store: Store, cal: WorkCalendar, renderer: Renderer,
                 services: list[Service] | None = None, rules: MailRules | None = None, desk: Desk | None = None):
        self.cfg, self.reg, self.store, self.cal, self.renderer = cfg, reg, store, cal, renderer
        self.services = services or []
        self.rules = rules
        self.desk = desk
        self.wording = Wording(cfg.find("templates", "problems.toml"))

    # --- lookups used by classify (the Lookup protocol) ---------------------------
    def transaction_exists(self, tid: str) -> bool:
        return self.reg.one("SELECT 1 AS x FROM applications WHERE transaction_id = ?", (tid,)) is not None

    def transaction_of_sent(self, message_ids: Any) -> str | None:
        for mid in message_ids:
            row = self.reg.one("SELECT transaction_id FROM outbox WHERE message_id = ? AND transaction_id IS NOT NULL", (mid,))
            if row:
                return str(row["transaction_id"])
        return None

    def is_our_message(self, message_id: str) -> bool:
        return self.reg.one("SELECT 1 AS x FROM outbox WHERE message_id = ?", (message_id,)) is not None

    def report_source(self, digest: str) -> bytes | None:
        """The raw message, kept in the store before classification (R14)."""
        return self.store.get(digest) if self.store.has(digest) else None

    def last_sent_to(self, addresses: Any) -> str | None:
        """The last mail we sent to one of ``addresses`` (a report that quotes no Message-ID)."""
        wanted = sorted({str(a).strip().lower() for a in addresses})[:20]
        if not wanted:
            return None
        marks = ", ".join("?" for _ in wanted)
        row = self.reg.one(f"SELECT message_id FROM outbox WHERE lower(recipient) IN ({marks}) "
                           "AND status IN ('sent', 'bounced') ORDER BY id DESC LIMIT 1", tuple(wanted))
        return str(row["message_id"]) if row else None

    # --- idempotence ----------------------------------------------------------------
    def seen(self, env: Envelope) -> dict[str, Any] | None:
        return self.reg.one(
            "SELECT m.id, m.kind, m.transaction_id FROM seen s JOIN messages m ON m.id = s.message_row "
            "WHERE s.folder = ? AND s.uidvalidity = ? AND s.uid = ?", (env.folder, env.uidvalidity, env.uid))

    def known(self, msg: Incoming) -> dict[str, Any] | None:
        """The message already registered with the same bytes, or with the same
        Message-ID and the same body (a redelivery with new Received lines)."""
        row = self.reg.one("SELECT id, kind, transaction_id FROM messages WHERE sha256 = ? AND kind != 'quarantined' "
                           "AND kind != 'duplicate' ORDER BY id LIMIT 1", (msg.sha256,))
        if row is None and msg.message_id:
            row = self.reg.one("SELECT id, kind, transaction_id FROM messages WHERE message_id = ? AND body_sha256 = ? "
                               "AND kind NOT IN ('quarantined', 'duplicate') ORDER BY id LIMIT 1",
                               (msg.message_id, msg.body_sha256))
        return row

    def begin_attempt(self, digest: str, now: datetime) -> int:
        """Count a processing attempt (committed first, so a crash still counts).
        It only has to survive the process dying, not the power: WAL with
        synchronous=NORMAL is enough, and saves a flush per message."""
        self.reg.conn.execute("PRAGMA synchronous=NORMAL")
        try:
            return self._count_attempt(digest, now)
        finally:
            self.reg.conn.execute("PRAGMA synchronous=FULL")

    def _count_attempt(self, digest: str, now: datetime) -> int:
        with self.reg.transaction():
            self.reg.conn.execute(
                "INSERT INTO attempts (sha256, count, last_at) VALUES (?, 1, ?) "
                "ON CONFLICT(sha256) DO UPDATE SET count = count + 1, last_at = excluded.last_at", (digest, to_iso(now)))
            row = self.reg.one("SELECT count FROM attempts WHERE sha256 = ?", (digest,))
        return int(row["count"]) if row else 1

    def end_attempt(self, digest: str) -> None:
        with self.reg.transaction():
            self.reg.conn.execute("DELETE FROM attempts WHERE sha256 = ?", (digest,))

    # --- rows ---------------------------------------------------------------------------
    def _message_row(self, env: Envelope | None, msg: Incoming, kind: str, now: datetime, *,
                     tid: str | None = None, flags: list[str] | None = None, headers: bool = False,
                     outbox_id: int | None = None, received: datetime | None = None) -> int:
        when = received or (env.internaldate if env else now)
        row = {
            "sha256": msg.sha256, "body_sha256": msg.body_sha256, "message_id": msg.message_id, "kind": kind,
            "transaction_id": tid, "folder": env.folder if env else None,
            "uidvalidity": env.uidvalidity if env else None, "uid": env.uid if env else None,
            "received_at": to_iso(self.cal.local(when)), "internaldate": to_iso(when),
            "date_header": to_iso(msg.date_header), "received_chain": _j(list(msg.received_chain[:20])),
            "fetched_at": to_iso(now), "size": msg.size, "from_addr": msg.from_addr or (msg.header("from") or "")[:300],
            "reply_to": msg.reply_to, "to_addrs": _j(list(msg.to_addrs)), "subject": msg.subject,
            "defects": _j(list(msg.defects)), "flags": _j(flags or []),
            "headers": _j({k: list(v) for k, v in msg.headers.items()}) if headers else None,
            "stored": 1, "outbox_id": outbox_id, "created_at": to_iso(now),
        }
        message_row = self.reg.insert("messages", row)
        if env is not None:
            self.mark_seen(env, message_row)
        return message_row

    def mark_seen(self, env: Envelope, message_row: int) -> None:
        self.reg.conn.execute("INSERT OR REPLACE INTO seen (folder, uidvalidity, uid, message_row) VALUES (?, ?, ?, ?)",
                              (env.folder, env.uidvalidity, env.uid, message_row))

    def _files(self, message_row: int, tid: str | None, checks: list[tuple[str, FileCheck]]) -> None:
        for digest, fc in checks:
            self.reg.insert("files", {
                "transaction_id": tid, "message_row": message_row, "sha256": digest, "name": fc.name,
                "size": fc.size, "declared_type": fc.declared_type, "content_type": fc.content_type, "kind": fc.kind,
                "accepted": int(fc.accepted), "dpi": fc.dpi, "problem": fc.problem,
                "problem_th": "; ".join(p.th for p in fc.problems) or None,
                "problem_en": "; ".join(p.en for p in fc.problems) or None,
                "details": _j({"problems": [p.code for p in fc.problems], **fc.details}),
            })

    def new_transaction_id(self, received: datetime) -> str:
        year = self.cal.local(received).year
        seq = self.reg.next_number("transaction", year)
        return self.cfg.ids.format.format(prefix=self.cfg.ids.prefix, be_year=thaitext.be_year(year), year=year, seq=seq)

    # --- outcomes -----------------------------------------------------------------------
    def record_spam(self, env: Envelope, headers: Message, raw_header: bytes, verdict: Verdict, now: datetime) -> Outcome:
        """Spam is recorded by its headers only; its body is never parsed (R22)."""
        from mailintake.base.headers import decode
        from mailintake.base.store import sha256

        keep = {k.lower(): [one_line(decode(str(v)), 500)] for k, v in list(headers.raw_items())[:200]}
        with self.reg.transaction():
            row = self.reg.insert("messages", {
                "sha256": sha256(raw_header), "message_id": str(headers.get("Message-ID", ""))[:300] or None,
                "kind": "spam", "folder": env.folder, "uidvalidity": env.uidvalidity, "uid": env.uid,
                "received_at": to_iso(self.cal.local(env.internaldate)), "internaldate": to_iso(env.internaldate),
                "fetched_at": to_iso(now), "size": env.size, "from_addr": header_text(headers, "From", 300),
                "subject": header_text(headers, "Subject", 300), "headers": _j(keep), "flags": _j([verdict.reason]),
                "stored": 0, "created_at": to_iso(now),
            })
            self.mark_seen(env, row)
            self.reg.add_event(at=now, actor=SYSTEM, action="spam_deleted", detail={"reason": verdict.reason, "message": row})
        return Outcome("spam", row)

    def record_oversized(self, env: Envelope, headers: Message, now: datetime) -> Outcome:
        """Too large to fetch: recorded by its headers; the sender is told how
        to send smaller files."""
        from mailintake.base.store import sha256
        from mailintake.intake.parse import _single_address, raw_header

        defects: list[str] = []
        name, sender = _single_address(raw_header(headers, "From"), defects, "From")
        _n, reply_to = (_single_address(raw_header(headers, "Reply-To"), defects, "Reply-To") if raw_header(headers, "Reply-To")
                        else ("", None))
        recipient = reply_to or sender
        from mailintake.base.headers import decode

        keep = {k.lower(): [one_line(decode(str(v)), 500)] for k, v in list(headers.raw_items())[:200]}
        with self.reg.transaction():
            row = self.reg.insert("messages", {
                "sha256": sha256(env.header), "message_id": str(headers.get("Message-ID", ""))[:300] or None,
                "kind": "oversized", "folder": env.folder, "uidvalidity": env.uidvalidity, "uid": env.uid,
                "received_at": to_iso(self.cal.local(env.internaldate)), "internaldate": to_iso(env.internaldate),
                "fetched_at": to_iso(now), "size": env.size, "from_addr": recipient or header_text(headers, "From", 300),
                "subject": header_text(headers, "Subject", 300), "headers": _j(keep),
                "flags": _j([f"{env.size} bytes"]), "stored": 0, "created_at": to_iso(now),
            })
            self.mark_seen(env, row)
            self.reg.add_event(at=now, actor=SYSTEM, action="oversized", detail={"message": row, "size": env.size})
            auto = self.rules is not None and any(r.matches([str(v) for v in headers.get_all(r.header) or []])
                                                  for r in self.rules.auto_rules)
            if recipient is not None and not auto and self._may_answer(recipient, now):
                mb = self.cfg.limits.max_message_bytes / (1024 * 1024)
                ctx = {"size_mb": f"{env.size / (1024 * 1024):.1f}", "limit_mb": f"{mb:g}", "applicant_name": name or None,
                       "subject": one_line(str(headers.get("Subject", "")), 200)}
                mid = headers.get("Message-ID")
                composed = compose(self.cfg, self.renderer, template="oversized", recipient=recipient, context=ctx, now=now,
                                   tid=None, in_reply_to=str(mid).strip() if mid and _MSGID.match(str(mid).strip()) else None)
                queue(self.cfg, self.reg, composed, kind="oversized", tid=None, now=now)
        return Outcome("oversized", row)

    def _may_answer(self, recipient: str, now: datetime) -> bool:
        """At most ``acks_per_sender_per_hour`` automatic answers to one address:
        a loop with another robot ends after a few messages."""
        since = now - timedelta(hours=1)
        recent = [r for r in self.reg.all("SELECT created_at FROM outbox WHERE recipient = ? AND kind IN "
                                          "('ack', 'receipt', 'oversized')", (recipient,))
                  if datetime.fromisoformat(r["created_at"]) > since]
        return len(recent) < self.cfg.limits.acks_per_sender_per_hour

    def record_duplicate(self, env: Envelope | None, msg: Incoming, original: dict[str, Any], now: datetime) -> Outcome:
        with self.reg.transaction():
            row = self._message_row(env, msg, "duplicate", now, tid=original["transaction_id"])
            self.reg.add_event(at=now, actor=SYSTEM, action="duplicate_ignored", transaction_id=original["transaction_id"],
                               detail={"message": row, "same_as": original["id"]})
        return Outcome("duplicate", row, original["transaction_id"])

    def record_quarantine(self, env: Envelope | None, raw: bytes, stage: str, error: str, now: datetime,
                          existing: int | None = None) -> Outcome:
        from mailintake.base.store import sha256

        with self.reg.transaction():
            if existing is not None:
                self.reg.conn.execute("UPDATE messages SET stage = ?, error = ?, attempts = attempts + 1 WHERE id = ?",
                                      (stage, error[:1000], existing))
                row = existing
            else:
                when = env.internaldate if env else now
                row = self.reg.insert("messages", {
                    "sha256": sha256(raw), "kind": "quarantined", "folder": env.folder if env else None,
                    "uidvalidity": env.uidvalidity if env else None, "uid": env.uid if env else None,
                    "received_at": to_iso(self.cal.local(when)), "internaldate": to_iso(when), "fetched_at": to_iso(now),
                    "size": len(raw), "stored": 1, "stage": stage, "error": error[:1000], "attempts": 1,
                    "created_at": to_iso(now),
                })
                if env is not None:
                    self.mark_seen(env, row)
            self.reg.add_event(at=now, actor=SYSTEM, action="quarantined", detail={"message": row, "stage": stage, "error": error[:300]})
        return Outcome("quarantined", row)

    def record(self, env: Envelope | None, msg: Incoming, verdict: Verdict, checks: list[tuple[str, FileCheck]],
               now: datetime, *, replace_row: int | None = None, received: datetime | None = None) -> Outcome:
        """Register a parsed, classified and checked message."""
        received = received or (env.internaldate if env else now)
        with self.reg.transaction():
            # The crash counter of this message ends with its registration.
            self.reg.conn.execute("DELETE FROM attempts WHERE sha256 = ?", (msg.sha256,))
            if replace_row is not None:
                # A quarantined message retried: its old row becomes this outcome.
                self.reg.conn.execute("DELETE FROM seen WHERE message_row = ?", (replace_row,))
                self.reg.conn.execute("UPDATE messages SET kind = 'retried' WHERE id = ?", (replace_row,))
            if verdict.kind == NEW:
                return self._new_application(env, msg, checks, now, received)
            if verdict.kind == REPLY and verdict.transaction_id:
                return self._reply(env, msg, verdict.transaction_id, checks, now, received)
            if verdict.kind == VERIFY and verdict.permit:
                return self._verify(env, msg, verdict.permit, now, received)
            ob = self._reported(verdict)
            outbox_id, tid = (ob["id"], ob["transaction_id"]) if ob else (None, None)
            row = self._message_row(env, msg, verdict.kind, now, tid=tid, headers=True, outbox_id=outbox_id,
                                    flags=[verdict.reason[:500]], received=received)
            delivery = record_report(self.cfg, self.reg, ob, verdict, now, row) if ob else {}
            action = {AUTOREPLY: "autoreply_recorded", BOUNCE: "bounce_recorded", OWN: "own_mail_recorded",
                      DELIVERY_NOTE: "delivery_note_recorded", READ_RECEIPT: "read_receipt_recorded"}.get(verdict.kind, "recorded")
            self.reg.add_event(at=now, actor=SYSTEM, action=action, transaction_id=tid,
                               detail={"message": row, "reason": verdict.reason[:500], **delivery})
            return Outcome(verdict.kind, row, tid)

    def _reported(self, verdict: Verdict) -> dict[str, Any] | None:
        """The outgoing mail a delivery report or read receipt is about."""
        if verdict.kind not in REPORT_KINDS or not verdict.outbox_message_id:
            return None
        return self.reg.one("SELECT * FROM outbox WHERE message_id = ?", (verdict.outbox_message_id,))

    def _context(self, tid: str, msg: Incoming, received: datetime, deemed: datetime,
                 checks: list[tuple[str, FileCheck]]) -> dict[str, Any]:
        local_received, local_deemed = self.cal.local(received), self.cal.local(deemed)
        return {
            "tid": tid, "subject": msg.subject, "applicant_name": msg.from_name or None,
            "received_th": thaitext.thai_date(local_received), "received_en": thaitext.english_date(local_received),
            "deemed_th": thaitext.thai_date(local_deemed), "deemed_en": thaitext.english_date(local_deemed),
            **self._listed_files([fc for _d, fc in checks]), "resend": any(not fc.accepted for _d, fc in checks),
            "inquiry": False, "service": None, "app_problems": [], "identity_needed": False,
        }

    def _listed_files(self, files: list[FileCheck]) -> dict[str, Any]:
        """The files an acknowledgement lists: at most ``[limits] ack_max_files``,
        those with problems first (the applicant must act on them), and how
        many more were received."""
        limit = self.cfg.limits.ack_max_files
        ordered = files if len(files) <= limit else [f for f in files if not f.accepted] + [f for f in files if f.accepted]
        shown, rest = ordered[:limit], ordered[limit:]
        return {"files": shown, "files_more": len(rest), "files_more_problems": sum(not f.accepted for f in rest)}

    def _new_application(self, env: Envelope | None, msg: Incoming, checks: list[tuple[str, FileCheck]],
                         now: datetime, received: datetime) -> Outcome:
        deadline = self.cal.deadline(received)
        tid = self.new_transaction_id(received)
        flags: list[str] = []
        if msg.date_header and abs(msg.date_header - received) > timedelta(hours=self.cfg.hours.date_skew_hours):
            flags.append("date_skew")
        problems = sorted({p.code for _d, fc in checks for p in fc.problems})
        recipient = msg.reply_address
        if recipient is None:
            problems.append("no_reply_address")
        service = match_service(self.services, msg.subject, msg.body_text)
        # A question rather than an application (process 1): code INFO, or no
        # files and no service recognised.
        kind = "inquiry" if is_inquiry_code(msg.subject) or (not checks and service is None) else "application"
        juristic = kind == "application" and JURISTIC_ID.search(f"{msg.subject}\n{msg.body_text}") is not None
        app_problems = self._juristic_problems(msg, service, checks) if juristic else []
        problems += [p.code for p in app_problems]
        row = self._message_row(env, msg, "application", now, tid=tid, flags=flags, received=received)
        self._files(row, tid, checks)
        self.reg.insert("applications", {
            "transaction_id": tid, "kind": kind, "status": "received", "service": service.id if service else None,
            "juristic": int(juristic), "due_at": to_iso(self.desk.due_at(deadline.deemed_received_at, service)) if self.desk else None,
            "applicant_email": recipient or (msg.header("from") or "")[:300],
            "applicant_name": msg.from_name or None, "subject": msg.subject,
            "received_at": to_iso(self.cal.local(received)), "deemed_received_at": to_iso(deadline.deemed_received_at),
            "ack_due_at": to_iso(deadline.ack_due_at), "ack_reason": deadline.reason,
            "problems": _j(problems), "flags": _j(flags), "created_at": to_iso(now), "updated_at": to_iso(now),
        })
        self.reg.add_event(at=now, actor=SYSTEM, action="registered", transaction_id=tid, before=None, after="received",
                           detail={"message": row, "files": len(checks), "kind": kind,
                                   "service": service.id if service else None, "deemed": to_iso(deadline.deemed_received_at),
                                   "reason": deadline.reason})
        if recipient is not None and not self._may_answer(recipient, now):
            self.reg.add_event(at=now, actor=SYSTEM, action="ack_rate_limited", transaction_id=tid,
                               detail={"to": recipient, "limit_per_hour": self.cfg.limits.acks_per_sender_per_hour})
        elif recipient is not None:
            ctx = self._context(tid, msg, received, deadline.deemed_received_at, checks)
            ctx["inquiry"] = kind == "inquiry"
            ctx["service"] = service
            ctx["app_problems"] = app_problems
            ctx["identity_needed"] = service is not None and service.risk in ("medium", "high")
            composed = compose(self.cfg, self.renderer, template="ack", recipient=recipient, context=ctx, now=now,
                               tid=tid, in_reply_to=msg.message_id, references=msg.references)
            queue(self.cfg, self.reg, composed, kind="ack", tid=tid, now=now)
            self.reg.add_event(at=now, actor=SYSTEM, action="ack_queued", transaction_id=tid,
                               detail={"to": recipient, "message_id": composed.message_id})
        else:
            self.reg.add_event(at=now, actor=SYSTEM, action="ack_impossible", transaction_id=tid,
                               detail="no valid From or Reply-To address")
        return Outcome("application", row, tid)

    def _verify(self, env: Envelope | None, msg: Incoming, number: str, now: datetime, received: datetime) -> Outcome:
        """Answer a permit verification by email (R18), rate-limited per sender."""
        from mailintake.permits.document import status_of

        row = self._message_row(env, msg, "verify", now, flags=[number], received=received)
        since = received - timedelta(hours=24)
        earlier = [r for r in self.reg.all("SELECT received_at FROM messages WHERE kind = 'verify' AND from_addr = ? AND id != ?",
                                           (msg.from_addr or "", row))
                   if datetime.fromisoformat(r["received_at"]) > since]
        recipient = msg.reply_address
        if len(earlier) >= self.cfg.permits.verify_per_sender_per_day or recipient is None:
            why = "no valid address" if recipient is None else f"{len(earlier)} checks in 24 h from this sender"
            self.reg.add_event(at=now, actor=SYSTEM, action="verify_not_answered", detail={"permit": number, "why": why})
            return Outcome("verify", row)
        result = status_of(self.reg, number, now)
        composed = compose(self.cfg, self.renderer, template="verify", recipient=recipient,
                           context={"number": number, "result": result}, now=now, tid=None,
                           in_reply_to=msg.message_id, references=msg.references)
        queue(self.cfg, self.reg, composed, kind="verify_answer", tid=None, now=now)
        self.reg.add_event(at=now, actor=SYSTEM, action="verify_answered", transaction_id=result.get("transaction_id"),
                           detail={"permit": number, "status": result["status"], "to": recipient})
        return Outcome("verify", row)

    def _juristic_problems(self, msg: Incoming, service: Service | None, checks: list[tuple[str, FileCheck]]) -> list[Problem]:
        """R9: a company applies from its own domain, with a power of attorney."""
        out = []
        if service is not None and not service.juristic_allowed:
            out.append(self.wording.problem("juristic_not_allowed"))
        domain = (msg.from_addr or "").rpartition("@")[2]
        if self.rules and domain in self.rules.webmail_domains:
            out.append(self.wording.problem("juristic_webmail", domain=domain))
        keywords = self.rules.poa_keywords if self.rules else ()
        if not any(k in fc.name.lower() for _d, fc in checks for k in keywords):
            out.append(self.wording.problem("juristic_no_poa"))
        return out

    def _reply(self, env: Envelope | None, msg: Incoming, tid: str, checks: list[tuple[str, FileCheck]],
               now: datetime, received: datetime) -> Outcome:
        app = self.reg.one("SELECT status, flags, problems FROM applications WHERE transaction_id = ?", (tid,))
        assert app is not None
        row = self._message_row(env, msg, "reply", now, tid=tid, received=received)
        self._files(row, tid, checks)
        flags = json.loads(app["flags"])
        if checks and "new_documents" not in flags:
            flags.append("new_documents")
        self.reg.update("applications", "transaction_id", tid, {"flags": _j(flags), "updated_at": to_iso(now)})
        self.reg.add_event(at=now, actor=SYSTEM, action="documents_added" if checks else "reply_recorded",
                           transaction_id=tid, before=app["status"], after=app["status"],
                           detail={"message": row, "files": len(checks)})
        recipient = msg.reply_address
        app_now = self.reg.one("SELECT * FROM applications WHERE transaction_id = ?", (tid,))
        status_before = app_now["status"] if app_now else None
        if self.desk is not None and app_now is not None:
            react(self.reg, Happened(REPLIED, tid, has_files=bool(checks)), now, self.desk)
        after = self.reg.one("SELECT status FROM applications WHERE transaction_id = ?", (tid,))
        moved = after is not None and after["status"] != status_before
        if checks and recipient is not None and not moved and self._may_answer(recipient, now):
            ctx = self._context(tid, msg, received, received, checks)
            composed = compose(self.cfg, self.renderer, template="more", recipient=recipient, context=ctx, now=now,
                               tid=tid, in_reply_to=msg.message_id, references=msg.references)
            queue(self.cfg, self.reg, composed, kind="receipt", tid=tid, now=now)
        return Outcome("reply", row, tid)
