"""Who is acting (issue 11, R27): an identity the kernel vouches for, never one
a caller names.

There are two ways in, and no third:

- **the owner**: the account that owns the data directory (the service
  account, or the one clerk of a single-user office who ran ``init`` or
  ``demo``) acts on the files directly. The files are theirs, so they hold every
  role: a role cannot stop the account that can open the database.
- **through the daemon's socket**: anyone else runs the same command, and the
  CLI hands it to ``mailintake serve`` over a Unix socket. The server learns the
  caller's uid from the kernel (``SO_PEERCRED``, as PostgreSQL's peer
  authentication does), runs the command as the service account, and the roles
  are the ones ``[users]`` gives that login in the daemon's own config.

No environment variable, ``--config`` or flag changes the identity. The one
exception is for the owner of a deployment marked ``[deployment] mode = "test"``
(the test suite and ``demo``): ``MAILINTAKE_USER`` lets them play a declared
user, with that user's roles only. The owner holds every role and the audit key
already, so this lends nobody a right they did not have.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Identity:
    login: str
    uid: int
    via: str  # "owner" | "socket" | "test" | "process"
    owner: bool  # holds every role: the data directory is theirs

    def describe(self) -> str:
        how = {"owner": "owner of the data", "socket": "through the daemon", "test": "test deployment"}.get(self.via, self.via)
        return f"{self.login} ({how})"


_acting: ContextVar[Identity | None] = ContextVar("mailintake_identity", default=None)


def login_of(uid: int) -> str:
    """The login name of ``uid``, or ``uid N`` for an account with no name."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def this_process() -> Identity:
    """The account this process runs as: the identity of the daemon's own work
    and of code that acts outside any command."""
    uid = os.geteuid()
    return Identity(login_of(uid), uid, "process", owner=True)


def current() -> Identity:
    """The identity the running command acts as."""
    return _acting.get() or this_process()


def become(who: Identity) -> None:
    """Act as ``who`` for the rest of the enclosing ``scope``."""
    _acting.set(who)


@contextmanager
def scope() -> Iterator[None]:
    """One command's span: an identity it settles (``become``) ends with it;
    one set before it (a served command's) holds inside it."""
    token = _acting.set(_acting.get())
    try:
        yield
    finally:
        _acting.reset(token)


@contextmanager
def acting(who: Identity) -> Iterator[Identity]:
    """Act as ``who`` until the block ends (one command)."""
    token = _acting.set(who)
    try:
        yield who
    finally:
        _acting.reset(token)


def owns(storage: Path) -> bool:
    """Whether this process's account owns ``storage`` (the data directory),
    or, when it does not exist yet, the nearest directory above it: whoever
    creates the data owns it."""
    uid = os.geteuid()
    for path in (storage, *storage.parents):
        try:
            return path.stat().st_uid == uid
        except FileNotFoundError:
            continue
        except PermissionError:
            return False
    return False


def owner_of(storage: Path) -> str:
    """The login that owns ``storage``, for messages."""
    try:
        return login_of(storage.stat().st_uid)
    except OSError:
        return "its owner"
