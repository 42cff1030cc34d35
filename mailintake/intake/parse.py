"""Raw bytes to one immutable record, ``Incoming``.

mail-parser does the MIME work (RFC 2047 words, RFC 2231 names, nested
messages); the Thai charset names are registered first (``thaitext``). Header
values we echo or reply to are validated here: one strict address, no CR/LF.
Nothing in this module raises on bad mail: problems become ``defects``.
"""

from __future__ import annotations

import binascii
import codecs
import email.policy
import email.utils
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from html.parser import HTMLParser
from typing import Any

import mailparser

from mailintake.base import headers, thaitext
from mailintake.base.headers import _ADDR, _BIDI, _CONTROL, one_line, unescape, valid_address  # noqa: F401 - re-exported
from mailintake.intake.limits import TooComplex, lighten, split_header_body

thaitext.register_thai_charsets()

_QUOTED_ID = re.compile(rb"(?im)^message-id:[ \t]*(<[^<>\s]{3,250}>)")


@dataclass(frozen=True)
class Attachment:
    name: str  # cleaned for display; never used as a path
    declared_type: str
    data: bytes
    nested: bool = False  # came from a forwarded message/rfc822 part


@dataclass(frozen=True)
class Incoming:
    sha256: str
    body_sha256: str
    message_id: str | None
    from_name: str
    from_addr: str | None  # validated, lower-cased domain
    reply_to: str | None  # validated
    to_addrs: tuple[str, ...]
    subject: str
    body_text: str
    date_header: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    headers: dict[str, tuple[str, ...]]  # lower-case name -> values, one line each
    content_type: str
    attachments: tuple[Attachment, ...]
    received_chain: tuple[str, ...]
    quoted_message_ids: tuple[str, ...] = ()  # Message-ID lines inside the body (DSNs quote them)
    nested_messages: int = 0
    tnef: bool = False
    defects: tuple[str, ...] = field(default_factory=tuple)
    size: int = 0

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def reply_address(self) -> str | None:
        """Where a reply goes (R4, R5): Reply-To when valid, else From."""
        return self.reply_to or self.from_addr


def clean_filename(name: str | None, index: int) -> str:
    """A display name for an attachment: the last path component, no control or
    direction characters, at most 120 characters; never used on disk."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\x00", "")
    text = re.split(r"[\\/]", text)[-1]
    text = one_line(text, 20000).strip(" .")
    if not text:
        return f"attachment-{index}"
    if len(text) > 120:
        stem, dot, ext = text.rpartition(".")
        text = (stem[:110] + "…." + ext[:8]) if dot and len(ext) <= 8 else text[:120]
    return text


_ANGLE = re.compile(r"\s*(\"(?:[^\"\\\\]|\\\\.)*\"|[^<>,\"]*)\s*<([^<>\s]+)>\s*(?:,|$)")


def parse_addresses(raw_value: str | None, fallback_charset: str | None = None) -> list[tuple[str, str]]:
    """Strictly parse an address header; bad input gives an empty list.

    Adjacent encoded-words are joined first (``headers.rejoin_words``), so a
    Thai name split mid-character comes back whole. The address is always the
    addr-spec: in ``henry@example.com <ivan@example.com>`` it is ivan's."""
    if not raw_value:
        return []
    # Unfold (RFC 5322 2.2.3); a bare CR or LF left after that is refused.
    value = re.sub(r"\r?\n(?=[ \t])", "", str(raw_value))
    if "\r" in value or "\n" in value:
        return []
    value = headers.rejoin_words(value, fallback_charset)
    try:
        header = email.policy.default.header_factory("to", value)
        out: list[tuple[str, str]] = []
        for group in getattr(header, "groups", ()):
            for a in group.addresses:
                out.append((one_line(a.display_name or "", 200), a.addr_spec))
        if header.defects and "<" in value:
            # A display text the strict parser could not read (an unquoted
            # "@" in it): the angle-bracketed addr-specs are what was meant.
            angled = _angle_addresses(value)
            if angled:
                return angled
        return out
    except Exception:  # noqa: BLE001 - the stdlib raises several types on broken headers
        # The modern parser refuses some real-world headers (an encoded name
        # that decodes to a line break). The angle-bracketed addresses, else
        # the legacy parser, are used then, and the result still has to pass
        # ``valid_address``.
        angled = _angle_addresses(value)
        if angled:
            return angled
        try:
            found = email.utils.getaddresses([value])
        except Exception:  # noqa: BLE001 - nothing readable
            return []
        return [(one_line(headers.decode(n), 200), a) for n, a in found if a]


