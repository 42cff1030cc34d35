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
from datetime import datetime
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from .calendar import WorkCalendar
from .config import Config
from .source import ImapSource
from .sweep import Intake, SweepBusy, sweep_lock

log = logging.getLogger("mailintake.daemon")


class Daemon:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.cal = WorkCalendar(cfg.hours)
        self.scheduler = BlockingScheduler(timezone=cfg.hours.timezone,
                                           job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600})
        self.stopping = threading.Event()

    def now(self) -> datetime:
        return datetime.now(self.cfg.hours.timezone)

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
        parser costs that process, never the daemon."""
        args = [sys.executable, "-m", "mailintake"]
        if self.cfg.source is not None:
            args += ["--config", str(self.cfg.source)]
        args += ["sweep"] + ([] if full else ["--inbox-only"])
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=self.cfg.daemon.sweep_timeout_seconds)
        except subprocess.TimeoutExpired:
            log.error("sweep stopped after %ss; the messages it had not finished are taken next time",
                      self.cfg.daemon.sweep_timeout_seconds)
            return
        busy = "another sweep is running" in done.stderr
        for line in (done.stdout + done.stderr).splitlines():
            if line.strip() and "nothing new" not in line:
                (log.info if done.returncode == 0 or busy else log.warning)("%s", line.strip())

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
        from .backup import create, prune, verify

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
        d = self.cfg.daemon
        self.scheduler.add_job(self.poll, "interval", seconds=d.poll_seconds, id="poll", next_run_time=self.now())
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


def run_daemon(cfg: Config) -> None:
    Daemon(cfg).run()
