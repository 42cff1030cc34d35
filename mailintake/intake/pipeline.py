"""The road one message takes, as data (Mailman 3's pipelines): ``STAGES`` in
the order they run, each a function in the module that bears its name.

    limits -> parse -> dedupe -> classify -> check -> register -> respond

One ``Letter`` travels down the road and gathers what each stage finds (the
parsed message, the registered copy it repeats, the verdict, the checked
files, the outcome). The stages up to ``check`` run in one time budget
(``[limits] message_seconds``) under the sweep's memory ceiling; ``register``
and ``respond`` run in one transaction, so an application is never registered
without its acknowledgement queued. A message that fails anywhere is
quarantined with the name of the stage the road was running and the error.

The receipt time (R1) is read once the message is parsed: the time the
agency's MX accepted it, from the trusted ``Received:`` lines
(``base.trust``), else the mailbox's INTERNALDATE; the deemed receipt, the
acknowledgement deadline and the service clock run from it.

Spam and mail too large to fetch are decided from the headers alone, before
the body is fetched: ``Road.spam`` and ``Road.oversized``.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import Message
from typing import Any

from mailintake.base import logs
from mailintake.base.calendar import Deadline
from mailintake.base.data import messages
from mailintake.base.data.records import Message as MessageRow
from mailintake.base.deployment import Deployment
from mailintake.base.faults import checkpoint
from mailintake.base.trust import RECEIPT_SKEW, Authentication, ReceiptTime, TrustBoundary
from mailintake.desk.lifecycle import Desk
from mailintake.intake import check, classify, forwarded, limits, parse
from mailintake.intake.check import FileCheck
from mailintake.intake.classify import HELD, NEW, REPLY, VERIFY, Verdict
from mailintake.intake.envelope import split_header
from mailintake.intake.forwarded import Forward
from mailintake.intake.parse import Incoming, parse_headers_only
from mailintake.intake.record import Outcome, Recorder
from mailintake.intake.respond import Responder
from mailintake.intake.sandbox import CheckTimeout, CheckWorker, growth_limit, memory_of
from mailintake.intake.source import Envelope

log = logging.getLogger(__name__)


@dataclass
class Letter:
    """One message on the road, and what the stages found about it."""

    env: Envelope | None  # None for a quarantined message retried from the store
    raw: bytes
    now: datetime
    received: datetime  # the INTERNALDATE until parse reads the receipt time (R1)
    budget: Budget
    retry_row: int | None = None  # the quarantined row this try replaces
    lightened: tuple[bytes, dict[bytes, tuple[int, int]]] | None = None
    msg: Incoming | None = None
    known: MessageRow | None = None  # the registered message this one repeats
    verdict: Verdict | None = None
    checks: list[tuple[str, FileCheck]] = field(default_factory=list)
    deadline: Deadline | None = None
    outcome: Outcome | None = None
    receipt: ReceiptTime | None = None
    auth: Authentication | None = None  # the trusted Authentication-Results
    forward: Forward | None = None  # an officer's forward of a citizen's mail (R23)

    @property
    def receipt_time(self) -> ReceiptTime:
        """The receipt time and its source; the INTERNALDATE before parse read it."""
        return self.receipt or ReceiptTime(self.received, self.received, None, False)

    @property
    def duplicate(self) -> bool:
        """A repeat is recorded as such; a quarantined message retried goes on."""
        return self.known is not None and self.retry_row is None

    @property
    def parsed(self) -> Incoming:
        assert self.msg is not None, "a stage after parse"
        return self.msg


# --- the stages ---------------------------------------------------------------------------
def limits_stage(road: Road, letter: Letter) -> None:
    letter.lightened = limits.lighten(letter.raw)
    limits.precheck(letter.lightened[0], road.cfg.limits)


def parse_stage(road: Road, letter: Letter) -> None:
    letter.msg = parse.parse(letter.raw, letter.lightened, max_parts=road.cfg.limits.max_parts)
    # The receipt time (R1): the trusted Received: line, else the INTERNALDATE.
    letter.receipt = road.trust.receipt_time(letter.msg.received_chain, letter.received)
    letter.received = letter.receipt.at
    letter.forward = forwarded.recognise(letter.msg, letter.raw, road.agency_domains, road.dep.calendar.tz)
    if letter.forward is not None:  # the citizen's mail, received when the officer got it (R23)
        letter.msg = letter.forward.original
        letter.received = letter.forward.original_at or letter.received
    checkpoint("after_parse")


def dedupe_stage(road: Road, letter: Letter) -> None:
    msg = letter.parsed
    letter.known = messages.known(road.dep.registry, msg.sha256, msg.message_id, msg.body_sha256)


def classify_stage(road: Road, letter: Letter) -> None:
    if not letter.duplicate:
        letter.auth = road.trust.authentication(parse_headers_only(split_header(letter.raw)))
        letter.verdict = classify.classify(
            road.dep.rules,
            letter.parsed,
            road.lookup,
            road.tid_pattern,
            road.dep.services,
            letter.received,
            road.cfg.hours.date_skew_hours,
            letter.auth,
        )
        if letter.verdict.kind == NEW and letter.receipt_time.skewed:
            # The MX accepted it long before the mailbox stored it: the clerk sees why.
            letter.verdict = replace(letter.verdict, flags=(*letter.verdict.flags, RECEIPT_SKEW))
        if letter.verdict.kind == NEW and letter.forward is not None:
            letter.verdict = replace(letter.verdict, flags=(*letter.verdict.flags, forwarded.FORWARDED))


def check_stage(road: Road, letter: Letter) -> None:
    if letter.verdict is not None and letter.verdict.kind in (NEW, REPLY, HELD):
        letter.checks = check.check_attachments(
            letter.parsed.attachments,
            road.dep.store,
            road.cfg.checks,
            road.cfg.limits,
            road.dep.wording,
            lambda data, name, declared: road.sandboxed(data, name, declared, letter.budget),
        )


def register_stage(road: Road, letter: Letter) -> None:
    rec, msg, verdict = road.recorder, letter.parsed, letter.verdict
    receipt = letter.receipt_time
    if verdict is None:
        assert letter.known is not None
        letter.outcome = rec.duplicate(letter.env, msg, letter.known, letter.now, receipt)
        return
    rec.begin(msg, letter.retry_row)
    env, now, cal = letter.env, letter.now, road.dep.calendar
    if verdict.kind == NEW:
        # Deemed receipt (R3), the acknowledgement deadline (R4) and the service
        # clock run from the receipt time; the stored reason names its source.
        deadline = cal.deadline(letter.received)
        said = forwarded.describe(letter.forward, receipt, cal.local) if letter.forward else receipt.describe(cal.local)
        letter.deadline = replace(deadline, reason=f"{said}; {deadline.reason}")
        due = road.desk.due_at(letter.deadline.deemed_received_at, verdict.service)
        # A forward's application is received when the officer got the original (R23);
        # the forward's own receipt stays beside it (internaldate, trusted_received_at).
        receipt = replace(receipt, at=letter.received)
        letter.outcome = rec.application(env, msg, verdict, letter.checks, now, receipt, letter.deadline, due)
    elif verdict.kind == REPLY and verdict.transaction_id:
        letter.outcome = rec.reply(env, msg, verdict.transaction_id, letter.checks, now, receipt)
    elif verdict.kind == HELD and verdict.transaction_id:
        letter.outcome = rec.held(env, msg, verdict, letter.checks, now, receipt)
    elif verdict.kind == VERIFY and verdict.permit:
        letter.outcome = rec.verify(env, msg, verdict.permit, now, receipt)
    else:
        letter.outcome = rec.report(env, msg, verdict, now, receipt)
    if letter.outcome is not None and letter.outcome.transaction_id:
        logs.note_transaction(letter.outcome.transaction_id)


def respond_stage(road: Road, letter: Letter) -> None:
    out, msg, verdict, outcome, auth = road.responder, letter.parsed, letter.verdict, letter.outcome, letter.auth
    if verdict is None or outcome is None:
        return
    tid, now = outcome.transaction_id, letter.now
    if outcome.kind == "application" and tid and letter.deadline is not None:
        out.acknowledge(msg, verdict, tid, letter.checks, now, letter.received, letter.deadline.deemed_received_at, auth)
    elif outcome.kind == "reply" and tid:
        out.on_reply(msg, tid, letter.checks, now, letter.received, auth)
    elif outcome.kind == "verify" and verdict.permit:
        out.verify(msg, verdict.permit, outcome.message_row, now, letter.received, auth)
    if letter.forward is not None and tid and outcome.kind in ("application", "reply", "held"):
        forwarded.confirm(out, letter.forward, tid, now, outcome.kind)  # the officer learns where it went (R23)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Road, Letter], None]
    # Stages in the message's time budget and memory bound; the others run in
    # one registry transaction.
    timed: bool = True
    cap: str | None = None  # a ``[limits]`` key that bounds this stage alone
    what: str = ""  # how an overrun of ``cap`` names the stage


STAGES: tuple[Stage, ...] = (
    Stage("limits", limits_stage),
    Stage("parse", parse_stage, cap="parse_seconds", what="parsing"),
    Stage("dedupe", dedupe_stage),
    Stage("classify", classify_stage),
    Stage("check", check_stage),
    Stage("register", register_stage, timed=False),
    Stage("respond", respond_stage, timed=False),
)


class Retryable(Exception):
    """Not the message's fault (database busy, disk full): it stays on the
    server, unflagged, for the next sweep."""


class Road:
    """The stages' shared means, built once per process from the deployment."""

    def __init__(self, dep: Deployment, desk: Desk | None = None):
        self.dep, self.cfg = dep, dep.cfg
        self.desk = desk or Desk(dep)
        self.lookup = classify.RegistryLookup(dep.registry, dep.store)
        self.tid_pattern = classify.transaction_pattern(dep.cfg.ids.format, dep.cfg.ids.prefix)
        self.recorder = Recorder(dep)
        self.trust = TrustBoundary.from_config(dep.cfg)
        self.responder = Responder(dep, self.desk)
        self.agency_domains = forwarded.agency_domains(dep.cfg.agency.mailbox_address, dep.cfg.agency.forward_domains)
        self._worker: CheckWorker | None = None

    @property
    def worker(self) -> CheckWorker:
        if self._worker is None:
            self._worker = CheckWorker(
                self.cfg.checks, self.cfg.limits, self.dep.wording, str(self.cfg.find("templates", "problems.toml"))
            )
        return self._worker

    def end_checks(self) -> int | None:
        """Stop the check worker; its peak memory (bytes), if it ran."""
        if self._worker is None:
            return None
        self._worker.close()
        return self._worker.peak()

    def sandboxed(self, data: bytes, name: str, declared: str, budget: Budget | None) -> FileCheck:
        """One file in the worker, given what is left of the message's time (never
        more than check_seconds) and what the sweep leaves of the memory ceiling."""
        lim = self.cfg.limits
        seconds = lim.check_seconds if budget is None else min(lim.check_seconds, budget.left())
        try:
            return self.worker.check(data, name, declared, max(seconds, 0.0), lim.sweep_memory_bytes - memory_of("self", "VmRSS"))
        except CheckTimeout as exc:
            if budget is not None and seconds < lim.check_seconds:
                raise budget.over("check") from None
            return self.worker.refused(data, name, declared, str(exc))

    @contextmanager
    def memory_bound(self) -> Iterator[None]:
        """The sweep process may grow only to what its worker leaves of the ceiling."""
        worker = self._worker.mapped() if self._worker is not None else 0
        with growth_limit(self.cfg.limits.sweep_memory_bytes - memory_of("self", "VmRSS") - worker):
            yield

    # --- one message down the road ----------------------------------------------------------
    def process(
        self, env: Envelope | None, raw: bytes, now: datetime, *, retry_row: int | None = None, received: datetime | None = None
    ) -> Outcome:
        """Run ``STAGES``; quarantine the message at the stage that failed. Every
        line logged meanwhile names the message (folder and UID, then its
        transaction ID once registered)."""
        with logs.about_message(folder=env.folder if env else None, uid=env.uid if env else None):
            return self._process(env, raw, now, retry_row=retry_row, received=received)

    def _process(
        self, env: Envelope | None, raw: bytes, now: datetime, *, retry_row: int | None, received: datetime | None
    ) -> Outcome:
        letter = Letter(
            env, raw, now, received or (env.internaldate if env else now), Budget(self.cfg.limits.message_seconds), retry_row
        )
        stage = STAGES[0].name
        try:
            with self.memory_bound():
                for s in STAGES:
                    if s.timed:
                        stage = s.name
                        with letter.budget.stage(s.name, cap=getattr(self.cfg.limits, s.cap) if s.cap else None, what=s.what):
                            s.run(self, letter)
            with self.dep.registry.transaction():
                for s in STAGES:
                    if not s.timed:
                        stage = s.name
                        s.run(self, letter)
            assert letter.outcome is not None
            return letter.outcome
        except OverBudget as exc:
            return self._quarantine(letter, stage, f"OverBudget: {exc}")
        except MemoryError:
            why = (
                f"the message needs more memory than the sweep's ceiling "
                f"({self.cfg.limits.sweep_memory_bytes // (1024 * 1024)} MB) allows"
            )
            return self._quarantine(letter, stage, f"MemoryError: {why}")
        except (sqlite3.OperationalError, OSError) as exc:
            raise Retryable(f"{stage}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - any failure quarantines the message, never stops the sweep
            return self._quarantine(letter, stage, f"{type(exc).__name__}: {exc}")

    def _quarantine(self, letter: Letter, stage: str, error: str) -> Outcome:
        log.warning("quarantined at %s: %s", stage, error)
        return self.recorder.quarantine(
            letter.env, letter.raw, stage, error, letter.now, existing=letter.retry_row, receipt=letter.receipt
        )

    def crashed(self, env: Envelope, raw: bytes, times: int, now: datetime) -> Outcome:
        """A message its sweep died on ``times`` times is not tried again."""
        return self.recorder.quarantine(
            env,
            raw,
            "crash",
            f"the sweep stopped {times} times while processing this message (killed, out of time or out of memory)",
            now,
        )

    # --- decided from the headers alone -------------------------------------------------------
    def spam(self, env: Envelope, headers: Message, now: datetime) -> Outcome | None:
        """Spam by the verdict of the agency's own filter (inside the trust
        boundary): recorded by its headers (R22); None when not spam."""
        verdict = classify.spam_verdict(self.dep.rules, headers, self.trust)
        return None if verdict is None else self.recorder.spam(env, headers, env.header, verdict.reason, now)

    def oversized(self, env: Envelope, headers: Message, now: datetime) -> Outcome:
        """Too large to fetch: recorded by its headers, and the sender told how
        to send smaller files, in one transaction."""
        name, recipient = parse.sender_of(headers)
        with self.dep.registry.transaction():
            outcome = self.recorder.oversized(env, headers, recipient, now)
            self.responder.oversized(headers, env.size, name, recipient, now)
        return outcome

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()


# --- the time budget of one message ---------------------------------------------------------
class OverBudget(BaseException):
    """One message took longer than its time (``[limits] message_seconds``, or
    ``parse_seconds`` for parsing alone). A BaseException, so the parser's own
    "bad mail" handlers cannot swallow it."""


class Budget:
    """One time budget for the stages of one message; each stage runs in what is
    left of it, and an overrun names the stage."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def over(self, stage: str) -> OverBudget:
        return OverBudget(f"the message took longer than its {self.seconds:g} s (at {stage})")

    def stage(self, name: str, *, cap: float | None = None, what: str = "") -> contextlib.AbstractContextManager[None]:
        """Run one stage in what is left of the budget, or in ``cap`` seconds when
        that is less (then the overrun says "<what> took longer than <cap> s")."""
        left = self.left()
        if cap is not None and cap < left:
            return time_limit(cap, f"{what or name} took longer than {cap:g} s")
        return time_limit(left, str(self.over(name)))


@contextmanager
def time_limit(seconds: float, why: str) -> Iterator[None]:
    """Interrupt the block with OverBudget(why) after ``seconds`` (main thread
    only: the daemon runs sweeps as child processes, so a sweep's main thread is
    always this one).

    An exception raised by a signal handler while Python runs a finalizer
    (``__del__``) is discarded as unraisable, so the timer repeats every 50 ms
    until the block ends, and a block that ends after the deadline raises too."""
    if seconds <= 0:
        raise OverBudget(why)
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    expired = False

    def expire(_signum: int, _frame: Any) -> None:
        nonlocal expired
        expired = True
        raise OverBudget(why)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if expired:
        raise OverBudget(why)
