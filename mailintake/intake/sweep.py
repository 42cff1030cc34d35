"""The road every message takes:

    source -> parse -> classify -> check -> register -> (outbox) -> mark done

``Intake.sweep`` walks every folder (``poll`` only INBOX), one message at a
time. A message is marked done at the source only after its registration
committed; a message that fails at any stage is quarantined with the stage and
the error, and the sweep goes on. Only one sweep runs at a time (a file lock).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.errors import Busy, UserError
from mailintake.base.faults import checkpoint
from mailintake.base.rules import load_rules, load_services
from mailintake.base.store import Store, ensure_dir
from mailintake.base.wording import Renderer, Wording
from mailintake.desk.lifecycle import Desk
from mailintake.desk.queries import quota_warning
from mailintake.intake import health, outbox
from mailintake.intake.check import FileCheck, as_tnef, check_file, is_tnef, sniff
from mailintake.intake.classify import NEW, REPLY, classify, spam_verdict, transaction_pattern
from mailintake.intake.parse import Incoming, lighten, parse, parse_headers_only, precheck
from mailintake.intake.record import Outcome, Registrar
from mailintake.intake.sandbox import CheckTimeout, CheckWorker, growth_limit, memory_of
from mailintake.intake.source import Envelope, Source, SourceError, open_source

log = logging.getLogger(__name__)


OVERSIZED = "Oversized"
SANDBOXED = ("pdf", "jpeg", "png", "tiff")
# A message in progress when its sweep died (killed, timed out, out of memory)
# this many times is quarantined at its next attempt.
MAX_CRASHES = 3


class SweepBusy(Busy):
    """Another sweep holds the lock."""


class RegistryUnavailable(UserError):
    """The registry cannot be written (locked by another writer, disk full):
    nothing was taken from the mailbox."""


@dataclass
class SweepReport:
    started_at: datetime
    counts: Counter[str] = field(default_factory=Counter)
    folders: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    outbox: outbox.DrainResult | None = None
    unreachable: str | None = None  # the mailbox could not be reached at all
    memory: dict[str, int] = field(default_factory=dict)  # peak bytes: "sweep", "checks"

    @property
    def failure(self) -> str | None:
        """Why the sweep failed as a whole: the mailbox could not be reached,
        or not one folder could be read."""
        if self.unreachable:
            return self.unreachable
        return self.errors[0] if self.errors and not self.folders else None

    @property
    def result(self) -> str:
        return health.FAILED if self.failure else health.OK

    @property
    def reason(self) -> str | None:
        return f"mailbox unreachable: {self.failure}" if self.failure else None

    def summary(self) -> str:
        parts = [f"{n} {k}" for k, n in sorted(self.counts.items())] or ["nothing new"]
        line = "swept " + ", ".join(f"{f} ({n})" for f, n in self.folders.items()) + ": " + ", ".join(parts)
        if self.outbox is not None:
            line += f"; outbox: {self.outbox.sent} sent, {self.outbox.retried} to retry, {self.outbox.failed} failed"
        return line


@contextmanager
def sweep_lock(storage: Path, *, wait: bool) -> Iterator[None]:
    storage.mkdir(parents=True, exist_ok=True)
    path = storage / "sweep.lock"
    fh = open(path, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                raise SweepBusy(f"another sweep is running (pid {holder}); try again later or use --wait") from None
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()


class Intake:
    """Everything a sweep needs, built once from the configuration."""

    def __init__(self, cfg: Config, source: Source | None = None):
        self.cfg = cfg
        self.reg = Registry(cfg.db_path, cfg.busy_timeout_seconds)
        self.store = Store(cfg.store_path)
        self.cal = WorkCalendar(cfg.hours)
        self.renderer = Renderer(cfg)
        self.wording = Wording(cfg.find("templates", "problems.toml"))
        self.rules = load_rules(cfg.find("rules", "mail.toml"))
        self.tid_pattern = transaction_pattern(cfg.ids.format, cfg.ids.prefix)
        self.services = load_services(cfg.search_path("rules"))
        self.desk = Desk(cfg, self.reg, self.renderer)
        self.registrar = Registrar(cfg, self.reg, self.store, self.cal, self.renderer, self.services, self.rules, self.desk)
        self._source = source
        self._worker: CheckWorker | None = None

    @property
    def source(self) -> Source:
        if self._source is None:
            self._source = open_source(self.cfg.mailbox)
        return self._source

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
        if self._source is not None:
            self._source.close()
        self.reg.close()

    # --- the pipeline for one message -------------------------------------------------------
    @property
    def worker(self) -> CheckWorker:
        if self._worker is None:
            self._worker = CheckWorker(self.cfg.checks, self.cfg.limits, self.wording,
                                       str(self.cfg.find("templates", "problems.toml")))
        return self._worker

    def check_all(self, msg: Incoming, budget: Budget | None = None) -> list[tuple[str, FileCheck]]:
        out = []
        for att in msg.attachments:
            digest = self.store.put(att.data, durable=False)
            _mime, kind = sniff(att.data[:262144])
            if kind in SANDBOXED and len(att.data) <= self.cfg.limits.max_attachment_bytes:
                # PDF and image decoders run in the bounded worker process.
                fc = self._sandboxed(att.data, att.name, att.declared_type, budget)
            else:
                fc = check_file(att.data, att.name, att.declared_type, self.cfg.checks, self.wording, self.cfg.limits)
            out.append((digest, as_tnef(fc, self.wording) if is_tnef(att.name, att.declared_type) else fc))
        return out

    def _sandboxed(self, data: bytes, name: str, declared: str, budget: Budget | None) -> FileCheck:
        """One file in the worker, given what is left of the message's time (never
        more than check_seconds) and what the sweep leaves of the memory ceiling."""
        limits = self.cfg.limits
        seconds = limits.check_seconds if budget is None else min(limits.check_seconds, budget.left())
        try:
            return self.worker.check(data, name, declared, max(seconds, 0.0),
                                     limits.sweep_memory_bytes - memory_of("self", "VmRSS"))
        except CheckTimeout as exc:
            if budget is not None and seconds < limits.check_seconds:
                raise budget.over("check") from None
            return self.worker.refused(data, name, declared, str(exc))

    @contextmanager
    def _memory_bound(self) -> Iterator[None]:
        """The sweep process may grow only to what its worker leaves of the ceiling."""
        worker = self._worker.mapped() if self._worker is not None else 0
        with growth_limit(self.cfg.limits.sweep_memory_bytes - memory_of("self", "VmRSS") - worker):
            yield

    def process(self, env: Envelope | None, raw: bytes, now: datetime, *, retry_row: int | None = None,
                received: datetime | None = None) -> Outcome:
        """parse -> classify -> check -> register, quarantining on failure. Every
        stage before register runs in one time budget (``[limits] message_seconds``)
        and under the sweep's memory ceiling."""
        budget = Budget(self.cfg.limits.message_seconds)
        try:
            with self._memory_bound():
                done = self._stages(budget, env, raw, now, retry_row)
            if isinstance(done, Outcome):
                return done
            budget.stage_name = "register"
            msg, verdict, checks = done
            return self.registrar.record(env, msg, verdict, checks, now, replace_row=retry_row, received=received)
        except OverBudget as exc:
            log.warning("quarantined at %s: %s", budget.stage_name, exc)
            return self.registrar.record_quarantine(env, raw, budget.stage_name, f"OverBudget: {exc}", now,
                                                    existing=retry_row)
        except MemoryError:
            why = (f"the message needs more memory than the sweep's ceiling "
                   f"({self.cfg.limits.sweep_memory_bytes // (1024 * 1024)} MB) allows")
            log.warning("quarantined at %s: %s", budget.stage_name, why)
            return self.registrar.record_quarantine(env, raw, budget.stage_name, f"MemoryError: {why}", now,
                                                    existing=retry_row)
        except (sqlite3.OperationalError, OSError) as exc:
            # Database busy, disk full: not the message's fault. Leave it on the
            # server, unflagged, for the next sweep.
            raise _Retryable(f"{budget.stage_name}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - any failure quarantines the message, never stops the sweep
            log.warning("quarantined at %s: %s: %s", budget.stage_name, type(exc).__name__, exc)
            return self.registrar.record_quarantine(env, raw, budget.stage_name, f"{type(exc).__name__}: {exc}", now,
                                                    existing=retry_row)

    def _stages(self, budget: Budget, env: Envelope | None, raw: bytes, now: datetime,
                retry_row: int | None) -> Outcome | tuple[Incoming, Any, list[tuple[str, FileCheck]]]:
        """The stages of one message that its budget covers; a duplicate ends here."""
        with budget.stage("limits"):
            lightened = lighten(raw)
            precheck(lightened[0], self.cfg.limits)
        with budget.stage("parse", cap=self.cfg.limits.parse_seconds, what="parsing"):
            msg = parse(raw, lightened, max_parts=self.cfg.limits.max_parts)
        checkpoint("after_parse")
        with budget.stage("classify"):
            known = self.registrar.known(msg)
            verdict = classify(self.rules, msg, self.registrar, self.tid_pattern) if known is None or retry_row else None
        if verdict is None:
            assert known is not None
            return self.registrar.record_duplicate(env, msg, known, now)
        with budget.stage("check"):
            checks = self.check_all(msg, budget) if verdict.kind in (NEW, REPLY) else []
        return msg, verdict, checks

    def _first_look(self, env: Envelope, role: str, now: datetime, report: SweepReport) -> bool:
        """Decide what can be decided from the headers alone; True when the body
        is needed (the message goes on down the pipeline)."""
        src = self.source
        seen = self.registrar.seen(env)
        if seen is not None:
            # Registered before a crash or a failed flag: finish the job only.
            if seen["kind"] == "spam":
                src.delete(env)
            elif seen["kind"] == "oversized":
                src.move(env, OVERSIZED)
            else:
                src.mark_done(env)
            report.counts["finished earlier"] += 1
            return False
        headers = parse_headers_only(env.header)
        verdict = spam_verdict(self.rules, headers)
        if verdict is not None:
            self.registrar.record_spam(env, headers, env.header, verdict, now)
            src.delete(env)
            report.counts["spam"] += 1
            return False
        if env.size > self.cfg.limits.max_message_bytes:
            # Judged by RFC822.SIZE before fetching: kept aside, the sender told.
            self.registrar.record_oversized(env, headers, now)
            src.move(env, OVERSIZED)
            report.counts["oversized"] += 1
            return False
        if role == "junk":
            # Not spam by the server's verdict: back to INBOX, taken there (R22).
            src.move_to_inbox(env)
            report.counts["moved from junk"] += 1
            return False
        return True

    def _take(self, env: Envelope, raw: bytes, now: datetime, report: SweepReport) -> None:
        """The pipeline for one fetched message, then mark it done at the source."""
        # The raw message is kept before anything else can fail (R14).
        digest = self.store.put(raw)
        checkpoint("after_fetch")
        tries = self.registrar.begin_attempt(digest, now)
        if tries > MAX_CRASHES:
            outcome = self.registrar.record_quarantine(
                env, raw, "crash", f"the sweep stopped {MAX_CRASHES} times while processing this message "
                "(killed, out of time or out of memory)", now)
        else:
            outcome = self.process(env, raw, now)
        checkpoint("after_commit")
        self.source.mark_done(env)
        if outcome.kind in ("quarantined", "duplicate"):
            self.registrar.end_attempt(digest)
        report.counts[outcome.kind] += 1

    def _guard(self, env: Envelope, report: SweepReport, step: Any, *args: Any) -> Any:
        """Run one step for one message; a failure leaves it for the next sweep."""
        try:
            return step(*args)
        except _Retryable as exc:
            report.errors.append(f"{env.folder} uid {env.uid}: left for the next sweep: {exc}")
        except SourceError as exc:
            report.errors.append(f"{env.folder} uid {env.uid}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a server error on one message; the next sweep retries it
            report.errors.append(f"{env.folder} uid {env.uid}: {type(exc).__name__}: {exc}")
        report.counts["left pending"] += 1
        return None

    def sweep(self, now: datetime, *, full: bool = True, drain: bool = True) -> SweepReport:
        report = SweepReport(started_at=now)
        try:
            with self.reg.transaction():
                sweep_id = self.reg.insert("sweeps", {"started_at": to_iso(datetime.now().astimezone()),
                                                      "clock": to_iso(now)})
        except sqlite3.OperationalError as exc:
            raise RegistryUnavailable(f"the registry cannot be written ({exc}); nothing was taken from the mailbox: "
                                      "try again later") from None
        try:
            folders = self.source.folders(full=full)
        except SourceError as exc:
            report.unreachable = str(exc)
            folders = []
        for folder in folders:
            try:
                envelopes = self.source.pending(folder.name)
            except SourceError as exc:
                report.errors.append(f"{folder.name}: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - a protocol error in one folder must not stop the others
                report.errors.append(f"{folder.name}: {type(exc).__name__}: {exc}")
                continue
            report.folders[folder.name] = len(envelopes)
            bodies = [e for e in envelopes if self._guard(e, report, self._first_look, e, folder.role, now, report)]
            try:
                for env, raw in self.source.fetch_many(bodies):
                    if isinstance(raw, Exception):
                        report.errors.append(f"{folder.name} uid {env.uid}: {raw}")
                        report.counts["left pending"] += 1
                        continue
                    self._guard(env, report, self._take, env, raw, now, report)
                self.source.flush()
            except Exception as exc:  # noqa: BLE001 - the connection failed mid-folder; the next sweep resumes
                report.errors.append(f"{folder.name}: {type(exc).__name__}: {exc}")
        self._end_checks(report)
        if drain:
            try:
                report.outbox = self.drain(now)
            except (sqlite3.OperationalError, OSError) as exc:
                report.errors.append(f"outbox not sent: {exc}")
        report.memory["sweep"] = memory_of("self", "VmHWM")
        self._finish(sweep_id, report, full)
        return report

    def _end_checks(self, report: SweepReport) -> None:
        """Stop the check worker and note the peak memory of the sweep and of its
        workers (bytes, as the kernel counted them)."""
        if self._worker is not None:
            self._worker.close()
            report.memory["checks"] = self._worker.peak()

    def drain(self, now: datetime) -> outbox.DrainResult:
        source = self._source if self._source is not None else None
        try:
            source = self.source
        except SourceError:
            source = None
        return outbox.drain(self.cfg, self.reg, now, source)

    def _finish(self, sweep_id: int, report: SweepReport, full: bool) -> None:
        try:
            self._record_finish(sweep_id, report, full)
        except (sqlite3.OperationalError, OSError) as exc:
            report.errors.append(f"could not record the end of the sweep: {exc}")

    def _record_finish(self, sweep_id: int, report: SweepReport, full: bool) -> None:
        quota = None
        try:
            q = self.source.quota()
            quota = None if q is None else {"used_kb": q.used_kb, "limit_kb": q.limit_kb, "percent": round(q.percent, 1)}
            warning = quota_warning(quota)
            if warning:
                log.warning("%s", warning)
                report.errors.append(warning)
        except Exception:  # noqa: BLE001 - quota is advisory
            quota = None
        row = self.reg.one("SELECT started_at FROM sweeps WHERE id = ?", (sweep_id,))
        finished = to_iso(datetime.now().astimezone())
        with self.reg.transaction():
            self.reg.update("sweeps", "id", sweep_id, {
                "finished_at": finished,
                "counts": json.dumps(dict(report.counts)), "folders": json.dumps(report.folders),
                "errors": json.dumps(report.errors[:100], ensure_ascii=False),
            })
            health.record(self.cfg, self.reg, health.run_record(
                sweep_id=sweep_id, full=full, result=report.result, reason=report.reason, clock=report.started_at,
                started_at=row["started_at"] if row else None, finished_at=finished, counts=dict(report.counts),
                folders=report.folders, errors=len(report.errors)), report.started_at)
            if quota is not None:
                self.reg.set_kv("quota", json.dumps(quota))

    # --- quarantine -------------------------------------------------------------------------
    def retry_quarantined(self, now: datetime, message_row: int | None = None) -> list[Outcome]:
        sql = "SELECT * FROM messages WHERE kind = 'quarantined'" + (" AND id = ?" if message_row else "") + " ORDER BY id"
        rows = self.reg.all(sql, (message_row,) if message_row else ())
        outcomes = []
        for row in rows:
            raw = self.store.get(row["sha256"])
            env = None
            received = datetime.fromisoformat(row["internaldate"]) if row["internaldate"] else now
            outcomes.append(self.process(env, raw, now, retry_row=row["id"], received=received))
        return outcomes


class _Retryable(Exception):
    pass


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
        self.stage_name = "limits"

    def left(self) -> float:
        return self.end - time.monotonic()

    def over(self, stage: str) -> OverBudget:
        return OverBudget(f"the message took longer than its {self.seconds:g} s (at {stage})")

    def stage(self, name: str, *, cap: float | None = None, what: str = "") -> contextlib.AbstractContextManager[None]:
        """Run one stage in what is left of the budget, or in ``cap`` seconds when
        that is less (then the overrun says "<what> took longer than <cap> s")."""
        self.stage_name = name
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


def run_sweep(cfg: Config, now: datetime, *, full: bool = True, wait: bool = False) -> SweepReport:
    """One locked sweep (what ``mailintake sweep`` and the daemon call)."""
    started = time.monotonic()
    ensure_dir(cfg.storage_path)
    ensure_dir(cfg.store_path)
    with sweep_lock(cfg.storage_path, wait=wait):
        intake = Intake(cfg)
        try:
            report = intake.sweep(now, full=full)
        finally:
            intake.close()
    log.debug("%s in %.1fs", report.summary(), time.monotonic() - started)
    return report


def as_json(report: SweepReport) -> dict[str, Any]:
    return {
        "clock": to_iso(report.started_at), "result": report.result, "reason": report.reason,
        "counts": dict(report.counts), "folders": report.folders, "errors": report.errors, "memory": report.memory,
        "outbox": None if report.outbox is None else {"sent": report.outbox.sent, "retried": report.outbox.retried,
                                                      "failed": report.outbox.failed},
    }
