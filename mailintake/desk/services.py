"""Deciding with the services (loaded by ``base.rules``): ``match_service``
finds the service an email applies for, by the short code in the subject or by
keywords; ``juristic_problems`` is rule R9, the one copy that registration,
the clerk's ``triage set --juristic`` and ``triage check`` and the approval
(``desk.checklist.blocks``) apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mailintake.base.rules import MailRules, Service

JURISTIC_PROBLEMS = ("juristic_not_allowed", "juristic_webmail", "juristic_no_poa")


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


def juristic_problems(
    rules: MailRules, service: Service | None, domain: str, file_names: Iterable[str], poa_ok: bool = False
) -> list[str]:
    """R9: what is wrong when a juristic person (a company) applies: a service
    that does not admit companies, a free webmail address instead of the
    company's own domain, no power of attorney among the files (unless the
    clerk found one in order, ``poa_ok``). Problem codes of ``problems.toml``."""
    problems = []
    if service is not None and not service.juristic_allowed:
        problems.append("juristic_not_allowed")
    if domain.strip().lower() in rules.webmail_domains:
        problems.append("juristic_webmail")
    names = [n.lower() for n in file_names]
    if not poa_ok and not any(k in n for n in names for k in rules.poa_keywords):
        problems.append("juristic_no_poa")
    return problems
