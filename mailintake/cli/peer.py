"""The clerks' door (issue 11): commands from accounts that do not own the data
reach it through a Unix socket, and the kernel says who they are.

``mailintake serve`` (and ``run``, which starts it) listens on ``[daemon]
socket``. A clerk's CLI that cannot open the data itself connects and passes
the command line with its own stdin, stdout, stderr and working directory
(SCM_RIGHTS), so prompts, colours, progress bars, pipes and relative paths
behave as if the command ran in the clerk's shell. The server reads the peer's
uid with ``SO_PEERCRED``, forks a child that acts as that login
(``base.identity``) with the daemon's own config, runs the same command, and
sends back its exit code. The server never forks from a process with threads:
``run`` starts it as a process of its own.

Files a command opens by name are opened by the service account: output the
clerk wants to keep goes to stdout (``> file``), as every export allows.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import json
import logging
import os
import signal
import socket
import stat
import struct
import sys
from pathlib import Path
from typing import Any

import click

from mailintake.base import identity
from mailintake.base.errors import ConfigError, UserError
from mailintake.cli import common

log = logging.getLogger("mailintake.cli.peer")

MAX_REQUEST = 1 << 16


# --- the server ------------------------------------------------------------------------------
def listen(path: Path, group: str) -> socket.socket:
    """The listening socket at ``path``: its directory made if missing (0755,
    so clerks can reach the socket), a stale socket file replaced, mode 0666,
    or 0660 owned by ``group``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    with contextlib.suppress(PermissionError):
        if path.parent.stat().st_uid == os.geteuid():
            os.chmod(path.parent, 0o755)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise ConfigError(f"[daemon] socket {path} exists and is not a socket: remove it or choose another path")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # a socket left by a daemon that died
        else:
            raise ConfigError(f"[daemon] socket {path}: another mailintake serve is already listening there")
        finally:
            probe.close()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise ConfigError(f"[daemon] socket_group {group!r}: no such group") from None
        os.chown(path, -1, gid)
        os.chmod(path, 0o660)
    else:
        os.chmod(path, 0o666)
    server.listen(32)
    return server


def serve_forever(config_path: Path, path: Path, group: str) -> None:
    """Accept commands until SIGTERM or SIGINT; each runs in a child of its own."""
    from mailintake.cli import cli  # every command's module loaded once, so each child starts warm

    cli.commands  # noqa: B018 - loads them
    server = listen(path, group)
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        server.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serving commands on %s", path)
    try:
        while not stopping:
            try:
                conn, _ = server.accept()
            except OSError as exc:
                if stopping or exc.errno in (errno.EBADF, errno.EINVAL):
                    break
                raise
            pid = os.fork()
            if pid == 0:  # the child: one command, then gone
                server.close()
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os._exit(serve_one(conn, config_path))
            conn.close()
            _reap()
    finally:
        with contextlib.suppress(OSError):
            server.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        log.info("stopped serving on %s", path)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def peer_uid(conn: socket.socket) -> int:
    """The connecting process's uid, as the kernel saw it at connect()."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def serve_one(conn: socket.socket, config_path: Path) -> int:
    """In the forked child: take the caller's streams and directory, act as the
    caller's login, run the command, answer with its exit code."""
    code = 70  # EX_SOFTWARE: said only if what follows fails before the command
    try:
        uid = peer_uid(conn)
        message, fds, _flags, _addr = socket.recv_fds(conn, MAX_REQUEST, 4)
        if len(fds) != 4:
            return code
        argv = json.loads(message)["argv"]
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            return code
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        os.fchdir(fds[3])
        for fd in fds:
            os.close(fd)
        who = identity.Identity(identity.login_of(uid), uid, "socket", owner=uid == os.geteuid())
        code = run_as(who, config_path, argv)
    except Exception:
        log.exception("a served command failed")
    finally:
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"exit": code}).encode())
            conn.close()
    return code


def run_as(who: identity.Identity, config_path: Path, argv: list[str]) -> int:
    """Run the command line ``argv`` as ``who`` with the daemon's config."""
    from mailintake.cli import cli

    common.SERVED_CONFIG = config_path
    try:
        with identity.acting(who):
            cli.main(args=argv, prog_name="mailintake", standalone_mode=True)
    except SystemExit as end:
        return end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    return 0


@click.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Serve the commands of clerks, approvers and finance officers on the
    Unix socket ([daemon] socket), each as the login the kernel names; stop
    with SIGTERM or Ctrl-C.

    Example: mailintake --config /etc/mailintake/config.toml serve
    """
    cfg = common.config(ctx)
    if cfg.daemon.socket is None or cfg.source is None:
        raise UserError("no socket to serve: set [daemon] socket in config.toml")
    from mailintake.ops.daemon import start_private

    start_private(cfg)
    serve_forever(cfg.source, cfg.daemon.socket, cfg.daemon.socket_group)
