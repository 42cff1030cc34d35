"""Sort what arrives: spam, auto-reply, bounce, our own mail coming back, a reply
on an existing application, or a new application. The rules are data
(``rules/mail.toml``, the services); this module only evaluates them and
records why.

Mail joins an application only from the applicant's address (and not failing
DMARC where the agency's MTA recorded a result) or when it answers one of our
Message-IDs; anything else quoting a transaction ID is ``HELD`` for the clerk.

For a new message it also decides what the registration writes: an inquiry
or an application, the service asked for, whether a juristic person applies
and what rule R9 finds wrong with that (``desk.services.juristic_problems``),
a missing reply address and a Date header far from the time of receipt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import Message
from typing import Protocol

from mailintake.base.data import messages, senders
from mailintake.base.data import outbox as sent
from mailintake.base.data.db import Registry
from mailintake.base.rules import HeaderRule, MailRules, Service
from mailintake.base.store import Store
from mailintake.base.trust import Authentication, TrustBoundary, header_values
from mailintake.desk.services import is_inquiry_code, juristic_problems, match_service
from mailintake.intake.delivery import Report, read_report, report_type
from mailintake.intake.limits import lighten
from mailintake.intake.parse import Incoming

SPAM, AUTOREPLY, BOUNCE, OWN, REPLY, NEW, VERIFY = "spam", "autoreply", "bounce", "own", "reply", "new", "verify"
# Quotes a transaction ID but is neither from the applicant nor an answer to
# our mail: kept for the clerk, joins nothing, changes nothing (issue 11).
HELD = "held"
DMARC_FAIL = "dmarc_fail"
# Delivery reports that are not bounces (RFC 3464 delayed, relayed, delivered,
# expanded) and read receipts (RFC 8098).
DELIVERY_NOTE, READ_RECEIPT = "delivery_note", "read_receipt"
REPORT_KINDS = (BOUNCE, DELIVERY_NOTE, READ_RECEIPT)
_DSN_TYPES = (None, "delivery-status", "global-delivery-status")
_MDN_TYPES = ("disposition-notification", "global-disposition-notification")
# "VERIFY EVT-2568-0001" or "ตรวจสอบใบอนุญาต EVT-2568-0001" (R18): anyone may ask, free.
VERIFY_SUBJECT = re.compile(r"^\s*(?:(?:re|fwd?)\s*:\s*)*(?:verify|ตรวจสอบใบอนุญาต)\s*:?\s+(\S+)\s*$", re.IGNORECASE)
# A Thai juristic-person registration number: 13 digits, the first 0.
JURISTIC_ID = re.compile(r"(?<!\d)0\d{12}(?!\d)")
INQUIRY, APPLICATION = "inquiry", "application"


@dataclass(frozen=True)
class Verdict:
    kind: str
    reason: str
    transaction_id: str | None = None
    outbox_message_id: str | None = None
    permit: str | None = None
    report: Report | None = None  # what a delivery report says, when it could be read
    # What a NEW message is registered as (see ``new_verdict``).
    application_kind: str = APPLICATION  # application | inquiry
    service: Service | None = None
    juristic: bool = False
    problems: tuple[str, ...] = ()  # codes of problems.toml: no reply address, R9
    flags: tuple[str, ...] = ()  # date_skew


class Lookup(Protocol):
    """What classification may ask the registry."""

    def transaction_exists(self, tid: str) -> bool: ...
    def transaction_of_sent(self, message_ids: Iterable[str]) -> str | None: ...
    def is_our_message(self, message_id: str) -> bool: ...
    def report_source(self, digest: str) -> bytes | None: ...
    def last_sent_to(self, addresses: Iterable[str]) -> str | None: ...
    def applicant_addresses(self, tid: str) -> set[str]: ...


class RegistryLookup:
    """The ``Lookup`` of a deployment: its registry and its file store."""

    def __init__(self, reg: Registry, store: Store):
        self.reg, self.store = reg, store

    def transaction_exists(self, tid: str) -> bool:
        return messages.transaction_exists(self.reg, tid)

    def transaction_of_sent(self, message_ids: Iterable[str]) -> str | None:
        return sent.transaction_of(self.reg, message_ids)

    def is_our_message(self, message_id: str) -> bool:
        return sent.is_ours(self.reg, message_id)

    def report_source(self, digest: str) -> bytes | None:
        """The raw message, kept in the store before classification (R14)."""
        return self.store.get(digest) if self.store.has(digest) else None

    def last_sent_to(self, addresses: Iterable[str]) -> str | None:
        return sent.last_sent_to(self.reg, addresses)

    def applicant_addresses(self, tid: str) -> set[str]:
        return senders.applicant_addresses(self.reg, tid)


def _first_match(rules: Iterable[HeaderRule], get: Callable[[str], Iterable[str]]) -> str | None:
    for rule in rules:
        hit = rule.matches(get(rule.header))
        if hit:
            return hit
    return None


def spam_verdict(rules: MailRules, headers: Message, boundary: TrustBoundary | None = None) -> Verdict | None:
    """Spam by the verdict headers alone (the body is never parsed), and only
    those the agency's own hosts added (``boundary.trusted_headers``): an
    ``X-Spam-Flag: YES`` the sender wrote never gets a citizen's mail deleted.
    With no boundary, or no hosts named in it, every header counts."""
    fields = (boundary or TrustBoundary()).trusted_headers(headers)

    def get(name: str) -> list[str]:
        return header_values(fields, name)

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


def classify(
    rules: MailRules,
    msg: Incoming,
    lookup: Lookup,
    tid_pattern: re.Pattern[str],
    services: Sequence[Service] = (),
    received: datetime | None = None,
    skew_hours: float = 24,
    auth: Authentication | None = None,
) -> Verdict:
    """What ``msg`` is, and why. A new message's verdict also says what it is
    registered as (``new_verdict``): ``services`` are matched against it, and a
    Date header more than ``skew_hours`` from ``received`` is flagged; ``auth``
    is what the agency's MTA found (``TrustBoundary.authentication``)."""

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
    tid = lookup.transaction_of_sent(list(msg.in_reply_to) + list(msg.references))
    if tid:
        return Verdict(REPLY, "In-Reply-To/References name our message", transaction_id=tid)
    m = tid_pattern.search(msg.subject)
    if m and lookup.transaction_exists(m.group(1).upper()):
        return joins_by_subject(msg, m.group(1).upper(), lookup, auth)
    verdict = new_verdict(rules, services, msg, received, skew_hours)
    if auth is not None and auth.dmarc_failed:
        verdict = replace(verdict, flags=(*verdict.flags, DMARC_FAIL))
    return verdict


