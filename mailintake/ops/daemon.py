"""The daemon: APScheduler (3.x) calls the same functions as the CLI.

- poll INBOX every ``poll_seconds`` (and at once when IMAP IDLE reports new mail),
- sweep every folder at ``sweep_times`` on working days (R21),
- send the outbox every ``outbox_seconds``,
- after each sweep, the deadline jobs (``ops.deadlines``: watchdog, delay
  notices, reminders, digest) and, once a month, the public site (``ops.publishing``).

Each sweep runs in a child process (``sweep_in_child``) that calls
``intake.sweep.run_sweep`` and sends back a ``SweepOutcome``: swept (with the
report), busy (another sweep holds the lock) or failed. A child that is killed
or outlives ``sweep_timeout_seconds`` costs itself, never the daemon; health
records the failure. Sending and backups call ``intake.outbox.send_queued`` and
``ops.backup.make``, as ``mailintake outbox send`` and ``backup create`` do.

SIGTERM and SIGINT stop it cleanly: the running job finishes its current
message (each message is its own transaction) and the scheduler exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from mailintake.base import logs
from mailintake.base.auditkey import AuditKey
from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data.db import Registry
from mailintake.base.deployment import open_registry
from mailintake.base.errors import ConfigError, UserError
from mailintake.base.privacy import refuse_open_config, refuse_open_storage, set_private_umask
from mailintake.base.store import StorageError
from mailintake.intake import health, outbox
from mailintake.intake.source import ImapSource
from mailintake.intake.sweep import SweepBusy, as_json, run_sweep, sweep_lock
from mailintake.ops import backup, purge

log = logging.getLogger("mailintake.ops.daemon")


class Daemon:
    def __init__(self, cfg: Config, clock: Callable[[], datetime] | None = None):
        self.cfg = cfg
        self.cal = WorkCalendar(cfg.hours)
        from apscheduler.schedulers.blocking import BlockingScheduler  # only `run` needs the scheduler

        self.scheduler = BlockingScheduler(
            timezone=cfg.hours.timezone, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600}
        )
        self.stopping = threading.Event()
        self._clock = clock

    def now(self) -> datetime:
        return self._clock() if self._clock is not None else datetime.now(self.cfg.hours.timezone)

    def start_up(self) -> None:
        """The first job: the missed full sweep if there is one, else a poll."""
        try:
            caught_up = self.catch_up()
        except Exception as exc:  # noqa: BLE001 - the poll says the rest
            log.error("could not look for a missed sweep: %s", exc)
            caught_up = False
        if not caught_up:
            self.poll()

    def catch_up(self) -> bool:
        """Run at once the full sweep of today that a daemon started late
        missed (R21); True when it ran one."""
        reg = open_registry(self.cfg)
        try:
            slot = health.missed_full_sweep(self.cfg, reg, self.now())
        finally:
            reg.close()
        if slot is None:
            return False
        log.info("started after the %s sweep with no full sweep since: sweeping now", f"{slot:%H:%M}")
        self._sweep(full=True)
        return True

    def poll(self) -> None:
        self._sweep(full=False)

    def full_sweep(self) -> None:
        today = self.now().date()
        if not self.cal.is_working_day(today):
            log.info("%s is not a working day: polling only", today)
            self._sweep(full=False)
            return
        self._sweep(full=True)

    def _sweep(self, *, full: bool) -> None:
        """One sweep in a child process: a message that hangs or crashes the
        parser costs that process, never the daemon. A failed sweep is logged
        at ERROR; one that could not record its own end is recorded here."""
        before = self._health_mark()
        outcome = sweep_in_child(self.cfg, self.now(), full=full, timeout=self.cfg.daemon.sweep_timeout_seconds)
        if outcome.kind == BUSY:
            log.info("sweep skipped: %s", outcome.reason)
        elif outcome.kind == SWEPT and outcome.reason is None:
            if "nothing new" not in outcome.summary:
                log.info("%s", outcome.summary)
            for err in outcome.warnings:
                log.warning("warning: %s", err)
        elif outcome.stopped:
            log.error("sweep %s; the messages it had not finished are taken next time", outcome.reason)
        else:
            log.error("sweep failed: %s", outcome.reason)
        self._after(before, outcome.reason if outcome.kind in (FAILED, SWEPT) else None, full)
        self.run_deadlines()

    def run_deadlines(self) -> None:
        """The deadline jobs after each sweep, failed ones too (the watchdog
        must see a failing sweep's missed acknowledgements); what they queued
        goes at once."""
        from mailintake.base.deployment import Deployment
        from mailintake.ops.deadlines import run_in

        result = run_in(lambda: Deployment.build(self.cfg), self.now())
        if result and any(v for k, v in result.items() if k not in ("now", "errors")):
            self.send_outbox()
        from mailintake.ops.publishing import run_in as publish_monthly  # the site, once a month (R28)

        publish_monthly(self.cfg, self.now())

    def _health_mark(self) -> tuple[str | None, int] | None:
        """What the registry says of the last run, to see whether a child recorded its own."""
        try:
            reg = open_registry(self.cfg)
        except Exception:  # noqa: BLE001 - the child will say why
            return None
        try:
            return reg.get_kv("last_run"), health.alerts_queued(reg)
        finally:
            reg.close()

    def _after(self, before: tuple[str | None, int] | None, failure: str | None, full: bool) -> None:
        """Record a failure the child could not record, and send a queued alert at once."""
        try:
            reg = open_registry(self.cfg)
            try:
                if failure is not None and (before is None or reg.get_kv("last_run") == before[0]):
                    health.record_failure(self.cfg, reg, failure, self.now(), full=full)
                alert = before is None or health.alerts_queued(reg) != before[1]
            finally:
                reg.close()
        except Exception as exc:  # noqa: BLE001 - the log is all that is left
            log.error("could not record the sweep's result: %s", exc)
            return
        if alert:
            self.send_outbox()

    def send_outbox(self) -> None:
        try:
            with sweep_lock(self.cfg.storage_path, wait=False):
                r = outbox.send_queued(self.cfg, self.now())
            if r.sent or r.failed or r.retried:
                log.info("outbox: %d sent, %d to retry, %d failed", r.sent, r.retried, r.failed)
        except SweepBusy:
            pass  # the running sweep drains the outbox itself
        except Exception:
            log.exception("outbox failed")

    def anchor_audit(self) -> None:
        """The daily anchor of the audit chain (``ops.anchors``), mailed at once."""
        from mailintake.base.deployment import Deployment
        from mailintake.ops.anchors import anchor

        try:
            dep = Deployment.build(self.cfg)
            try:
                log.info("%s", anchor(dep, self.now()).describe())
            finally:
                dep.close()
        except Exception:
            log.exception("audit anchor failed")
            return
        self.send_outbox()

    def make_backup(self) -> None:
        try:
            log.info("%s", backup.make(self.cfg, self.now()).describe())
        except Exception:
            log.exception("backup failed")

    def purge_daily(self) -> None:
        try:
            log.info("%s", purge.daily(self.cfg, self.now()))
        except Exception:
            log.exception("purge failed")

    def _idle_loop(self) -> None:
        """Wait on IMAP IDLE and poll as soon as the server says mail arrived."""
        src = ImapSource(self.cfg.mailbox)
        while not self.stopping.is_set():
            try:
                if not src.idle_wait(min(self.cfg.daemon.poll_seconds, 600)):
                    if not src.client.has_capability("IDLE"):
                        log.info("server does not offer IDLE: polling every %ss", self.cfg.daemon.poll_seconds)
                        return
                    continue
                self.poll()
            except Exception as exc:  # noqa: BLE001 - reconnect after any IDLE failure
                log.warning("IDLE: %s; reconnecting", exc)
                src.close()
                self.stopping.wait(30)
        src.close()

    def stop(self, *_: Any) -> None:
        log.info("stopping")
        self.stopping.set()
        self.scheduler.shutdown(wait=False)

    def run(self) -> None:
        from apscheduler.triggers.cron import CronTrigger

        start_private(self.cfg)
        d = self.cfg.daemon
        self.scheduler.add_job(self.start_up, id="start", next_run_time=self.now())
        self.scheduler.add_job(self.poll, "interval", seconds=d.poll_seconds, id="poll")
        for t in d.sweep_times:
            self.scheduler.add_job(
                self.full_sweep, CronTrigger(hour=t.hour, minute=t.minute, timezone=self.cfg.hours.timezone), id=f"sweep-{t:%H%M}"
            )
        self.scheduler.add_job(self.send_outbox, "interval", seconds=d.outbox_seconds, id="outbox")
        b = self.cfg.backup
        self.scheduler.add_job(
            self.make_backup,
            CronTrigger(day_of_week=",".join(b.days), hour=b.time.hour, minute=b.time.minute, timezone=self.cfg.hours.timezone),
            id="backup",
        )
        if self.cfg.retention.daily:  # [retention], at night
            self.scheduler.add_job(self.purge_daily, CronTrigger(hour=2, minute=30, timezone=self.cfg.hours.timezone), id="purge")
        close = self.cfg.hours.close  # daily, at the close of the working day
        self.scheduler.add_job(
            self.anchor_audit, CronTrigger(hour=close.hour, minute=close.minute, timezone=self.cfg.hours.timezone), id="anchor"
        )
        if d.use_idle and self.cfg.mailbox.kind == "imap":
            threading.Thread(target=self._idle_loop, name="idle", daemon=True).start()
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info(
            "mailintake daemon started: poll every %ss, full sweeps at %s on working days",
            d.poll_seconds,
            ", ".join(f"{t:%H:%M}" for t in d.sweep_times),
        )
        server = start_server(self.cfg)
        try:
            self.scheduler.start()
        finally:
            stop_server(server)
        log.info("stopped")


# --- a sweep in a child process ---------------------------------------------------------------
SWEPT, BUSY, FAILED = "swept", "busy", "failed"


@dataclass(frozen=True)
class SweepOutcome:
    """How a sweep in a child process ended: ``swept`` (the report says how it
    went: a sweep that could not reach the mailbox is swept with a ``reason``),
    ``busy`` (another sweep holds the lock: not a failure) or ``failed`` (it
    raised, or was killed or timed out: ``stopped``)."""

    kind: str
    reason: str | None = None
    report: dict[str, Any] | None = None  # ``sweep.as_json`` of the report
    summary: str = ""
    warnings: tuple[str, ...] = ()
    stopped: bool = False


def sweep_in_child(cfg: Config, now: datetime, *, full: bool, timeout: float) -> SweepOutcome:
    """Run ``run_sweep`` in a fresh interpreter (``spawn``: it inherits no lock,
    registry connection or thread of the daemon) and wait at most ``timeout``
    seconds; then it is killed (SIGKILL), and its check worker dies with it
    (``PR_SET_PDEATHSIG``, see ``intake.sandbox``). The child's log records come
    back through the same pipe and are logged here under their own names, with
    the fields of the message they are about (``base.logs``)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    level = logging.getLogger("mailintake").getEffectiveLevel()
    child = context.Process(target=_sweep_child, args=(sender, cfg, now, full, level), name="mailintake-sweep")
    child.start()
    sender.close()
    deadline = time.monotonic() + timeout
    outcome: SweepOutcome | None = None
    try:
        while outcome is None:
            left = deadline - time.monotonic()
            if left <= 0:
                child.kill()
                child.join()
                return SweepOutcome(FAILED, f"timed out: stopped after {timeout:g} s", stopped=True)
            if not receiver.poll(min(left, 1.0)):
                continue
            try:
                what, payload = receiver.recv()
            except EOFError:
                break  # the child ended without a word: killed, or out of memory
            if what == "log":
                logging.getLogger(payload.name).handle(payload)
            else:
                outcome = payload
    finally:
        receiver.close()
    child.join(max(deadline - time.monotonic(), 1.0))
    if child.exitcode is None:
        child.kill()
        child.join()
    if outcome is not None:
        return outcome
    code = child.exitcode or 0
    if code < 0:
        return SweepOutcome(FAILED, f"killed by {signal.Signals(-code).name}", stopped=True)
    return SweepOutcome(FAILED, f"exit code {code}")


class _PipeHandler(logging.Handler):
    """Sends the child's log records to the daemon (formatted: arguments and
    tracebacks become text, so every record pickles)."""

    def __init__(self, send: Callable[[tuple[str, Any]], None]):
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            record = logging.makeLogRecord(
                {**record.__dict__, "msg": message, "args": None, "exc_info": None, "exc_text": None, "stack_info": None}
            )
            self._send(("log", record))
        except Exception:  # noqa: BLE001 - the daemon has gone: nobody to tell
            self.handleError(record)


def _sweep_child(conn: Connection, cfg: Config, now: datetime, full: bool, level: int) -> None:
    """The child's whole life: one sweep, its outcome sent back as a value."""
    lock = threading.Lock()

    def send(item: tuple[str, Any]) -> None:
        with lock:
            conn.send(item)

    set_private_umask()  # a fresh interpreter: private before it creates anything
    logs.configure(level, handler=_PipeHandler(send))  # the daemon's levels; it formats the lines
    try:
        report = run_sweep(cfg, now, full=full, wait=False)
        outcome = SweepOutcome(SWEPT, report.failure, as_json(report), report.summary(), tuple(report.errors))
    except SweepBusy as exc:
        outcome = SweepOutcome(BUSY, str(exc).removesuffix("; try again later or use --wait"))
    except StorageError as exc:
        outcome = SweepOutcome(FAILED, f"[storage] path: {exc}")
    except (UserError, ConfigError) as exc:
        outcome = SweepOutcome(FAILED, str(exc))
    except Exception as exc:  # told to the daemon, which records it
        log.exception("sweep failed")
        outcome = SweepOutcome(FAILED, f"{type(exc).__name__}: {exc}")
    send(("outcome", outcome))
    conn.close()


def start_private(cfg: Config) -> None:
    """The daemon's first act: umask 077 for good; open the registry (a bad
    storage path stops here, in one line); then refuse (``ConfigError``, exit 2)
    a data directory, database or permit key that other accounts can read or
    write, with the path and the fix in one line. The daemon keeps the registry
    for a long time as its own service account, so it does not quietly change
    modes an administrator set; a one-shot CLI command tightens them."""
    set_private_umask()
    Registry(cfg.db_path, cfg.busy_timeout_seconds, tighten=False).close()
    refuse_open_storage(cfg.storage_path)
    refuse_open_config(cfg.source)
    AuditKey(cfg.audit.key_file).load()  # a key file others can read or write: refused the same way


def start_server(cfg: Config) -> subprocess.Popen[bytes] | None:
    """``mailintake serve`` as a process of its own (it forks a child per
    command, which it must not do from this process's threads), when a socket
    is configured."""
    if cfg.daemon.socket is None or cfg.source is None:
        return None
    command = [sys.executable, "-m", "mailintake", "--log-format", logs.active_format, "--config", str(cfg.source), "serve"]
    return subprocess.Popen(command)


def stop_server(server: subprocess.Popen[bytes] | None) -> None:
    if server is not None and server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def run_daemon(cfg: Config) -> None:
    Daemon(cfg).run()
