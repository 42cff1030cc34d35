"""IMAP through imapclient: SSL, STARTTLS, or plain on loopback; SPECIAL-USE
folders; batched fetches; flags set only when the caller says a message is done
(after the database commit); spam moved to the quarantine folder (never
expunged), junk moved back to INBOX, copies of
what we send appended to Sent.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from mailintake.base.config import Mailbox
from mailintake.base.faults import checkpoint
from mailintake.intake.envelope import INBOX, Envelope, Folder, Quota, SourceError

log = logging.getLogger(__name__)


# --- IMAP -----------------------------------------------------------------------
class ImapSource:
    """IMAP through imapclient. The connection is made in ``_connect`` only."""

    BATCH = 200
    BATCH_COUNT = 25
    BATCH_BYTES = 16 * 1024 * 1024

    def __init__(self, cfg: Mailbox):
        self.cfg = cfg
        self._client: Any = None
        self._selected: str | None = None
        self._uidvalidity: str = ""
        self._folders_made: set[str] = set()
        self._sent: str | None = None
        self._done: list[int] = []

    def _connect(self) -> Any:
        from imapclient import IMAPClient
        from imapclient.exceptions import IMAPClientError, LoginError

        port = self.cfg.port or (993 if self.cfg.security == "ssl" else 143)
        try:
            ctx = ssl.create_default_context(cafile=str(self.cfg.ca_file) if self.cfg.ca_file else None)
            client = IMAPClient(
                self.cfg.host, port=port, ssl=self.cfg.security == "ssl", ssl_context=ctx, timeout=self.cfg.timeout_seconds
            )
            if self.cfg.security == "starttls":
                client.starttls(ctx)
            # Keep the server's offsets: naive local times would shift receipt times.
            client.normalise_times = False
            client.login(self.cfg.username, self.cfg.password)
        except LoginError:
            raise SourceError(f"IMAP login refused for {self.cfg.username} at {self.cfg.host}:{port}") from None
        except (OSError, IMAPClientError, ssl.SSLError) as exc:
            if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
                why = getattr(exc, "verify_message", None) or "verify failed"
                raise SourceError(
                    f"IMAP server {self.cfg.host}:{port}: certificate not trusted ({why}); set [mailbox] ca_file for a private CA"
                ) from None
            raise SourceError(f"cannot reach IMAP server {self.cfg.host}:{port}: {exc}") from None
        return client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _select(self, folder: str) -> None:
        if self._selected != folder:
            self.flush()
            info = self.client.select_folder(folder)
            self._uidvalidity = str(info.get(b"UIDVALIDITY", ""))
            self._selected = folder

    def _ensure_folder(self, folder: str) -> None:
        if folder not in self._folders_made and not self.client.folder_exists(folder):
            self.client.create_folder(folder)
        self._folders_made.add(folder)

    def folders(self, *, full: bool) -> list[Folder]:
        out: list[Folder] = []
        if full:
            junk_name = self.client.find_special_folder(b"\\Junk")
            skip = {n.lower() for n in self.cfg.skip_folders} | {self.cfg.archive_folder.lower(), "oversized", "inbox"}
            skip.add(self.cfg.spam_folder.lower())
            junk = {n.lower() for n in self.cfg.junk_names}
            for flags, _delim, name in self.client.list_folders():
                flagset = {f.lower() for f in flags}
                if flagset & {b"\\noselect", b"\\nonexistent", b"\\sent", b"\\drafts", b"\\trash"}:
                    continue
                if name.lower() in skip:
                    continue
                is_junk = b"\\junk" in flagset or name == junk_name or (junk_name is None and name.lower() in junk)
                out.append(Folder(name, "junk" if is_junk else "other"))
            out.sort(key=lambda f: (f.role != "junk", f.name))
        out.append(Folder(INBOX, "inbox"))
        return out

    def pending(self, folder: str) -> list[Envelope]:
        self._select(folder)
        uids = sorted(self.client.search(["NOT", "DELETED", "UNKEYWORD", self.cfg.done_keyword]))
        out: list[Envelope] = []
        for start in range(0, len(uids), self.BATCH):
            data = self.client.fetch(uids[start : start + self.BATCH], ["INTERNALDATE", "RFC822.SIZE", "BODY.PEEK[HEADER]"])
            for uid, item in data.items():
                when = item.get(b"INTERNALDATE")
                if when is None:
                    continue
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                out.append(
                    Envelope(
                        folder,
                        self._uidvalidity,
                        str(uid),
                        when,
                        int(item.get(b"RFC822.SIZE", 0)),
                        bytes(item.get(b"BODY[HEADER]", b"")),
                    )
                )
        out.sort(key=lambda e: (e.internaldate, int(e.uid)))
        return out

    def fetch(self, env: Envelope) -> bytes:
        [(_, body)] = self._fetch_batch([env])
        if isinstance(body, Exception):
            raise body
        return body

    def fetch_many(self, envs: list[Envelope]) -> Iterator[tuple[Envelope, bytes | Exception]]:
        """Bodies in batches of at most BATCH_BYTES (one FETCH per batch), so a
        sweep pays one round trip per batch, not per message."""
        batch: list[Envelope] = []
        size = 0
        for env in envs:
            if batch and (size + env.size > self.BATCH_BYTES or len(batch) >= self.BATCH_COUNT):
                yield from self._fetch_batch(batch)
                batch, size = [], 0
            batch.append(env)
            size += env.size
        if batch:
            yield from self._fetch_batch(batch)

    def _fetch_batch(self, batch: list[Envelope]) -> Iterator[tuple[Envelope, bytes | Exception]]:
        self._select(batch[0].folder)
        self.flush()
        if self._uidvalidity != batch[0].uidvalidity:
            err = SourceError(f"{batch[0].folder} was recreated (UIDVALIDITY changed); will list it again")
            for env in batch:
                yield env, err
            return
        data = self.client.fetch([int(e.uid) for e in batch], ["BODY.PEEK[]"])
        for env in batch:
            item = data.pop(int(env.uid), None)
            if not item or b"BODY[]" not in item:
                yield env, SourceError(f"message {env.uid} vanished from {env.folder}")
            else:
                yield env, bytes(item[b"BODY[]"])

    def mark_done(self, env: Envelope) -> None:
        """Mark done (after the caller's commit). The STORE or MOVE is sent in
        batches by ``flush``: a crash before it only means the next sweep finds
        the message registered and marks it then."""
        self._select(env.folder)
        if self._uidvalidity == env.uidvalidity:
            self._done.append(int(env.uid))

    def flush(self) -> None:
        if not self._done or self._client is None:
            return
        uids, self._done = self._done, []
        if self.cfg.done_action == "move":
            self._ensure_folder(self.cfg.archive_folder)
            self.client.move(uids, self.cfg.archive_folder)
        else:
            self.client.add_flags(uids, [self.cfg.done_keyword.encode()], silent=True)
        checkpoint("after_flag")

    def move_to_inbox(self, env: Envelope) -> None:
        self.move(env, INBOX)

    def move(self, env: Envelope, folder: str) -> None:
        self._select(env.folder)
        if folder != INBOX:
            self._ensure_folder(folder)
        self.client.move([int(env.uid)], folder)

    def _sent_folder(self) -> str:
        if self._sent is None:
            self._sent = self.client.find_special_folder(b"\\Sent") or self.cfg.sent_folder
            self._ensure_folder(self._sent)
        return self._sent

    def append_sent_many(self, items: list[tuple[bytes, datetime]]) -> None:
        """One MULTIAPPEND when the server offers it (RFC 3502)."""
        folder = self._sent_folder()
        if len(items) > 1 and self.client.has_capability("MULTIAPPEND"):
            self.client.multiappend(folder, [{"msg": raw, "flags": [b"\\Seen"], "date": when} for raw, when in items])
            return
        for raw, when in items:
            self.client.append(folder, raw, flags=[b"\\Seen"], msg_time=when)

    def quota(self) -> Quota | None:
        if not self.client.has_capability("QUOTA"):
            return None
        try:
            _roots, quotas = self.client.get_quota_root(INBOX)
        except Exception:  # noqa: BLE001 - a server without a quota root is normal
            return None
        for q in quotas:
            if q.resource.upper() == "STORAGE" and q.limit:
                return Quota(int(q.usage), int(q.limit))
        return None

    def idle_wait(self, seconds: int) -> bool:
        """Wait in IDLE on INBOX up to ``seconds``; True when new mail arrived."""
        if not self.client.has_capability("IDLE"):
            return False
        self._select(INBOX)
        self.client.idle()
        try:
            responses = self.client.idle_check(timeout=seconds)
        finally:
            self.client.idle_done()
        return any(r[1] in (b"EXISTS", b"RECENT") for r in responses if isinstance(r, tuple) and len(r) > 1)

    def close(self) -> None:
        if self._client is not None:
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - unflagged mail is finished by the next sweep
                log.warning("could not mark messages done: %s", exc)
            try:
                self._client.logout()
            except Exception as exc:  # noqa: BLE001 - closing a dead connection
                log.debug("logout: %s", exc)
            self._client = self._selected = self._sent = None
            self._folders_made.clear()
