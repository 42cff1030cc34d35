"""Sort what arrives: spam, auto-reply, bounce, our own mail coming back, a reply
on an existing application, or a new application. The rules are data
(``rules/mail.toml``); this module only evaluates them and records why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import Message
from typing import Protocol

from mailintake.base.rules import HeaderRule, MailRules
from mailintake.intake.delivery import Report, read_report, report_type
from mailintake.intake.parse import Incoming, lighten

SPAM, AUTOREPLY, BOUNCE, OWN, REPLY, NEW, VERIFY = "spam", "autoreply", "bounce", "own", "reply", "new", "verify"
# Delivery reports that are not bounces (RFC 3464 delayed, relayed, delivered,
# expanded) and read receipts (RFC 8098).
DELIVERY_NOTE, READ_RECEIPT = "delivery_note", "read_receipt"
REPORT_KINDS = (BOUNCE, DELIVERY_NOTE, READ_RECEIPT)
_DSN_TYPES = (None, "delivery-status", "global-delivery-status")
_MDN_TYPES = ("disposition-notification", "global-disposition-notification")
# "VERIFY EVT-2568-0001" or "ตรวจสอบใบอนุญาต EVT-2568-0001" (R18): anyone may ask, free.
VERIFY_SUBJECT = re.compile(r"^\s*(?:(?:re|fwd?)\s*:\s*)*(?:verify|ตรวจสอบใบอนุญาต)\s*:?\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    kind: str
    reason: str
    transaction_id: str | None = None
    outbox_message_id: str | None = None
    permit: str | None = None
    report: Report | None = None  # what a delivery report says, when it could be read


class Lookup(Protocol):
    """What classification may ask the registry."""

    def transaction_exists(self, tid: str) -> bool: ...
    def transaction_of_sent(self, message_ids: Iterable[str]) -> str | None: ...
    def is_our_message(self, message_id: str) -> bool: ...
    def report_source(self, digest: str) -> bytes | None: ...
    def last_sent_to(self, addresses: Iterable[str]) -> str | None: ...


def _first_match(rules: Iterable[HeaderRule], get: Callable[[str], Iterable[str]]) -> str | None:
    for rule in rules:
        hit = rule.matches(get(rule.header))
        if hit:
            return hit
    return None


def spam_verdict(rules: MailRules, headers: Message) -> Verdict | None:
    """Spam by the server's verdict headers alone: the body is never parsed."""

    def get(name: str) -> list[str]:
        return [str(v) for v in (headers.get_all(name) or [])]

    hit = _first_match(rules.spam_rules, get)
    if hit:
        return Verdict(SPAM, hit)
    for name in rules.spam_score_headers:
        for v in get(name):
            m = re.search(r"-?\d+(?:\.\d+)?", v)
            if m and float(m.group()) >= rules.spam_threshold:
                return Verdict(SPAM, f"{name}: {m.group()} >= {rules.spam_threshold:g}")
    return None


def transaction_pattern(id_format: str, prefix: str) -> re.Pattern[str]:
    """A regex that finds transaction IDs made by ``[ids] format``."""
    out = ""
    for literal, fieldname, _spec, _conv in __import__("string").Formatter().parse(id_format):
        out += re.escape(literal)
        if fieldname == "prefix":
            out += re.escape(prefix)
        elif fieldname in ("be_year", "year"):
            out += r"\d{4}"
        elif fieldname == "seq":
            out += r"\d{1,9}"
        elif fieldname:
            out += r"\S+?"
    return re.compile(rf"(?<![\w-])({out})(?![\w])", re.IGNORECASE)


