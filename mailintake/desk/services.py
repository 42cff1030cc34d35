"""Deciding with the services (loaded by ``base.rules``): ``match_service``
finds the service an email applies for, by the short code in the subject or by
keywords.
"""

from __future__ import annotations

import re

from mailintake.base.rules import Service


def match_service(services: list[Service], subject: str, body: str) -> Service | None:
    """The service an email applies for: a code in the subject (``[EVT]``,
    ``EVT:``, ``TM30``) first, then keywords in the subject, then in the body."""
    for s in services:
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(s.code)}(?![A-Za-z0-9])", subject, re.IGNORECASE):
            return s
    for text in (subject.lower(), body[:5000].lower()):
        best: tuple[int, Service] | None = None
        for s in services:
            hits = sum(1 for k in s.keywords_th + s.keywords_en if k in text)
            if hits and (best is None or hits > best[0]):
                best = (hits, s)
        if best:
            return best[1]
    return None


def is_inquiry_code(subject: str) -> bool:
    return re.search(r"(?<![A-Za-z0-9])INFO(?![A-Za-z0-9])", subject) is not None
