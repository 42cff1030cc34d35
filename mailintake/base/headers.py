"""Header text as the sender meant it (part of the parse stage).

Mail programs split a long display name or subject into several RFC 2047
encoded-words, and often split in the middle of a multi-byte character (a Thai
character is three bytes in UTF-8). Decoding each word on its own, as the
standard library's modern parser does, leaves a space inside a word or two
U+FFFD. RFC 2047 section 6.2: whitespace between adjacent encoded-words is
ignored, so the bytes of adjacent words in one charset are joined first and
decoded once.

A declared charset falls back to its superset where one exists (a "gb2312"
header holding a GBK character, "tis-620" text holding Windows-874 extras);
raw 8-bit headers (RFC 6532) are read as UTF-8.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re

from mailintake.base import thaitext

thaitext.register_thai_charsets()

# An encoded-word (RFC 2047 section 2), with an optional RFC 2231 language tag.
_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
# Adjacent encoded-words: separated by nothing but folding white space.
_RUN = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:[ \t]*(?:\r?\n)?[ \t]*=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*")

# Where a declared charset is a subset of a wider one that mail programs
# actually use under the narrow name, the wider one decodes (as the WHATWG
# Encoding Standard does): it reads the narrow charset's bytes the same way,
# and the extras (Windows-874's dashes and quotes, GBK's characters) too.
SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "tis-620": "cp874",
    "tis620": "cp874",
    "iso-8859-11": "cp874",
    "windows-874": "cp874",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "ks_c_5601": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "big5": "big5hkscs",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset: its superset, the charset itself, then
    UTF-8; U+FFFD only where none of them reads the bytes."""
    names = []
    if charset:
        cs = charset.strip().strip('"').lower()
        names += [SUPERSETS.get(cs, ""), cs]
    names.append("utf-8")
    for name in names:
        if name and _codec(name):
            try:
                return data.decode(name)
            except UnicodeDecodeError:
                continue
    first = next((n for n in names if n and _codec(n)), "utf-8")
    return data.decode(first, "replace")


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding in "bB":
        clean = re.sub(r"[^A-Za-z0-9+/]", "", text)
        clean += "=" * (-len(clean) % 4)
        try:
            return base64.b64decode(clean)
        except (binascii.Error, ValueError):
            return text.encode("ascii", "replace")
    return binascii.a2b_qp(text.encode("ascii", "replace"), header=True)


def _decode_run(run: str) -> str:
    """One run of adjacent encoded-words: bytes of consecutive words in one
    charset are joined before they are decoded."""
    out: list[str] = []
    pending = b""
    pending_cs: str | None = None
    for m in _WORD.finditer(run):
        cs = m.group(1).lower()
        data = _word_bytes(m.group(2), m.group(3))
        if pending_cs is not None and cs != pending_cs:
            out.append(decode_bytes(pending, pending_cs))
            pending = b""
        pending_cs = cs
        pending += data
    if pending_cs is not None:
        out.append(decode_bytes(pending, pending_cs))
    return "".join(out)


def unescape_raw(text: str, fallback: str | None = None) -> str:
    """Raw 8-bit header bytes (kept by the parser as lone surrogates) read as
    UTF-8 (RFC 6532), else as ``fallback`` (the message's own charset)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return decode_bytes(data, fallback)


def decode(value: str, fallback: str | None = None) -> str:
    """A whole unstructured header (Subject, a display name) as text."""
    text = unescape_raw(str(value), fallback)
    if "=?" not in text:
        return text
    return _RUN.sub(lambda m: _decode_run(m.group(0)), text)


def rejoin_words(value: str, fallback: str | None = None) -> str:
    """An address header with each run of adjacent encoded-words decoded and
    re-encoded as one UTF-8 word, so that an address parser that decodes word
    by word sees whole characters; raw 8-bit bytes read as UTF-8."""
    text = unescape_raw(str(value), fallback)
    if "=?" not in text:
        return text

    def whole(m: re.Match[str]) -> str:
        decoded = _decode_run(m.group(0))
        return "=?utf-8?b?" + base64.b64encode(decoded.encode("utf-8")).decode("ascii") + "?="

    return _RUN.sub(whole, text)


def unescape(text: str) -> str:
    """Raw 8-bit bytes that Python kept as lone surrogates, decoded as UTF-8
    where valid and replaced where not (SQLite and mail need valid text)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# An address we are willing to send to: no quotes, spaces, brackets or
# comments, a dotted domain (a Thai-script one in its xn-- form, TLD too). Anything
# else is not answered (CVE-2023-27043 class).
_ADDR = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?=.{4,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}[A-Za-z0-9])$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str, limit: int = 998) -> str:
    """A header-safe, display-safe single line: control characters, CR/LF and
    direction overrides removed (CVE-2024-6923 class), whitespace folded."""
    text = _CONTROL.sub(" ", unescape(text))
    text = _BIDI.sub("", text)
    text = " ".join(text.split())
    return text[:limit]


def valid_address(value: str | None) -> str | None:
    if not value:
        return None
    addr = value.strip()
    if not _ADDR.match(addr):
        return None
    local, _, domain = addr.rpartition("@")
    return f"{local}@{domain.lower()}"
