"""The client side of the clerks' door (``peer``): a command this account
cannot run itself goes whole, with this shell's stdin, stdout, stderr and
working directory, to the daemon's Unix socket, and its exit code comes back."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from mailintake.base.errors import UserError

DEFAULT_SOCKET = Path("/run/mailintake/mailintake.sock")


def socket_path(configured: Path | None) -> Path:
    """Where the daemon listens: ``$MAILINTAKE_SOCKET`` (it chooses a door, not
    an identity), else ``[daemon] socket`` when the config could be read, else
    the default."""
    named = os.environ.get("MAILINTAKE_SOCKET")
    return Path(named) if named else configured or DEFAULT_SOCKET


def forward(path: Path, argv: list[str], why: str) -> int:
    """Run ``argv`` through the daemon at ``path``; its exit code. ``why`` says
    why this account cannot act itself, for the line said when no daemon answers."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        raise UserError(
            f"{why}, and no daemon answers on {path}: start it (mailintake run, or serve), "
            "or run the command as the account that owns the data"
        ) from None
    except PermissionError:
        raise UserError(f"{why}, and {path} does not let this account in: ask the admin for [daemon] socket_group") from None
    with conn:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            request = json.dumps({"argv": argv}).encode()
            socket.send_fds(conn, [request], [0, 1, 2, cwd])
        finally:
            os.close(cwd)
        reply = b""
        while chunk := conn.recv(4096):
            reply += chunk
    try:
        return int(json.loads(reply)["exit"])
    except (ValueError, KeyError, TypeError):
        raise UserError(f"the daemon on {path} ended the command without an answer (see its log)") from None
