"""The daemon: APScheduler (3.x) calls the same functions as the CLI.

- poll INBOX every ``poll_seconds`` (and at once when IMAP IDLE reports new mail),
- sweep every folder at ``sweep_times`` on working days (R21),
- send the outbox every ``outbox_seconds``.

SIGTERM and SIGINT stop it cleanly: the running job finishes its current
message (each message is its own transaction) and the scheduler exits.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data.db import Registry
from mailintake.intake import health
from mailintake.intake.source import ImapSource
from mailintake.intake.sweep import Intake, SweepBusy, sweep_lock

log = logging.getLogger("mailintake.ops.daemon")


class Daemon:
    def __init__(self, cfg: Config, clock: Callable[[], datetime] | None = None):
        self.cfg = cfg
        self.cal = WorkCalendar(cfg.hours)
        self.scheduler = BlockingScheduler(timezone=cfg.hours.timezone,
                                           job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600})
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
        reg = Registry(self.cfg.db_path, self.cfg.busy_timeout_seconds)
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
        args = [sys.executable, "-m", "mailintake"]
        if self.cfg.source is not None:
            args += ["--config", str(self.cfg.source)]
        args += ["sweep", "--now", self.now().isoformat()] + ([] if full else ["--inbox-only"])
        before = self._health_mark()
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=self.cfg.daemon.sweep_timeout_seconds)
        except subprocess.TimeoutExpired:
            reason = f"timed out: stopped after {self.cfg.daemon.sweep_timeout_seconds} s"
            log.error("sweep %s; the messages it had not finished are taken next time", reason)
            self._after(before, reason, full)
            return
        busy = done.returncode != 0 and "another sweep is running" in done.stderr
        for line in (done.stdout + done.stderr).splitlines():
            if line.strip() and "nothing new" not in line:
                log.log(_level(done.returncode, busy, line), "%s", line.strip())
        failure = None if done.returncode == 0 or busy else _failure(done)
        if done.returncode < 0:
            log.error("sweep %s; the messages it had not finished are taken next time", failure)
        self._after(before, failure, full)

    def _health_mark(self) -> tuple[str | None, int] | None:
        """What the registry says of the last run, to see whether a child recorded its own."""
        try:
            reg = Registry(self.cfg.db_path, self.cfg.busy_timeout_seconds)
        except Exception:  # noqa: BLE001 - the child will say why
            return None
        try:
            return reg.get_kv("last_run"), health.alerts_queued(reg)
        finally:
            reg.close()

    def _after(self, before: tuple[str | None, int] | None, failure: str | None, full: bool) -> None:
        """Record a failure the child could not record, and send a queued alert at once."""
        try:
            reg = Registry(self.cfg.db_path, self.cfg.busy_timeout_seconds)
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
                intake = Intake(self.cfg)
                try:
                    r = intake.drain(self.now())
                finally:
                    intake.close()
            if r.sent or r.failed or r.retried:
                log.info("outbox: %d sent, %d to retry, %d failed", r.sent, r.retried, r.failed)
        except SweepBusy:
            pass  # the running sweep drains the outbox itself
        except Exception:
            log.exception("outbox failed")

    def make_backup(self) -> None:
        from mailintake.ops.backup import create, prune, verify

        try:
            path = create(self.cfg, self.now())
            result = verify(path)
            prune(self.cfg)
            log.info("backup %s: %s", path, "verified" if result["ok"] else f"PROBLEMS {result['problems']}")
        except Exception:
            log.exception("backup failed")

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
        Registry(self.cfg.db_path, self.cfg.busy_timeout_seconds).close()  # a bad storage path stops here, in one line
        d = self.cfg.daemon
        self.scheduler.add_job(self.start_up, id="start", next_run_time=self.now())
        self.scheduler.add_job(self.poll, "interval", seconds=d.poll_seconds, id="poll")
        for t in d.sweep_times:
            self.scheduler.add_job(self.full_sweep, CronTrigger(hour=t.hour, minute=t.minute, timezone=self.cfg.hours.timezone),
                                   id=f"sweep-{t:%H%M}")
        self.scheduler.add_job(self.send_outbox, "interval", seconds=d.outbox_seconds, id="outbox")
        b = self.cfg.backup
        self.scheduler.add_job(self.make_backup, CronTrigger(day_of_week=",".join(b.days), hour=b.time.hour,
                                                             minute=b.time.minute, timezone=self.cfg.hours.timezone),
                               id="backup")
        if d.use_idle and self.cfg.mailbox.kind == "imap":
            threading.Thread(target=self._idle_loop, name="idle", daemon=True).start()
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("mailintake daemon started: poll every %ss, full sweeps at %s on working days",
                 d.poll_seconds, ", ".join(f"{t:%H:%M}" for t in d.sweep_times))
        self.scheduler.start()
        log.info("stopped")


def _level(returncode: int, busy: bool, line: str) -> int:
    if returncode != 0 and not busy:
        return logging.ERROR
    return logging.WARNING if "warning:" in line else logging.INFO


def _failure(done: subprocess.CompletedProcess[str]) -> str:
    """Why a child sweep failed, in one line."""
    if done.returncode < 0:
        return f"killed by {signal.Signals(-done.returncode).name}"
    lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    return lines[-1].removeprefix("Error: ") if lines else f"exit code {done.returncode}"


def run_daemon(cfg: Config) -> None:
    Daemon(cfg).run()