def _angle_addresses(value: str) -> list[tuple[str, str]]:
    """``display <addr-spec>`` items read loosely, left to right; empty unless
    the whole header is made of them."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(value):
        m = _ANGLE.match(value, pos)
        if m is None:
            return []
        display = m.group(1).strip()
        if display.startswith('"') and display.endswith('"') and len(display) >= 2:
            display = display[1:-1].replace('\\"', '"')
        out.append((one_line(headers.decode(display), 200), m.group(2)))
        pos = m.end()
    return out


def _single_address(
    raw_value: str | None, defects: list[str], name: str, fallback_charset: str | None = None
) -> tuple[str, str | None]:
    if raw_value is None:
        return "", None
    found = parse_addresses(raw_value, fallback_charset)
    if len(found) != 1:
        if raw_value.strip():
            defects.append(f"{name}: {len(found)} addresses" if found else f"{name}: not a valid address")
        return (found[0][0] if found else ""), None
    display, addr = found[0]
    valid = valid_address(addr)
    if valid is None:
        defects.append(f"{name}: address {one_line(addr, 80)!r} refused")
    return display, valid


class _TextOfHtml(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table", "section", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    p = _TextOfHtml()
    try:
        p.feed(html)
        p.close()
    except Exception as exc:  # noqa: BLE001 - broken HTML still gives what was read
        p.parts.append(f"\n[html: {type(exc).__name__}]")
    lines = [" ".join(line.split()) for line in "".join(p.parts).splitlines()]
    return "\n".join(line for line in lines if line).strip()


def _header_values(msg: Message, fallback_charset: str | None) -> dict[str, tuple[str, ...]]:
    """Every header decoded as a whole (``headers.decode``), one line each."""
    out: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        out.setdefault(key.lower(), []).append(one_line(headers.decode(str(value), fallback_charset), 20000))
    return {k: tuple(v) for k, v in out.items()}


def raw_header(msg: Message, name: str) -> str | None:
    """A header's value as received (``Message.get`` wraps raw 8-bit text in a
    Header that has already lost it)."""
    lname = name.lower()
    return next((str(v) for k, v in msg.raw_items() if k.lower() == lname), None)


def sender_of(msg: Message) -> tuple[str, str | None]:
    """From the headers alone: the sender's display name, and where a reply
    goes (a valid Reply-To, else a valid From; None when neither is)."""
    name, sender = _single_address(raw_header(msg, "From"), [], "From")
    reply_to = _single_address(raw_header(msg, "Reply-To"), [], "Reply-To")[1] if raw_header(msg, "Reply-To") else None
    return name, reply_to or sender


def header_text(msg: Message, name: str, limit: int = 998) -> str:
    """One header decoded as a whole, on one line ("" when absent)."""
    value = raw_header(msg, name)
    return "" if value is None else one_line(headers.decode(value, _text_charset(msg)), limit)


def _text_charset(msg: Message) -> str | None:
    """The charset the message's own text declares (the first one found)."""
    for part in msg.walk():
        charset = part.get_content_charset()
        if charset and not part.is_multipart():
            return str(charset)
    return None


def _ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(re.findall(r"<[^<>\s]+>", value))


_PARAM_NAME = re.compile(r'(?i)\b(?:file)?name\s*=\s*"([^"]*)"|\b(?:file)?name\s*=\s*([^\s;"]+)')


def _filename(part: Message) -> str | None:
    """The part's file name: RFC 2231 through the stdlib, RFC 2047 words (what
    Outlook and Gmail send) decoded, raw UTF-8 (RFC 6532) read as UTF-8."""
    name = part.get_filename()
    if name is not None and "\ufffd" in name:
        for key, value in part.raw_items():
            if key.lower() in ("content-disposition", "content-type"):
                m = _PARAM_NAME.search(str(value))
                if m:
                    name = unescape(m.group(1) or m.group(2) or "")
                    break
    if name and "=?" in name:
        name = headers.decode(name)
    return name


def parse_headers_only(raw_header: bytes) -> Message:
    """Headers alone, for classifying spam without touching the body."""
    return email.message_from_bytes(raw_header + b"\n\n", policy=email.policy.compat32)


