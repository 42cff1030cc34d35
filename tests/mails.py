"""Build test messages the way mail clients do."""

from __future__ import annotations

import email.header
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

BKK = timezone(timedelta(hours=7))


def at(text: str) -> datetime:
    """A Bangkok time, e.g. at('2025-12-04 18:05')."""
    return datetime.fromisoformat(text).replace(tzinfo=BKK)


def mail(
    subject: str = "ขออนุญาตจัดงาน",
    body: str = "เรียน เจ้าหน้าที่\nขออนุญาตจัดงานครับ\n",
    *,
    sender: str = "สมชาย ใจดี <somchai@example.com>",
    date: datetime | None = None,
    reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes, str]] = (),
    mid: str | None = None,
) -> EmailMessage:  # type: ignore[assignment]
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = "saraban@banmai.go.th"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or at("2025-12-04 18:00"))
    msg["Message-ID"] = mid or make_msgid(domain="example.com")
    if reply_to:
        msg["Reply-To"] = reply_to
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def subject_of(m: Message) -> str:
    """The Subject as a person reads it (RFC 2047 decoded)."""
    return str(email.header.make_header(email.header.decode_header(m["Subject"] or "")))


def _part(m: Message, ctype: str) -> str:
    for part in m.walk():
        if part.get_content_type() == ctype:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no {ctype} part")


def text_of(m: Message) -> str:
    return _part(m, "text/plain")


def html_of(m: Message) -> str:
    return _part(m, "text/html")


def attachments_of(m: Message) -> dict[str, bytes]:
    out = {}
    for part in m.walk():
        if part.get_filename():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out[part.get_filename()] = payload
    return out
