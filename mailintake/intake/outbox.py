"""Send what is queued: aiosmtplib to the configured SMTP server, or a local
Maildir when none is configured. Each attempt is recorded; temporary failures
retry with exponential backoff until ``give_up_hours``; permanent (5xx)
failures are final and recorded on the application. A message resent after a
crash keeps its Message-ID, so the recipient's client shows it once.

Mail queued to an address blocked after a hard bounce is kept as ``blocked``
with the reason, never sent. What a bounce or a read receipt does to the mail
it reports on is ``intake.reported``. The SQL is ``base.data.outbox``.

Mail that carries a secret (the permit password, ``SECRET_KINDS``) is sealed
in the outbox (``base.sealed``) and opened only here, in memory, to send it:
by the SMS gateway command when it has a number (falling back to email when
the command fails), else by SMTP, never to the local Maildir nor to Sent.
Once it is sent (or given up) its body leaves the row and its key is shredded.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiosmtplib

from mailintake.base.config import Config
from mailintake.base.data import outbox as table
from mailintake.base.data.db import Registry
from mailintake.base.data.records import OutgoingMail
from mailintake.base.deployment import open_registry
from mailintake.base.faults import checkpoint
from mailintake.base.sealed import secrets_dir, shred, unseal
from mailintake.desk.reactions import ACCEPTED, Happened, react
from mailintake.intake.source import Source, SourceError, open_source

log = logging.getLogger(__name__)


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    errors: list[str] = field(default_factory=list)


class _Permanent(Exception):
    pass


class _Temporary(Exception):
    pass


def _backoff(cfg: Config, attempts: int) -> timedelta:
    seconds = min(cfg.smtp.retry_base_seconds * (2 ** max(attempts - 1, 0)), cfg.smtp.retry_max_seconds)
    return timedelta(seconds=seconds)


Attempt = tuple[OutgoingMail, Exception | None]


async def _send_all(cfg: Config, mails: list[OutgoingMail]) -> list[Attempt]:
    s = cfg.smtp
    port = s.port or {"ssl": 465, "starttls": 587, "none": 25}[s.security]
    client = aiosmtplib.SMTP(
        hostname=s.host,
        port=port,
        timeout=s.timeout_seconds,
        use_tls=s.security == "ssl",
        start_tls=s.security == "starttls",
        tls_context=ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None) if s.security != "none" else None,
    )
    results: list[Attempt] = []
    try:
        await client.connect()
        if s.username:
            await client.login(s.username, s.password)
    except aiosmtplib.SMTPResponseException as exc:
        err: Exception = (_Permanent if 500 <= exc.code < 600 and exc.code != 530 else _Temporary)(f"{exc.code} {exc.message}")
        return [(m, err) for m in mails]
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        return [(m, _Temporary(f"cannot reach SMTP {s.host}:{port}: {exc}")) for m in mails]
    try:
        for mail in mails:
            try:
                errors, _ = await client.sendmail(mail.sender, [mail.recipient], mail.raw)
                if errors:
                    code, text = next(iter(errors.values()))
                    raise aiosmtplib.SMTPResponseException(code, text)
                results.append((mail, None))
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0] if exc.recipients else None
                code = refused.code if refused is not None else 450
                kind = _Permanent if 500 <= code < 600 else _Temporary
                results.append((mail, kind(f"{code} {refused.message if refused else exc}")))
            except aiosmtplib.SMTPResponseException as exc:
                kind = _Permanent if 500 <= exc.code < 600 else _Temporary
                results.append((mail, kind(f"{exc.code} {exc.message}")))
                if exc.code in (421,):
                    break
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                results.append((mail, _Temporary(f"{type(exc).__name__}: {exc}")))
                break
    finally:
        try:
            await client.quit()
        except Exception:  # noqa: BLE001 - the server may already have hung up
            client.close()
    done = {m.id for m, _ in results}
    results.extend((m, _Temporary("not attempted: connection lost")) for m in mails if m.id not in done)
    return results


def _write_local(cfg: Config, mails: list[OutgoingMail]) -> list[Attempt]:
    cfg.smtp.outgoing_path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(cfg.smtp.outgoing_path), factory=None, create=True)
    out: list[Attempt] = []
    for mail in mails:
        if mail.kind in table.SECRET_KINDS:
            # A file on this host is no way to hand a password to anyone.
            out.append((mail, _Permanent("no [smtp] host: a password is never written to the local Maildir")))
            continue
        try:
            box.add(mail.raw)
            out.append((mail, None))
        except OSError as exc:
            out.append((mail, _Temporary(f"cannot write {cfg.smtp.outgoing_path}: {exc}")))
    return out


def send_queued(cfg: Config, now: datetime) -> DrainResult:
    """Send what is due at ``now`` and copy it to the mailbox's Sent folder
    (what ``mailintake outbox send`` and the daemon call between sweeps)."""
    reg = open_registry(cfg)
    try:
        try:
            source: Source | None = open_source(cfg.mailbox)
        except SourceError:
            source = None  # sent all the same; the copies to Sent wait for the next time
        try:
            return drain(cfg, reg, now, source)
        finally:
            if source is not None:
                source.close()
    finally:
        reg.close()


def drain(cfg: Config, reg: Registry, now: datetime, source: Source | None = None, limit: int = 500) -> DrainResult:
    """Send every queued message that is due at ``now``."""
    result = DrainResult()
    mails = _hold_blocked(cfg, reg, table.due(reg, now, limit), now, result)
    _shred_orphans(cfg, reg)
    if not mails:
        _copy_to_sent(reg, source, now)
        return result
    mails, sent, channels = _open_sealed(cfg, reg, mails)
    if mails:
        sent += _write_local(cfg, mails) if not cfg.smtp.host else asyncio.run(_send_all(cfg, mails))
    channels.update({m.id: "maildir" if not cfg.smtp.host else "smtp" for m in mails})
    checkpoint("after_smtp")
    # One transaction for the whole batch: a crash before it commits means the
    # batch is sent again with the same Message-IDs (at least once, never lost).
    with reg.transaction():
        _record(cfg, reg, sent, now, result, channels)
    for mail, _err in sent:  # after the commit: a crash before it sends again, with the key
        if mail.key_id and _is_final(reg, mail.id):
            shred(cfg.storage_path, mail.key_id)
    react(reg, Happened(ACCEPTED), now)
    _copy_to_sent(reg, source, now)
    return result


def _is_final(reg: Registry, mail_id: int) -> bool:
    row = table.get(reg, mail_id)
    return row is not None and row.status != "pending"


def _open_sealed(
    cfg: Config, reg: Registry, mails: list[OutgoingMail]
) -> tuple[list[OutgoingMail], list[Attempt], dict[int, str]]:
    """Sealed mail opened in memory: sent by SMS when it has a number and the
    gateway takes it, else left for the email batch; a key that is gone fails
    the mail (the permit is resent with a new password)."""
    batch: list[OutgoingMail] = []
    done: list[Attempt] = []
    channels: dict[int, str] = {}
    for mail in mails:
        if mail.key_id is None:
            batch.append(mail)
            continue
        raw = unseal(cfg.storage_path, mail.key_id, mail.raw)
        if raw is None and not _is_final(reg, mail.id):  # else another drain sent it meanwhile
            done.append((mail, _Permanent("its key is gone (a restored backup holds none): send it again with a new password")))
            continue
        if raw is None:
            continue
        if mail.sms_to and mail.sms_text and cfg.permits.sms_command:
            text = unseal(cfg.storage_path, mail.key_id, mail.sms_text)
            error = _send_sms(cfg, mail.sms_to, text) if text is not None else "its key is gone"
            if error is None:
                done.append((mail, None))
                channels[mail.id] = "sms"
                continue
            log.warning("SMS for %s to %s failed (%s): sending it by email instead", mail.message_id, _masked(mail.sms_to), error)
        batch.append(mail.replace(raw=raw))
    return batch, done, channels


def _send_sms(cfg: Config, phone: str, text: str | bytes) -> str | None:
    """Run ``[permits] sms_command`` with ``{phone}`` put in its arguments and
    the message on its standard input; None when it exits 0, else why not."""
    argv = [a.replace("{phone}", phone) for a in cfg.permits.sms_command]
    data = text if isinstance(text, bytes) else text.encode()
    try:
        done = subprocess.run(argv, input=data, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        return f"exit {done.returncode}: {done.stderr.decode('utf-8', 'replace').strip()[:200]}"
    return None


def _masked(phone: str) -> str:
    return phone[:3] + "*" * max(len(phone) - 5, 2) + phone[-2:]


def _shred_orphans(cfg: Config, reg: Registry, grace_seconds: float = 3600) -> None:
    """Keys no queued mail needs (left by a crash between the commit and the
    shredding); a key younger than ``grace_seconds`` may belong to mail whose
    transaction has not committed yet."""
    folder = secrets_dir(cfg.storage_path)
    if not folder.is_dir():
        return
    needed = table.pending_key_ids(reg)
    for path in folder.glob("*.key"):
        try:
            young = time.time() - path.stat().st_mtime < grace_seconds
        except FileNotFoundError:
            continue
        if path.stem not in needed and not young:
            shred(cfg.storage_path, path.stem)


def _record(
    cfg: Config, reg: Registry, sent: list[Attempt], now: datetime, result: DrainResult, channels: dict[int, str]
) -> None:
    for mail, err in sent:
        if err is None:
            channel = channels.get(mail.id)
            table.mark_sent(reg, mail, now, channel)
            if mail.transaction_id:
                if mail.kind == "ack":
                    table.mark_acknowledged(reg, mail.transaction_id, now)
                to = mail.sms_to if channel == "sms" and mail.sms_to else mail.recipient
                detail = {"to": to, "message_id": mail.message_id} | ({"channel": "sms"} if channel == "sms" else {})
                reg.add_event(
                    at=now,
                    actor="system",
                    action=f"{mail.kind}_sent",
                    transaction_id=mail.transaction_id,
                    detail=detail,
                )
            result.sent += 1
            continue
        give_up = now - datetime.fromisoformat(mail.created_at) >= timedelta(hours=cfg.smtp.give_up_hours)
        if isinstance(err, _Permanent) or give_up:
            reason = str(err) if isinstance(err, _Permanent) else f"gave up after {cfg.smtp.give_up_hours:g} h: {err}"
            table.mark_failed(reg, mail, reason)
            reg.add_event(
                at=now,
                actor="system",
                action=f"{mail.kind}_failed",
                transaction_id=mail.transaction_id,
                detail={"to": mail.recipient, "error": reason[:300]},
            )
            result.failed += 1
        else:
            table.mark_retry(reg, mail, str(err), now + _backoff(cfg, mail.attempts + 1))
            result.retried += 1
        result.errors.append(f"{mail.message_id}: {err}")


def _copy_to_sent(reg: Registry, source: Source | None, now: datetime) -> None:
    """Keep a copy of what we sent in the mailbox's Sent folder (after sending)."""
    if source is None:
        return
    mails = table.not_copied_to_sent(reg)
    for i in range(0, len(mails), 50):
        batch = mails[i : i + 50]
        try:
            source.append_sent_many([(m.raw, datetime.fromisoformat(m.sent_at) if m.sent_at else now) for m in batch])
        except Exception as exc:  # noqa: BLE001 - a copy failure must not stop sending; retried next time
            log.warning("could not copy outgoing mail to Sent: %s", exc)
            return
        with reg.transaction():
            table.mark_copied_to_sent(reg, [m.id for m in batch])


def _hold_blocked(
    cfg: Config, reg: Registry, mails: list[OutgoingMail], now: datetime, result: DrainResult
) -> list[OutgoingMail]:
    """Mail to a blocked address is not sent: it stays in the outbox as
    ``blocked`` with the reason, and the application's log says so."""
    out = []
    for mail in mails:
        block = reg.block_on(mail.recipient, now)
        if block is None:
            out.append(mail)
            continue
        reason = f"not sent: {mail.recipient} hard-bounced ({block['reason']}); blocked until {block['until']}"
        with reg.transaction():
            table.mark_blocked(reg, mail, reason)
            reg.add_event(
                at=now,
                actor="system",
                action=f"{mail.kind}_blocked",
                transaction_id=mail.transaction_id,
                detail={
                    "to": mail.recipient,
                    "message_id": mail.message_id,
                    "until": block["until"],
                    "reason": block["reason"][:300],
                },
            )
        if mail.key_id:
            shred(cfg.storage_path, mail.key_id)
        result.blocked += 1
    return out