def classify(rules: MailRules, msg: Incoming, lookup: Lookup, tid_pattern: re.Pattern[str]) -> Verdict:
    def get(name: str) -> tuple[str, ...]:
        return msg.headers.get(name.lower(), ())

    # Our own mail coming back (a loop through a forward or a robot).
    if msg.message_id and lookup.is_our_message(msg.message_id):
        return Verdict(OWN, f"our own message {msg.message_id} came back")
    if get("x-mailintake-id"):
        return Verdict(OWN, "carries our X-Mailintake-ID header")

    sender_robot = bool(rules.auto_sender and rules.auto_sender.search(msg.from_addr or (get("from") or ("",))[0]))
    report = report_verdict(rules, msg, lookup, sender_robot)
    if report is not None:
        return report

    hit = _first_match(rules.auto_rules, get)
    if hit:
        return Verdict(AUTOREPLY, hit)
    if sender_robot:
        return Verdict(AUTOREPLY, f"robot sender {msg.from_addr or get('from')[0][:80]}")

    v = VERIFY_SUBJECT.match(msg.subject)
    if v:
        return Verdict(VERIFY, f"permit verification of {v.group(1)}", permit=v.group(1).upper())
    m = tid_pattern.search(msg.subject)
    if m and lookup.transaction_exists(m.group(1).upper()):
        return Verdict(REPLY, f"transaction ID {m.group(1).upper()} in subject", transaction_id=m.group(1).upper())
    tid = lookup.transaction_of_sent(list(msg.in_reply_to) + list(msg.references))
    if tid:
        return Verdict(REPLY, "In-Reply-To/References name our message", transaction_id=tid)
    return Verdict(NEW, "new application")


def _read(msg: Incoming, lookup: Lookup) -> Report | None:
    """The report in the stored raw message (large base64 parts left out)."""
    raw = lookup.report_source(msg.sha256)
    return read_report(lighten(raw)[0]) if raw is not None else None


def _link(msg: Incoming, report: Report | None, lookup: Lookup) -> str | None:
    """Our outgoing message a report is about: a Message-ID it quotes or
    threads on; failing that, the last mail we sent to an address it names."""
    referenced = list(msg.quoted_message_ids) + list(msg.in_reply_to) + list(msg.references)
    if report is not None and report.original_message_id:
        referenced.insert(0, report.original_message_id)
    for mid in referenced:
        if lookup.is_our_message(mid):
            return mid
    if report is not None and report.recipients:
        return lookup.last_sent_to({a for r in report.recipients for a in (r.address, r.original) if a})
    return None


def report_verdict(rules: MailRules, msg: Incoming, lookup: Lookup, sender_robot: bool) -> Verdict | None:
    """Delivery reports, read receipts and bounces without a report part;
    other reports (abuse feedback, TLS reports) are robot mail. None when the
    message reports nothing (a robot's other mail is judged by the autoreply rules)."""
    def get(name: str) -> tuple[str, ...]:
        return msg.headers.get(name.lower(), ())

    is_report = msg.content_type in rules.bounce_types
    hit = _first_match(rules.bounce_rules, get)
    bounce_subject = bool(rules.bounce_subject and rules.bounce_subject.search(msg.subject))
    delay_subject = bool(rules.delay_subject and rules.delay_subject.search(msg.subject))
    if not (is_report or hit or sender_robot or bounce_subject or delay_subject):
        return None
    report = _read(msg, lookup)
    if report is not None:
        kind = READ_RECEIPT if report.kind == "mdn" else BOUNCE if report.failed else DELIVERY_NOTE
        return Verdict(kind, report.summary(), outbox_message_id=_link(msg, report, lookup), report=report)
    # Nothing readable: a robot's word (its sender, or RFC 3834 headers) with a
    # bounce or delay subject decides; a person's "Undeliverable?" stays a person's.
    robot = sender_robot or _first_match(rules.auto_rules, get) is not None
    rtype = report_type(msg.header("content-type")) if is_report else None
    if is_report and rtype in _MDN_TYPES:
        return Verdict(READ_RECEIPT, "read receipt without a disposition", outbox_message_id=_link(msg, None, lookup))
    if delay_subject and (robot or is_report):
        return Verdict(DELIVERY_NOTE, f"delay warning without per-recipient fields: {msg.subject[:80]}",
                       outbox_message_id=_link(msg, None, lookup))
    if (is_report and rtype in _DSN_TYPES) or hit or (bounce_subject and robot):
        reason = "delivery-status report without per-recipient fields" if is_report else (hit or f"bounce subject from {msg.from_addr}")
        return Verdict(BOUNCE, reason, outbox_message_id=_link(msg, None, lookup))
    if is_report:
        return Verdict(AUTOREPLY, f"report-type={rtype}: a robot's report, recorded and not answered")
    return None
