"""Send what is queued: aiosmtplib to the configured SMTP server, or a local
Maildir when none is configured. Each attempt is recorded; temporary failures
retry with exponential backoff until ``give_up_hours``; permanent (5xx)
failures are final and recorded on the application. A message resent after a
crash keeps its Message-ID, so the recipient's client shows it once.

What comes back about sent mail is recorded here too: a hard bounce (RFC 3464
``Action: failed``, status 5.x.x) blocks the address for ``bounce_block_days``
and mail queued to it is then kept as ``blocked`` with the reason, never sent;
delay and delivery notes are kept on the row; a read receipt (RFC 8098) marks it read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mailbox
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib

from mailintake.base.config import Config
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.faults import checkpoint
from mailintake.desk.reactions import ACCEPTED, BOUNCED, Happened, react
from mailintake.intake.classify import BOUNCE, READ_RECEIPT, Verdict
from mailintake.intake.delivery import FAILED
from mailintake.intake.source import Source

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
    rows = _hold_blocked(reg, rows, now, result)
    if not rows:
        _copy_to_sent(reg, source, now)
        return result
    sent = _write_local(cfg, rows) if not cfg.smtp.host else asyncio.run(_send_all(cfg, rows))
    checkpoint("after_smtp")
    # One transaction for the whole batch: a crash before it commits means the
    # batch is sent again with the same Message-IDs (at least once, never lost).
    with reg.transaction():
        _record(cfg, reg, sent, now, result)
    react(reg, Happened(ACCEPTED), now)
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


# --- what comes back: blocked addresses, bounces, notes, read receipts -------------------
def _hold_blocked(reg: Registry, rows: list[dict[str, Any]], now: datetime, result: DrainResult) -> list[dict[str, Any]]:
    """Mail to a blocked address is not sent: it stays in the outbox as
    ``blocked`` with the reason, and the application's log says so."""
    out = []
    for row in rows:
        block = reg.block_on(row["recipient"], now)
        if block is None:
            out.append(row)
            continue
        reason = f"not sent: {row['recipient']} hard-bounced ({block['reason']}); blocked until {block['until']}"
        with reg.transaction():
            reg.update("outbox", "id", row["id"], {"status": "blocked", "last_error": reason[:500]})
            reg.add_event(at=now, actor="system", action=f"{row['kind']}_blocked", transaction_id=row["transaction_id"],
                          detail={"to": row["recipient"], "message_id": row["message_id"], "until": block["until"],
                                  "reason": block["reason"][:300]})
        result.blocked += 1
    return out


def record_report(cfg: Config, reg: Registry, row: dict[str, Any], verdict: Verdict, now: datetime,
                  message_row: int) -> dict[str, Any]:
    """Apply a delivery report to the outgoing mail ``row`` it is about (inside
    the caller's transaction); returns what was done, for the audit event."""
    if verdict.kind == BOUNCE:
        return _bounced(cfg, reg, row, verdict, now, message_row)
    if verdict.kind == READ_RECEIPT:
        disposition = verdict.report.disposition if verdict.report else None
        if disposition == "displayed":
            if row["read_at"] is None:
                reg.update("outbox", "id", row["id"], {"read_at": to_iso(now)})
            return {"outcome": "read", "message_id": row["message_id"]}
        return _note(reg, row, f"disposition {disposition or 'unknown'}", None, "", now, message_row)
    about = verdict.report.about(row["recipient"]) if verdict.report else ()
    notes = [_note(reg, row, r.action, r.status, r.diagnostic, now, message_row) for r in about]
    return notes[-1] if notes else _note(reg, row, "unknown", None, verdict.reason, now, message_row)


def _note(reg: Registry, row: dict[str, Any], action: str, status: str | None, diagnostic: str, now: datetime,
          message_row: int) -> dict[str, Any]:
    """A delivery note on the outgoing mail (delayed, relayed, delivered, expanded)."""
    current = reg.one("SELECT delivery_notes FROM outbox WHERE id = ?", (row["id"],))
    notes = json.loads(current["delivery_notes"] if current else "[]")
    note = {"at": to_iso(now), "action": action, "status": status, "diagnostic": diagnostic[:200], "message": message_row}
    reg.update("outbox", "id", row["id"], {"delivery_notes": json.dumps(notes + [note], ensure_ascii=False)})
    return {"outcome": "delivery_note", "action": action, "status": status, "message_id": row["message_id"]}


def _bounced(cfg: Config, reg: Registry, row: dict[str, Any], verdict: Verdict, now: datetime,
             message_row: int) -> dict[str, Any]:
    """The mail did not arrive. A permanent failure (5.x.x) blocks the address;
    either way the acknowledgement no longer counts as given, and a permit's
    delivery goes back to the clerk."""
    about = verdict.report.about(row["recipient"]) if verdict.report else ()
    failed = [r for r in about if r.action == FAILED]
    hard = any(r.permanent for r in failed)
    detail = "; ".join(dict.fromkeys(r.describe() for r in failed)) or verdict.reason
    reg.update("outbox", "id", row["id"], {"status": "bounced",
                                           "last_error": f"{'hard' if hard else 'soft'} bounce: {detail}"[:500]})
    if row["kind"] == "ack" and row["transaction_id"]:
        reg.update("applications", "transaction_id", row["transaction_id"], {"acknowledged_at": None})
    out: dict[str, Any] = {"outcome": "hard_bounce" if hard else "soft_bounce", "message_id": row["message_id"]}
    if hard and cfg.smtp.bounce_block_days > 0:
        out["blocked_until"] = _block(cfg, reg, row, detail, now, message_row)
    react(reg, Happened(BOUNCED, row["transaction_id"], outbox_message_id=row["message_id"]), now)
    return out


def _block(cfg: Config, reg: Registry, row: dict[str, Any], reason: str, now: datetime, message_row: int) -> str:
    """Block the address for ``bounce_block_days`` from ``now`` (a later hard
    bounce extends the block)."""
    until = to_iso(now + timedelta(days=cfg.smtp.bounce_block_days)) or ""
    address = row["recipient"].strip().lower()
    reg.conn.execute(
        "INSERT INTO blocked_addresses (address, reason, since, until, outbox_id, message_row) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(address) DO UPDATE SET reason = excluded.reason, since = excluded.since, until = excluded.until, "
        "outbox_id = excluded.outbox_id, message_row = excluded.message_row",
        (address, reason[:300], to_iso(now), until, row["id"], message_row))
    reg.add_event(at=now, actor="system", action="address_blocked", transaction_id=row["transaction_id"],
                  detail={"address": address, "until": until, "reason": reason[:300], "message": message_row})
    return until