def joins_by_subject(msg: Incoming, tid: str, lookup: Lookup, auth: Authentication | None) -> Verdict:
    """A transaction ID in the subject joins its application only when the
    mail comes from the applicant's address and does not fail DMARC; else the
    message is held for the clerk, with the reason."""
    sender = (msg.from_addr or "").lower()
    if auth is not None and auth.dmarc_failed:
        why = f"DMARC fail for {auth.dmarc_domain or sender.rpartition('@')[2] or 'the sender'}"
        return Verdict(HELD, f"quotes {tid} but {why}", transaction_id=tid)
    if sender and sender in lookup.applicant_addresses(tid):
        return Verdict(REPLY, f"transaction ID {tid} in subject, from the applicant's address", transaction_id=tid)
    who = sender or "no valid From address"
    return Verdict(
        HELD, f"quotes {tid} but comes from {who}, not the applicant's address, and answers none of our mail", transaction_id=tid
    )


def new_verdict(
    rules: MailRules, services: Sequence[Service], msg: Incoming, received: datetime | None, skew_hours: float
) -> Verdict:
    """A new message: a question (code INFO, or no files and no service
    recognised: process 1) or an application, its service, and for a juristic
    person (a registration number in the subject or text) rule R9's problems."""
    service = match_service(list(services), msg.subject, msg.body_text)
    inquiry = is_inquiry_code(msg.subject) or (not msg.attachments and service is None)
    juristic = not inquiry and JURISTIC_ID.search(f"{msg.subject}\n{msg.body_text}") is not None
    problems = [] if msg.reply_address else ["no_reply_address"]
    if juristic:
        domain = (msg.from_addr or "").rpartition("@")[2]
        problems += juristic_problems(rules, service, domain, [a.name for a in msg.attachments])
    skewed = (
        msg.date_header is not None and received is not None and abs(msg.date_header - received) > timedelta(hours=skew_hours)
    )
    return Verdict(
        NEW,
        "new inquiry" if inquiry else "new application",
        application_kind=INQUIRY if inquiry else APPLICATION,
        service=service,
        juristic=juristic,
        problems=tuple(problems),
        flags=("date_skew",) if skewed else (),
    )


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
        return Verdict(
            DELIVERY_NOTE,
            f"delay warning without per-recipient fields: {msg.subject[:80]}",
            outbox_message_id=_link(msg, None, lookup),
        )
    if (is_report and rtype in _DSN_TYPES) or hit or (bounce_subject and robot):
        reason = (
            "delivery-status report without per-recipient fields"
            if is_report
            else (hit or f"bounce subject from {msg.from_addr}")
        )
        return Verdict(BOUNCE, reason, outbox_message_id=_link(msg, None, lookup))
    if is_report:
        return Verdict(AUTOREPLY, f"report-type={rtype}: a robot's report, recorded and not answered")
    return None
