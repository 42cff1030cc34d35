"""The limits stage: what is refused before any parsing, and the lightening
that keeps parsing cheap.

``precheck`` refuses what would make Python's parser recurse too deep, take
quadratic time or unbounded memory (``TooComplex``, with the reason and the
limit); ``lighten`` lifts long base64 bodies out of the message so the parser
never holds them line by line. Every scan here is linear in the message's size.
"""

from __future__ import annotations

import base64
import re

from mailintake.base.config import Limits


def split_header_body(raw: bytes) -> tuple[bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        pos = raw.find(sep)
        if pos >= 0:
            return raw[:pos], raw[pos + len(sep) :]
    return raw, b""


# A base64 body longer than this many lines (about 150 KB) is lifted out before
# parsing: Python's parser keeps one object per line, which costs 8 to 9 times
# the body's size in memory (358 MB for a 30 MB attachment).
_BLOB_LINES = 2000
# Maximal runs of base64 lines, each run matched from the line break before
# it and possessive: the scan never restarts inside a run, so it is linear in
# the message's size (an unanchored "{2000,}" rescanned every shorter run from
# each of its bytes), and the literal "\n" lets the engine skip ahead at C
# speed. Runs are counted after they are found.
_B64_RUN = re.compile(rb"\n(?:[A-Za-z0-9+/]{40,100}={0,2}\r?\n)++(?:[A-Za-z0-9+/]{1,100}={0,2}\r?\n)?+")
_CTE_B64 = re.compile(rb"(?i)content-transfer-encoding:\s*base64")


def lighten(raw: bytes) -> tuple[bytes, dict[bytes, tuple[int, int]]]:
    """Replace long base64 bodies by short markers; return the map back."""
    blobs: dict[bytes, tuple[int, int]] = {}
    out: list[bytes] = []
    pos = 0
    for m in _B64_RUN.finditer(raw):
        start, end = m.start() + 1, m.end()
        if raw.count(b"\n", start, end) < _BLOB_LINES:
            continue
        head = raw[max(0, start - 4096) : start]
        # Only a whole part body: right after the part's headers, declared
        # base64, and followed by a boundary or a blank line.
        after = raw[end : end + 2]
        if not (head.endswith(b"\n\n") or head.endswith(b"\r\n\r\n")) or not _CTE_B64.search(head[head.rfind(b"--") :]):
            continue
        if after not in (b"", b"--", b"\r\n") and not after.startswith(b"\n"):
            continue
        marker = b"\x00MAILINTAKE-BLOB-%06d\x00" % len(blobs)
        blobs[marker] = (start, end)
        out += [raw[pos:start], base64.b64encode(marker), b"\r\n"]
        pos = end
    if not blobs:
        return raw, blobs
    out.append(raw[pos:])
    return b"".join(out), blobs


class TooComplex(Exception):
    """The message is past a configured limit and is not parsed (the reason)."""


# Scans over the raw bytes start with a literal line break, which the regex
# engine finds at C speed; "^" in MULTILINE mode would try every byte.
_MULTIPART = re.compile(rb"\ncontent-type:[ \t]*multipart/")  # on lower-cased bytes
# A header field and all its folded lines, maximal and possessive (linear).
_FOLDED_RUN = re.compile(rb"\n[!-9;-~]{1,76}:[^\n]*+(?:\n[ \t][^\n]*+)++")
_BOUNDARY = re.compile(rb'boundary[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')  # on lower-cased bytes
_DELIMITER = re.compile(rb"\n--([^\r\n]{1,202})")


def count_parts(raw: bytes, low: bytes | None = None) -> int:
    """MIME parts by their delimiter lines (RFC 2046 5.1.1): a part needs no
    Content-Type header to be one. Linear: one pass for the declared
    boundaries, one for the lines that start with "--". ``low`` is
    ``b"\\n" + raw.lower()`` when the caller has it."""
    text = b"\n" + raw
    low = low if low is not None else text.lower()
    boundaries = set()
    for m in _BOUNDARY.finditer(low):
        which = 1 if m.group(1) is not None else 2
        boundaries.add(text[m.start(which) : m.end(which)].strip())
    if not boundaries:
        return 0
    return sum(1 for m in _DELIMITER.finditer(text) if m.group(1).rstrip() in boundaries)


def precheck(raw: bytes, limits: Limits) -> None:
    """Refuse, before any parsing, what would make Python's parser recurse too
    deep, take quadratic time or unbounded memory: raises ``TooComplex``.
    Every scan is linear in the message's size."""
    # Lines of base64 hold no header, no delimiter ("-" is not in its
    # alphabet) and no Content-Type: the counts below are the same without
    # them, and the scans then cost little on attachment-heavy mail.
    raw = _B64_RUN.sub(b"\n", raw)
    header, _body = split_header_body(raw)
    if len(header) > limits.max_header_bytes:
        raise TooComplex(f"header block of {len(header) // 1024} KB is over the {limits.max_header_bytes // 1024} KB limit")
    longest = max((len(h) for h in re.split(rb"\r?\n(?![ \t])", header)), default=0)
    if longest > limits.max_header_line_bytes:
        raise TooComplex(f"a header of {longest // 1024} KB is over the {limits.max_header_line_bytes // 1024} KB limit")
    text = b"\n" + raw
    # Headers of MIME parts: a run of folded lines (20,000 RFC 2231 parameters).
    for m in _FOLDED_RUN.finditer(text):
        if m.end() - m.start() > limits.max_header_line_bytes and m.group().count(b"\n") > 100:
            raise TooComplex(
                f"a part header of {(m.end() - m.start()) // 1024} KB is over the {limits.max_header_line_bytes // 1024} KB limit"
            )
    low = text.lower()
    multiparts = len(_MULTIPART.findall(low))
    if multiparts > limits.max_multiparts:
        raise TooComplex(f"{multiparts} nested multipart sections, over the limit of {limits.max_multiparts}")
    parts = max(low.count(b"\ncontent-type:"), count_parts(raw, low))
    if parts > limits.max_parts:
        raise TooComplex(f"{parts} MIME parts, over the limit of {limits.max_parts}")
