"""Run the PDF and image checks in a separate process, bounded in memory and
time. pikepdf inflates a flate stream completely (a 1 MB file used 1.9 GB) and
damaged files can loop; in a worker process such a file costs a restart, never
the sweep.

The worker is a fresh interpreter (``python -m mailintake.intake.sandbox``), not a
fork: it inherits no descriptor of the sweep (not the sweep lock, not the
registry, not the sweep's end of its pipes), and it asks the kernel to kill it
when the sweep dies (``PR_SET_PDEATHSIG``), so a killed sweep never leaves a
worker behind. Starting it costs about 0.1 s once per sweep (the imports of
the checks), and again only after a file killed it.

Memory: the sweep and its worker share one ceiling (``[limits] sweep_memory_mb``).
Before each file the worker may grow only to what the sweep leaves of it
(and at most ``check_memory_mb``); the limit is on address space (RLIMIT_AS),
which is never less than resident memory, so it binds.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from mailintake.base.config import Checks, Limits
from mailintake.base.faults import checkpoint
from mailintake.base.wording import Wording
from mailintake.intake.check import FileCheck, check_file, unreadable

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
MB = 1024 * 1024


class CheckTimeout(Exception):
    """The check did not answer within the time it was given."""


def memory_of(pid: int | str, field: str) -> int:
    """One ``Vm...`` line of /proc/PID/status (VmRSS, VmHWM, VmSize) in bytes; 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


@contextlib.contextmanager
def growth_limit(growth: int) -> Iterator[None]:
    """Let this process map at most ``growth`` bytes more than it maps now; a
    larger allocation raises MemoryError. The previous limit comes back after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_of("self", "VmSize") + max(growth, 0)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# --- the worker process ---------------------------------------------------------------------
def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies; if the parent died before the
    request was made, go now."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def serve(parent: int, jobs_fd: int, answers_fd: int) -> None:
    die_with_parent(parent)
    jobs, answers = Connection(jobs_fd, writable=False), Connection(answers_fd, readable=False)
    try:
        checks, wording_path = jobs.recv()
    except EOFError:
        return
    wording = Wording(Path(wording_path))
    while True:
        try:
            job = jobs.recv()
        except EOFError:
            return
        if job is None:
            return
        data, name, declared, ceiling_left, check_memory = job
        # Up to what the sweep leaves of the ceiling, and at most check_memory more.
        growth = min(ceiling_left - memory_of("self", "VmSize"), check_memory)
        checkpoint("in_check")
        try:
            with growth_limit(growth):
                result: Any = check_file(data, name, declared, checks, wording)
        except MemoryError:
            result = "memory"
        answers.send(result)


# --- the sweep's side -----------------------------------------------------------------------
class CheckWorker:
    """The sweep's handle on its one worker process."""

    def __init__(self, checks: Checks, limits: Limits, wording: Wording, wording_path: str):
        self.checks, self.limits, self.wording, self.wording_path = checks, limits, wording, wording_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._jobs: Connection | None = None
        self._answers: Connection | None = None
        self._peak = 0  # the highest resident memory of any worker that has ended

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def mapped(self) -> int:
        """Address space the live worker maps now (0 when there is none)."""
        return 0 if self._proc is None else memory_of(self._proc.pid, "VmSize")

    def peak(self) -> int:
        """The highest resident memory any worker of this sweep reached (bytes)."""
        live = 0 if self._proc is None else memory_of(self._proc.pid, "VmHWM")
        return max(self._peak, live)

    def _start(self) -> tuple[Connection, Connection]:
        jobs_r, jobs_w = os.pipe()
        answers_r, answers_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "mailintake.intake.sandbox", str(os.getpid()), str(jobs_r), str(answers_w)],
                pass_fds=(jobs_r, answers_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        finally:
            os.close(jobs_r)
            os.close(answers_w)
        self._jobs, self._answers = Connection(jobs_w, readable=False), Connection(answers_r, writable=False)
        self._jobs.send((self.checks, self.wording_path))
        return self._jobs, self._answers

    def _reap(self, *, kill: bool) -> None:
        """End the worker (at once, or after it has read its last job), noting
        its peak resident memory first."""
        # Not interrupted by the message's timer half-way: no worker left unreaped.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            self._end(kill)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _end(self, kill: bool) -> None:
        proc = self._proc
        for conn in (self._jobs, self._answers):
            if conn is not None:
                conn.close()
        self._proc, self._jobs, self._answers = None, None, None
        if proc is None:
            return
        deadline = time.monotonic() + (0 if kill else 2)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        if not pid:
            self._peak = max(self._peak, memory_of(proc.pid, "VmHWM"))
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            _pid, status, usage = os.wait4(proc.pid, 0)
        elif status != 0:
            # Gone by itself (a crash): only the kernel's count is left, which
            # also counts the sweep's memory at the fork, so it errs high.
            self._peak = max(self._peak, usage.ru_maxrss * 1024)
        proc.returncode = os.waitstatus_to_exitcode(status)

    def check(self, data: bytes, name: str, declared: str, seconds: float, ceiling_left: int) -> FileCheck:
        """Check one file in the worker within ``seconds``; raise CheckTimeout when
        it takes longer (the worker is stopped first)."""
        try:
            jobs, answers = (self._jobs, self._answers) if self._jobs and self._answers else self._start()
            jobs.send((data, name, declared, ceiling_left, self.limits.check_memory_bytes))
            if not answers.poll(seconds):
                self._reap(kill=True)
                raise CheckTimeout(f"the check took longer than {seconds:g} s")
            result = answers.recv()
        except (EOFError, OSError):
            self._reap(kill=True)
            return self.refused(data, name, declared, "the check ran out of memory or crashed")
        except BaseException:
            # Interrupted (the message's time is up): the answer would arrive out of turn.
            self._reap(kill=True)
            raise
        if result == "memory":
            self._reap(kill=True)
            return self.refused(
                data,
                name,
                declared,
                f"the check needed more memory than the sweep's ceiling ({self.limits.sweep_memory_bytes // MB} MB) leaves",
            )
        assert isinstance(result, FileCheck)
        return result

    def refused(self, data: bytes, name: str, declared: str, why: str) -> FileCheck:
        log.warning("%s: %s", name, why)
        return unreadable(data, name, declared, self.wording, why)

    def close(self) -> None:
        self._peak = self.peak()
        if self._jobs is not None:
            with contextlib.suppress(OSError):
                self._jobs.send(None)
        self._reap(kill=False)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
