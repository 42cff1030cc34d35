"""Where mail comes from: an IMAP server (imapclient) or a local Maildir.

A source lists what is not yet done in each folder with its receipt time
(INTERNALDATE, R1) and size, fetches raw bytes, and marks a message done only
when the caller says so (after the database commit). It also moves junk that
is not spam back to INBOX, moves spam to ``[mailbox] spam_folder`` (R22; never
expunged), and keeps copies of what we send.

The types a source deals in are ``envelope.py``; the IMAP source is ``imap.py``;
the Maildir source (the demo's, and an office's local delivery) is here.
"""

from __future__ import annotations

import logging
import mailbox
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from mailintake.base.config import Mailbox
from mailintake.base.faults import checkpoint
from mailintake.intake.envelope import (
    INBOX,
    Envelope,
    Folder,
    Quota,
    Source,
    SourceError,
    split_header,
)
from mailintake.intake.imap import ImapSource

log = logging.getLogger(__name__)


def open_source(cfg: Mailbox) -> Source:
    if cfg.kind == "imap":
        return ImapSource(cfg)
    return MaildirSource(cfg)


# --- Maildir ------------------------------------------------------------------
class MaildirSource:
    """A Maildir++ tree: the top directory is INBOX, ``.Name`` are folders.
    A message is marked done by moving it to the archive folder."""

    def __init__(self, cfg: Mailbox):
        self.cfg = cfg
        cfg.path.parent.mkdir(parents=True, exist_ok=True)
        self.root = mailbox.Maildir(str(cfg.path), factory=None, create=True)

    def _box(self, folder: str) -> mailbox.Maildir:
        if folder == INBOX:
            return self.root
        if folder not in self.root.list_folders():
            return self.root.add_folder(folder)
        return self.root.get_folder(folder)

    def folders(self, *, full: bool) -> list[Folder]:
        out: list[Folder] = []
        if full:
            skip = {n.lower() for n in self.cfg.skip_folders} | {self.cfg.archive_folder.lower(), "oversized"}
            skip.add(self.cfg.spam_folder.lower())
            junk = {n.lower() for n in self.cfg.junk_names}
            for name in sorted(self.root.list_folders()):
                if name.lower() in skip:
                    continue
                out.append(Folder(name, "junk" if name.lower() in junk else "other"))
            # Junk and other folders first: junk that is not spam moves to INBOX
            # and is taken in the same sweep.
            out.sort(key=lambda f: (f.role != "junk", f.name))
        out.append(Folder(INBOX, "inbox"))
        return out

    def _file(self, box: mailbox.Maildir, key: str) -> Path:
        return Path(box._path) / box._lookup(key)  # type: ignore[attr-defined]

    def pending(self, folder: str) -> list[Envelope]:
        box = self._box(folder)
        box._refresh()  # type: ignore[attr-defined]
        out = []
        for key in box.keys():
            try:
                path = self._file(box, key)
                st = path.stat()
                with open(path, "rb") as fh:
                    head = fh.read(256 * 1024)
            except (KeyError, FileNotFoundError):
                continue
            when = datetime.fromtimestamp(st.st_mtime, UTC)
            out.append(Envelope(folder, "maildir", key, when, st.st_size, split_header(head)))
        out.sort(key=lambda e: (e.internaldate, e.uid))
        return out

    def fetch(self, env: Envelope) -> bytes:
        box = self._box(env.folder)
        try:
            return self._file(box, env.uid).read_bytes()
        except (KeyError, FileNotFoundError):
            raise SourceError(f"message {env.uid} vanished from {env.folder}") from None

    def fetch_many(self, envs: list[Envelope]) -> Iterator[tuple[Envelope, bytes | Exception]]:
        for env in envs:
            try:
                yield env, self.fetch(env)
            except SourceError as exc:
                yield env, exc

    def _move(self, env: Envelope, target: mailbox.Maildir) -> None:
        box = self._box(env.folder)
        try:
            src = self._file(box, env.uid)
        except KeyError:
            return
        dest = Path(target._path) / "cur" / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        # rename keeps the mtime, which is this mailbox's INTERNALDATE.
        os.rename(src, dest)

    def mark_done(self, env: Envelope) -> None:
        self._move(env, self._box(self.cfg.archive_folder))

    def flush(self) -> None:
        checkpoint("after_flag")

    def move_to_inbox(self, env: Envelope) -> None:
        self._move(env, self.root)

    def move(self, env: Envelope, folder: str) -> None:
        self._move(env, self._box(folder))

    def append_sent_many(self, items: list[tuple[bytes, datetime]]) -> None:
        for raw, when in items:
            self.add(self.cfg.sent_folder or "Sent", raw, when)

    def add(self, folder: str, raw: bytes, when: datetime) -> str:
        """Deliver a message (used by ``demo`` and tests) with a receipt time."""
        box = self._box(folder)
        key = box.add(raw)
        os.utime(self._file(box, key), (when.timestamp(), when.timestamp()))
        return str(key)

    def quota(self) -> Quota | None:
        return None

    def close(self) -> None:
        return None