def parse(
    raw: bytes, lightened: tuple[bytes, dict[bytes, tuple[int, int]]] | None = None, *, max_parts: int | None = None
) -> Incoming:
    """Parse a whole message; never raises on bad mail, but raises
    ``TooComplex`` when the parsed tree has more than ``max_parts`` parts."""
    defects: list[str] = []
    light, blobs = lightened or lighten(raw)
    try:
        pm = mailparser.parse_from_bytes(light)
        msg: Message = pm.message
        parts_defects = [f"{k}" for k in (pm.defects_categories or [])]
        defects.extend(parts_defects)
    except Exception as exc:  # noqa: BLE001 - fall back to the stdlib on parser failure
        defects.append(f"parser: {type(exc).__name__}: {one_line(str(exc), 200)}")
        pm = None
        msg = email.message_from_bytes(light, policy=email.policy.compat32)
    if max_parts is not None:
        tree = sum(1 for _ in msg.walk())
        if tree > max_parts:
            raise TooComplex(f"{tree} MIME parts, over the limit of {max_parts}")
    # Raw 8-bit headers that are not UTF-8 are read in the charset of the text.
    charset = _text_charset(msg)
    hdrs = _header_values(msg, charset)

    def first(name: str) -> str | None:
        v = hdrs.get(name)
        return v[0] if v else None

    from_name, from_addr = _single_address(raw_header(msg, "From"), defects, "From", charset)
    _rn, reply_to = (
        _single_address(raw_header(msg, "Reply-To"), defects, "Reply-To", charset) if raw_header(msg, "Reply-To") else ("", None)
    )
    to_addrs = tuple(a for _, a in parse_addresses(raw_header(msg, "To"), charset))[:50]
    if "\ufffd" in from_name:
        defects.append("From: undecodable bytes in the name")

    subject = one_line(first("subject") or "", 500)
    if "\ufffd" in subject:
        defects.append("subject: undecodable bytes")

    date_header: datetime | None = None
    if first("date"):
        try:
            date_header = email.utils.parsedate_to_datetime(first("date") or "")
            if date_header.tzinfo is None:
                date_header = None
                defects.append("Date: no time zone")
        except (TypeError, ValueError, IndexError):
            defects.append("Date: unreadable")

    attachments: list[Attachment] = []
    nested = 0
    tnef = False
    body_text = ""
    # Unknown charsets: the bytes are kept (the raw message is stored) and flagged.
    for part in msg.walk():
        charset = part.get_content_charset()
        if charset:
            try:
                codecs.lookup(charset)
            except LookupError:
                defects.append(f"unknown charset {one_line(charset, 40)}")
    # Forwarded messages (message/rfc822) and the file names inside them.
    inner_names: set[str] = set()
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            nested += 1
            for inner in part.walk():
                if inner is not part and inner.get_filename():
                    inner_names.add(clean_filename(inner.get_filename(), 0))
    # Attachments from the MIME tree itself: every leaf that is not the body
    # text. (mail-parser invents random names, with a .txt ending, for parts
    # that have none.)
    index = 0
    for part in msg.walk():
        if part.is_multipart() or part.get_content_type() == "message/rfc822":
            continue
        try:
            filename = _filename(part)
        except Exception:  # noqa: BLE001 - a broken parameter is a defect
            filename = None
            defects.append("attachment: unreadable file name")
        ctype = part.get_content_type().lower()
        if filename is None and part.get_content_disposition() != "attachment" and ctype in ("text/plain", "text/html"):
            continue
        index += 1
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001 - a broken body is a defect, not a crash
            defects.append(f"attachment {index}: undecodable body")
            payload = b""
        data = payload if isinstance(payload, bytes) else str(payload).encode("utf-8", "surrogateescape")
        if data in blobs:
            start, end = blobs[data]
            data = binascii.a2b_base64(raw[start:end])
        name = clean_filename(filename, index)
        if ctype == "application/ms-tnef" or name.lower() == "winmail.dat":
            tnef = True
        attachments.append(Attachment(name, ctype, data, nested=name in inner_names))
    if pm is not None:
        plain = unescape("\n".join(pm.text_plain)).replace("\r\n", "\n").strip()
        body_text = plain or html_to_text(unescape("\n".join(pm.text_html)))
    else:
        body = msg.get_payload(decode=True) if not msg.is_multipart() else b""
        body_text = body.decode("utf-8", "replace") if isinstance(body, bytes) else ""

    header_bytes, body_bytes = split_header_body(raw)
    # Delivery reports quote the headers of the message they return; read them
    # only from reports and messages that carry rfc822 parts (a full regex scan
    # of every body would cost more than the rest of parsing).
    quoted: tuple[str, ...] = ()
    content_type = (msg.get_content_type() or "text/plain").lower()
    if content_type == "multipart/report" or b"rfc822" in body_bytes[:4_000_000]:
        quoted = tuple(dict.fromkeys(m.decode("ascii", "replace") for m in _QUOTED_ID.findall(body_bytes[:4_000_000])))
    mid = first("message-id")
    ids = _ids(mid)
    return Incoming(
        sha256=hashlib.sha256(raw).hexdigest(),
        body_sha256=hashlib.sha256(body_bytes).hexdigest(),
        message_id=ids[0] if ids else None,
        from_name=from_name,
        from_addr=from_addr,
        reply_to=reply_to,
        to_addrs=to_addrs,
        subject=subject,
        body_text=body_text[:200_000],
        date_header=date_header,
        in_reply_to=_ids(first("in-reply-to")),
        references=_ids(" ".join(hdrs.get("references", ()))),
        headers=hdrs,
        content_type=content_type,
        attachments=tuple(attachments),
        received_chain=hdrs.get("received", ()),
        quoted_message_ids=quoted[:50],
        nested_messages=nested,
        tnef=tnef,
        defects=tuple(dict.fromkeys(defects)),
        size=len(raw),
    )
