"""Run the PDF and image checks in a separate process with a memory limit and a
timeout. pikepdf inflates a flate stream completely (a 1 MB file used 1.9 GB)
and damaged files can loop; in a worker process such a file costs a restart,
never the sweep.

One worker serves a whole sweep (fork keeps the imports warm); a file that runs
out of time or memory kills only the worker, which is started again for the
next file.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import resource
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .check import FileCheck, Wording, check_file
from .config import Checks, Limits

log = logging.getLogger(__name__)


def _mapped_bytes() -> int:
    """Address space this process already maps (libraries, arenas)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _serve(conn: Connection, checks: Checks, wording_path: str, memory: int) -> None:
    # The limit is headroom above what the forked worker already maps: the
    # parent's libraries reserve more address space on machines with more cores.
    limit = _mapped_bytes() + memory
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    wording = Wording(Path(wording_path))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        data, name, declared = job
        try:
            result: Any = check_file(data, name, declared, checks, wording)
        except MemoryError:
            result = "memory"
        conn.send(result)


class CheckWorker:
    def __init__(self, checks: Checks, limits: Limits, wording: Wording, wording_path: str):
        self.checks, self.limits, self.wording, self.wording_path = checks, limits, wording, wording_path
        self._proc: Any = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.checks, self.wording_path,
                                                      self.limits.check_memory_bytes), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        return parent

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None

    def check(self, data: bytes, name: str, declared: str) -> FileCheck:
        conn = self._conn or self._start()
        try:
            conn.send((data, name, declared))
            if not conn.poll(self.limits.check_seconds):
                self._kill()
                return self._refused(data, name, declared, f"the check took longer than {self.limits.check_seconds:g} s")
            result = conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self._kill()
            return self._refused(data, name, declared, "the check ran out of memory or crashed")
        if result == "memory":
            self._kill()
            return self._refused(data, name, declared, "the check ran out of memory")
        assert isinstance(result, FileCheck)
        return result

    def _refused(self, data: bytes, name: str, declared: str, why: str) -> FileCheck:
        log.warning("%s: %s", name, why)
        from .check import sniff

        mime, kind = sniff(data)
        return FileCheck(name, len(data), declared, mime, kind, False, None,
                         (self.wording.problem("unreadable", name=name),), {"error": why})

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
        self._kill()
