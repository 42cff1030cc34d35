"""Where a reply's own words end and the mail it quotes begins: the one rule
the desk reads replies by (the reply-address line, ``desk.replyto``; the
slot number or cancel word of an appointment reply, ``desk.slots``).

Quoted mail starts at a line beginning ``>``, Outlook's "-----Original
Message-----" or Thai "-----ข้อความต้นฉบับ-----" separator, Apple Mail's
"Begin forwarded message:", a rule of underscores, a ``From:``/``จาก:``
header block, Gmail's "On ... wrote:" or Thai clients' "เมื่อ ... เขียนว่า:".
"""

from __future__ import annotations

import re

QUOTE_START = re.compile(
    r"^[ \t]*(?:>|-{2,}[ \t]*(?:original|forwarded)[ \t]+message|-{2,}[ \t]*ข้อความ|begin forwarded message:|_{10,}|from:\s|จาก:\s)"
    r"|^[ \t]*on\s.{3,200}\swrote:\s*$|เขียนว่า\s*:?\s*$",
    re.IGNORECASE,
)


def own_lines(text: str) -> list[str]:
    """The lines of ``text`` above the first line of quoted mail, as written."""
    out = []
    for line in text.splitlines():
        if QUOTE_START.search(line):
            break
        out.append(line)
    return out
