"""Send what is queued: aiosmtplib to the configured SMTP server, or a local
Maildir when none is configured. Each attempt is recorded; temporary failures
retry with exponential backoff until ``give_up_hours``; permanent (5xx)
failures are final and recorded on the application. A message resent after a
crash keeps its Message-ID, so the recipient's client shows it once.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib

from .config import Config
from .faults import checkpoint
from .registry import Registry, to_iso
from .source import Source

log = logging.getLogger(__name__)


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class _Permanent(Exception):
    pass


class _Temporary(Exception):
    pass


def _backoff(cfg: Config, attempts: int) -> timedelta:
    seconds = min(cfg.smtp.retry_base_seconds * (2 ** max(attempts - 1, 0)), cfg.smtp.retry_max_seconds)
    return timedelta(seconds=seconds)


async def _send_all(cfg: Config, rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Exception | None]]:
    s = cfg.smtp
    port = s.port or {"ssl": 465, "starttls": 587, "none": 25}[s.security]
    client = aiosmtplib.SMTP(hostname=s.host, port=port, timeout=s.timeout_seconds,
                             use_tls=s.security == "ssl", start_tls=s.security == "starttls",
                             tls_context=ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
                             if s.security != "none" else None)
    results: list[tuple[dict[str, Any], Exception | None]] = []
    try:
        await client.connect()
        if s.username:
            await client.login(s.username, s.password)
    except aiosmtplib.SMTPResponseException as exc:
        err: Exception = (_Permanent if 500 <= exc.code < 600 and exc.code != 530 else _Temporary)(f"{exc.code} {exc.message}")
        return [(r, err) for r in rows]
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        return [(r, _Temporary(f"cannot reach SMTP {s.host}:{port}: {exc}")) for r in rows]
    try:
        for row in rows:
            try:
                errors, _ = await client.sendmail(row["sender"], [row["recipient"]], row["raw"])
                if errors:
                    code, text = next(iter(errors.values()))
                    raise aiosmtplib.SMTPResponseException(code, text)
                results.append((row, None))
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0] if exc.recipients else None
                code = refused.code if refused is not None else 450
                kind = _Permanent if 500 <= code < 600 else _Temporary
                results.append((row, kind(f"{code} {refused.message if refused else exc}")))
            except aiosmtplib.SMTPResponseException as exc:
                kind = _Permanent if 500 <= exc.code < 600 else _Temporary
                results.append((row, kind(f"{exc.code} {exc.message}")))
                if exc.code in (421,):
                    break
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                results.append((row, _Temporary(f"{type(exc).__name__}: {exc}")))
                break
    finally:
        try:
            await client.quit()
        except Exception:  # noqa: BLE001 - the server may already have hung up
            client.close()
    done = {id(r) for r, _ in results}
    results.extend((r, _Temporary("not attempted: connection lost")) for r in rows if id(r) not in done)
    return results


def _write_local(cfg: Config, rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Exception | None]]:
    cfg.smtp.outgoing_path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(cfg.smtp.outgoing_path), factory=None, create=True)
    out: list[tuple[dict[str, Any], Exception | None]] = []
    for row in rows:
        try:
            box.add(row["raw"])
            out.append((row, None))
        except OSError as exc:
            out.append((row, _Temporary(f"cannot write {cfg.smtp.outgoing_path}: {exc}")))
    return out


def drain(cfg: Config, reg: Registry, now: datetime, source: Source | None = None, limit: int = 500) -> DrainResult:
    """Send every queued message that is due at ``now``."""
    result = DrainResult()
    # Compare as instants in Python: stored times may carry different offsets.
    pending = reg.all("SELECT * FROM outbox WHERE status = 'pending' ORDER BY id")
    rows = [r for r in pending if datetime.fromisoformat(r["next_attempt_at"]) <= now][:limit]
    if not rows:
        _copy_to_sent(reg, source, now)
        return result
    sent = _write_local(cfg, rows) if not cfg.smtp.host else asyncio.run(_send_all(cfg, rows))
    checkpoint("after_smtp")
    # One transaction for the whole batch: a crash before it commits means the
    # batch is sent again with the same Message-IDs (at least once, never lost).
    with reg.transaction():
        _record(cfg, reg, sent, now, result)
    from .lifecycle import settle_deliveries

    settle_deliveries(reg, now)
    _copy_to_sent(reg, source, now)
    return result


def _record(cfg: Config, reg: Registry, sent: list[tuple[dict[str, Any], Exception | None]], now: datetime,
            result: DrainResult) -> None:
    for row, err in sent:
        attempts = row["attempts"] + 1
        if err is None:
            reg.update("outbox", "id", row["id"], {"status": "sent", "attempts": attempts, "sent_at": to_iso(now),
                                                   "last_error": None})
            if row["transaction_id"]:
                if row["kind"] == "ack":
                    reg.conn.execute("UPDATE applications SET acknowledged_at = ? WHERE transaction_id = ? "
                                     "AND acknowledged_at IS NULL", (to_iso(now), row["transaction_id"]))
                reg.add_event(at=now, actor="system", action=f"{row['kind']}_sent", transaction_id=row["transaction_id"],
                              detail={"to": row["recipient"], "message_id": row["message_id"]})
            result.sent += 1
            continue
        created = datetime.fromisoformat(row["created_at"])
        give_up = now - created >= timedelta(hours=cfg.smtp.give_up_hours)
        if isinstance(err, _Permanent) or give_up:
            reason = str(err) if isinstance(err, _Permanent) else f"gave up after {cfg.smtp.give_up_hours:g} h: {err}"
            reg.update("outbox", "id", row["id"], {"status": "failed", "attempts": attempts, "last_error": reason[:500]})
            reg.add_event(at=now, actor="system", action=f"{row['kind']}_failed", transaction_id=row["transaction_id"],
                          detail={"to": row["recipient"], "error": reason[:300]})
            result.failed += 1
        else:
            reg.update("outbox", "id", row["id"], {"attempts": attempts, "last_error": str(err)[:500],
                                                   "next_attempt_at": to_iso(now + _backoff(cfg, attempts))})
            result.retried += 1
        result.errors.append(f"{row['message_id']}: {err}")


def _copy_to_sent(reg: Registry, source: Source | None, now: datetime) -> None:
    """Keep a copy of what we sent in the mailbox's Sent folder (after sending)."""
    if source is None:
        return
    rows = reg.all("SELECT id, raw, sent_at FROM outbox WHERE status IN ('sent', 'bounced') AND copied_to_sent = 0 "
                   "ORDER BY id LIMIT 200")
    for i in range(0, len(rows), 50):
        batch = rows[i:i + 50]
        try:
            source.append_sent_many([(r["raw"], datetime.fromisoformat(r["sent_at"]) if r["sent_at"] else now) for r in batch])
        except Exception as exc:  # noqa: BLE001 - a copy failure must not stop sending; retried next time
            log.warning("could not copy outgoing mail to Sent: %s", exc)
            return
        with reg.transaction():
            reg.conn.executemany("UPDATE outbox SET copied_to_sent = 1 WHERE id = ?", [(r["id"],) for r in batch])
