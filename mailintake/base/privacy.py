"""Private by default (issue 11): the registry holds ID-card scans, national ID
numbers and permit passwords, so what mailintake writes is for its owner alone.

Every process sets umask 077 before it creates anything (``private_umask``), so
directories are 0700 and files 0600 whatever code makes them; the few places
that create files themselves also pass those modes (``DIR_MODE``, ``FILE_MODE``).
A data directory or database made earlier with looser modes is tightened when it
is next opened (``tighten``); the daemon instead refuses to start on one that
others can read or write (``refuse_open_storage``), naming the path and the fix.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mailintake.base.errors import ConfigError

log = logging.getLogger("mailintake.base.privacy")

UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
OPEN_BITS = 0o077  # group and other: any of them set means another account may look in


def set_private_umask() -> int:
    """Umask 077 for the rest of this process; the previous umask."""
    return os.umask(UMASK)


@contextmanager
def private_umask() -> Iterator[None]:
    """Umask 077 while a command runs, the previous one after: a CLI process
    ends with its command, and a test that invokes the CLI in-process keeps its
    own umask for the servers it starts."""
    before = set_private_umask()
    try:
        yield
    finally:
        os.umask(before)


def tighten(path: Path) -> None:
    """Take the group and other bits off ``path`` (a directory or file this
    process owns) if it has any. One we do not own, and so cannot change, is
    said in a warning rather than left quietly open."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if not stat.S_IMODE(st.st_mode) & OPEN_BITS:
        return
    private = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
    try:
        os.chmod(path, stat.S_IMODE(st.st_mode) & private)
    except PermissionError:
        log.warning("%s is open to other users (mode %04o) and not ours to change: %s", path, stat.S_IMODE(st.st_mode), fix(path))


def tighten_tree(root: Path) -> None:
    """``tighten`` ``root`` and everything under it (a backup, a restored store)."""
    tighten(root)
    for path in root.rglob("*"):
        if not path.is_symlink():
            tighten(path)


def fix(path: Path) -> str:
    """The command that makes ``path`` private."""
    return f"chmod {'700' if path.is_dir() else '600'} {path}"


def openness(path: Path) -> str | None:
    """How others may use ``path`` ("readable by others", "writable by others",
    ...), or None when it is private or absent."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if not mode & OPEN_BITS:
        return None
    ways = [w for w, bits in (("readable", 0o044), ("writable", 0o022)) if mode & bits] or ["open"]
    return f"{' and '.join(ways)} by others (mode {mode:04o})"


def refuse_open_storage(storage: Path, *, key: str = "[storage] path") -> None:
    """The daemon's start-up check: a ``ConfigError`` (exit 2) naming the first
    of the data directory, its database (with -wal and -shm) and the permit key
    that other accounts can read or write, and the command that fixes it."""
    names = ("", "mailintake.db", "mailintake.db-wal", "mailintake.db-shm", "permit.key")
    for path in (storage / name if name else storage for name in names):
        open_to = openness(path)
        if open_to is not None:
            raise ConfigError(f"{key} {path} is {open_to}: {fix(path)}")


def refuse_open_config(path: Path | None) -> None:
    """The daemon's check of its config.toml, which says who may do what
    (``[users]``) and holds the mail passwords: a ``ConfigError`` when another
    account could write it (anyone but root or the account the daemon runs as
    owning it, or a group or other write bit), or anyone could read it (the
    other bits; a group the admin chose may read it)."""
    if path is None:
        return
    st = path.stat()
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid not in (0, os.geteuid()):
        raise ConfigError(f"{path} belongs to uid {st.st_uid}, who could rewrite [users]: chown root {path}")
    if mode & 0o022:
        raise ConfigError(f"{path} is writable by others (mode {mode:04o}), who could rewrite [users]: chmod go-w {path}")
    if mode & 0o004:
        raise ConfigError(f"{path} is readable by every account (mode {mode:04o}) and holds the mail passwords: chmod o-r {path}")
