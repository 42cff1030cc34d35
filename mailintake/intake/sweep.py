"""A sweep: the folders, the lock, fetching, marking done and the report.

    source -> (headers: seen, spam, oversized, junk) -> fetch -> the road -> mark done -> outbox

``Intake.sweep`` walks every folder (``poll`` only INBOX), one message at a
time, down the road of ``intake.pipeline``. A message is marked done at the
source only after its registration committed; a message that fails at any stage
is quarantined with the stage and the error, and the sweep goes on. Only one
sweep runs at a time (a file lock).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mailintake.base.config import Config
from mailintake.base.data import messages, sweeps
from mailintake.base.data.db import to_iso
from mailintake.base.data.messages import Place
from mailintake.base.deployment import Deployment
from mailintake.base.errors import Busy, UserError
from mailintake.base.faults import checkpoint
from mailintake.base.privacy import FILE_MODE, tighten
from mailintake.base.store import ensure_dir
from mailintake.intake import health, outbox
from mailintake.intake.health import quota_warning
from mailintake.intake.parse import parse_headers_only
from mailintake.intake.pipeline import Retryable, Road
from mailintake.intake.record import Outcome
from mailintake.intake.sandbox import memory_of
from mailintake.intake.source import Envelope, Source, SourceError, open_source

log = logging.getLogger(__name__)


OVERSIZED = "Oversized"
# A message in progress when its sweep died (killed, timed out, out of memory)
# this many times is quarantined at its next attempt.
MAX_CRASHES = 3

# Told how far a sweep is in one folder: (folder, messages done, messages in it).
# The command line draws a progress bar with it; the daemon passes none.
Progress = Callable[[str, int, int], None]


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
    """The one sweep at a time: ``sweep.lock`` inside the data directory (0700),
    itself 0600, so no other account can open it and hold every sweep back."""
    ensure_dir(storage)
    path = storage / "sweep.lock"
    fh = open(path, "a+", opener=lambda name, flags: os.open(name, flags, FILE_MODE))
    tighten(path)
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
    """A deployment's mailbox and the road its messages take. Given a
    ``Config`` rather than a ``Deployment``, it builds one and closes it."""

    def __init__(self, dep: Deployment | Config, source: Source | None = None):
        self._owns = isinstance(dep, Config)
        self.dep = Deployment.build(dep) if isinstance(dep, Config) else dep
        self.cfg, self.reg, self.store = self.dep.cfg, self.dep.registry, self.dep.store
        self.road = Road(self.dep)
        self._source = source

    @property
    def source(self) -> Source:
        if self._source is None:
            self._source = open_source(self.cfg.mailbox)
        return self._source

    def close(self) -> None:
        self.road.close()
        if self._source is not None:
            self._source.close()
        if self._owns:
            self.dep.close()

    def process(
        self, env: Envelope | None, raw: bytes, now: datetime, *, retry_row: int | None = None, received: datetime | None = None
    ) -> Outcome:
        """One message down the road (``pipeline.STAGES``)."""
        return self.road.process(env, raw, now, retry_row=retry_row, received=received)

    def _first_look(self, env: Envelope, role: str, now: datetime, report: SweepReport) -> bool:
        """Decide what can be decided from the headers alone; True when the body
        is needed (the message goes on down the road)."""
        src = self.source
        seen = messages.seen_at(self.reg, Place(env.folder, env.uidvalidity, env.uid))
        if seen is not None:
            # Registered before a crash or a failed flag: finish the job only.
            if seen.kind == "spam":
                src.move(env, self.cfg.mailbox.spam_folder)
            elif seen.kind == "oversized":
                src.move(env, OVERSIZED)
            else:
                src.mark_done(env)
            report.counts["finished earlier"] += 1
            return False
        headers = parse_headers_only(env.header)
        if self.road.spam(env, headers, now) is not None:
            # Moved aside, never expunged unread: a wrong verdict can be undone.
            src.move(env, self.cfg.mailbox.spam_folder)
            report.counts["spam"] += 1
            return False
        if env.size > self.cfg.limits.max_message_bytes:
            # Judged by RFC822.SIZE before fetching: kept aside, the sender told.
            self.road.oversized(env, headers, now)
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
        """The road for one fetched message, then mark it done at the source."""
        # The raw message is kept before anything else can fail (R14).
        digest = self.store.put(raw)
        checkpoint("after_fetch")
        tries = messages.begin_attempt(self.reg, digest, now)
        if tries > MAX_CRASHES:
            outcome = self.road.crashed(env, raw, MAX_CRASHES, now)
        else:
            outcome = self.process(env, raw, now)
        checkpoint("after_commit")
        self.source.mark_done(env)
        if outcome.kind in ("quarantined", "duplicate"):
            with self.reg.transaction():
                messages.end_attempt(self.reg, digest)
        report.counts[outcome.kind] += 1

    def _guard(self, env: Envelope, report: SweepReport, step: Any, *args: Any) -> Any:
        """Run one step for one message; a failure leaves it for the next sweep."""
        try:
            return step(*args)
        except Retryable as exc:
            report.errors.append(f"{env.folder} uid {env.uid}: left for the next sweep: {exc}")
        except SourceError as exc:
            report.errors.append(f"{env.folder} uid {env.uid}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a server error on one message; the next sweep retries it
            report.errors.append(f"{env.folder} uid {env.uid}: {type(exc).__name__}: {exc}")
        report.counts["left pending"] += 1
        return None

    def sweep(self, now: datetime, *, full: bool = True, drain: bool = True, progress: Progress | None = None) -> SweepReport:
        report = SweepReport(started_at=now)
        try:
            with self.reg.transaction():
                sweep_id = sweeps.start(self.reg, started_at=datetime.now().astimezone(), clock=now)
        except sqlite3.OperationalError as exc:
            raise RegistryUnavailable(
                f"the registry cannot be written ({exc}); nothing was taken from the mailbox: try again later"
            ) from None
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
            done = len(envelopes) - len(bodies)
            if progress is not None:
                progress(folder.name, done, len(envelopes))
            try:
                for env, raw in self.source.fetch_many(bodies):
                    if isinstance(raw, Exception):
                        report.errors.append(f"{folder.name} uid {env.uid}: {raw}")
                        report.counts["left pending"] += 1
                    else:
                        self._guard(env, report, self._take, env, raw, now, report)
                    done += 1
                    if progress is not None:
                        progress(folder.name, done, len(envelopes))
                self.source.flush()
            except Exception as exc:  # noqa: BLE001 - the connection failed mid-folder; the next sweep resumes
                report.errors.append(f"{folder.name}: {type(exc).__name__}: {exc}")
        # The peak memory of the sweep and of its check workers (bytes, as the kernel counted them).
        checks_peak = self.road.end_checks()
        if checks_peak is not None:
            report.memory["checks"] = checks_peak
        if drain:
            try:
                report.outbox = self.drain(now)
            except (sqlite3.OperationalError, OSError) as exc:
                report.errors.append(f"outbox not sent: {exc}")
        report.memory["sweep"] = memory_of("self", "VmHWM")
        self._finish(sweep_id, report, full)
        return report

    def drain(self, now: datetime) -> outbox.DrainResult:
        try:
            source: Source | None = self.source
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
        row = sweeps.get(self.reg, sweep_id)
        finished = to_iso(datetime.now().astimezone())
        with self.reg.transaction():
            sweeps.finish(
                self.reg,
                sweep_id,
                finished_at=finished or "",
                counts=dict(report.counts),
                folders=report.folders,
                errors=report.errors,
            )
            health.record(
                self.cfg,
                self.reg,
                health.run_record(
                    sweep_id=sweep_id,
                    full=full,
                    result=report.result,
                    reason=report.reason,
                    clock=report.started_at,
                    started_at=row.started_at if row else None,
                    finished_at=finished,
                    counts=dict(report.counts),
                    folders=report.folders,
                    errors=len(report.errors),
                ),
                report.started_at,
            )
            if quota is not None:
                sweeps.set_json(self.reg, "quota", quota)

    # --- quarantine -------------------------------------------------------------------------
    def retry_quarantined(self, now: datetime, message_row: int | None = None) -> list[Outcome]:
        """Every quarantined message (or the one ``message_row``) down the road again."""
        outcomes = []
        for row in messages.quarantined(self.reg, message_row):
            raw = self.store.get(row.sha256)
            received = datetime.fromisoformat(row.internaldate) if row.internaldate else now
            outcomes.append(self.process(None, raw, now, retry_row=row.id, received=received))
        return outcomes


def run_sweep(
    cfg: Config, now: datetime, *, full: bool = True, wait: bool = False, progress: Progress | None = None
) -> SweepReport:
    """One locked sweep (what ``mailintake sweep`` and the daemon call);
    ``progress`` is told of each message taken (the command line's bar)."""
    started = time.monotonic()
    ensure_dir(cfg.storage_path)
    ensure_dir(cfg.store_path)
    with sweep_lock(cfg.storage_path, wait=wait):
        dep = Deployment.build(cfg)
        intake = Intake(dep)
        try:
            report = intake.sweep(now, full=full, progress=progress)
        finally:
            intake.close()
            dep.close()
    log.debug("%s in %.1fs", report.summary(), time.monotonic() - started)
    return report


def as_json(report: SweepReport) -> dict[str, Any]:
    return {
        "clock": to_iso(report.started_at),
        "result": report.result,
        "reason": report.reason,
        "counts": dict(report.counts),
        "folders": report.folders,
        "errors": report.errors,
        "memory": report.memory,
        "outbox": None
        if report.outbox is None
        else {"sent": report.outbox.sent, "retried": report.outbox.retried, "failed": report.outbox.failed},
    }
