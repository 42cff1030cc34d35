"""The rules an agency keeps as data, loaded and validated: the services
(``rules/services/*.toml``, one file a service, carrying what its citizen manual
says) and the mail rules (``rules/mail.toml``: spam, auto-reply and bounce
headers, webmail domains, power-of-attorney keywords). Every error names its
file and key. Deciding with them is the intake's and the desk's work.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mailintake.base.errors import ConfigError
from mailintake.base.wording import TemplatePlaces

KNOWN_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    # kind: (label for people, file-name extensions)
    "pdf": ("PDF", ("pdf",)),
    "doc": ("DOC", ("doc",)),
    "docx": ("DOCX", ("docx",)),
    "txt": ("TXT", ("txt", "text")),
    "jpeg": ("JPEG", ("jpg", "jpeg", "jpe", "jfif")),
    "png": ("PNG", ("png",)),
    "tiff": ("TIFF", ("tif", "tiff")),
}

RISKS = ("low", "medium", "high")
RETENTION_DEFAULT = 10  # years: the Regulation on Registry Work's default (ข้อ 57)
KEYS = {
    "id",
    "code",
    "name_th",
    "name_en",
    "keywords_th",
    "keywords_en",
    "risk",
    "juristic_allowed",
    "fee",
    "fee_basis",
    "time_limit_days",
    "result_within_days",
    "documents",
    "reminders",
    "retention",
}
DOCUMENT_KEYS = {"name_th", "name_en", "types", "keywords", "required"}
REMINDER_KEYS = {"id", "name_th", "name_en", "every_days", "days_before", "times"}


class ServicesError(ConfigError):
    """One or more service files are wrong; ``errors`` lists each with file and key."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Document:
    """A document the service requires (or, ``required = false``, accepts);
    ``keywords`` (Thai or English, lower case) find it among the files received
    (``desk.checklist``), besides its names."""

    name_th: str
    name_en: str
    types: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class Periodic:
    """A report the applicant must make every ``every_days`` calendar days from
    the deemed receipt (``times`` times), reminded ``days_before`` days ahead
    (``[[reminders]]`` in a service file; issue 12, R26)."""

    id: str
    name_th: str
    name_en: str
    every_days: int
    days_before: int
    times: int


@dataclass(frozen=True)
class Service:
    id: str
    code: str
    name_th: str
    name_en: str
    keywords_th: tuple[str, ...]
    keywords_en: tuple[str, ...]
    risk: str
    juristic_allowed: bool
    fee: int | None  # baht; None when the service is free
    time_limit_days: int
    result_within_days: int | None
    documents: tuple[Document, ...]
    source: Path
    reminders: tuple[Periodic, ...] = ()
    # The retention class (issue 16): years kept after closing, None = permanent.
    retention_years: int | None = RETENTION_DEFAULT
    fee_basis: str = ""  # the fee's legal basis, printed on the e-receipt (R17)


class _Errors:
    def __init__(self, path: Path):
        self.path = path
        self.items: list[str] = []

    def add(self, key: str, what: str) -> None:
        self.items.append(f"{self.path.name}: {key}: {what}")


def _text(data: dict[str, Any], key: str, err: _Errors, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        err.add(f"{where}{key}", "expected non-empty text" if key in data else "missing")
        return ""
    return value.strip()


def _words(data: dict[str, Any], key: str, err: _Errors) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        err.add(key, "expected a list of words")
        return ()
    return tuple(v.strip().lower() for v in value)


def _days(data: dict[str, Any], key: str, err: _Errors, *, required: bool) -> int | None:
    if key not in data:
        if required:
            err.add(key, "missing")
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365:
        err.add(key, "expected working days, a whole number from 1 to 365")
        return None
    return value


def load_service(path: Path) -> tuple[Service | None, list[str]]:
    err = _Errors(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        return None, [f"{path.name}: not valid TOML: {exc}"]
    for key in sorted(set(data) - KEYS):
        err.add(key, "unknown key")
    sid = _text(data, "id", err)
    if sid and not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,40}", sid):
        err.add("id", "use lower-case letters, digits and hyphens")
    code = _text(data, "code", err)
    if code and not re.fullmatch(r"[A-Z0-9]{2,10}", code):
        err.add("code", "use 2 to 10 capital letters or digits (a citizen types it in the subject)")
    if code == "INFO":
        err.add("code", "INFO is reserved for inquiries")
    name_th, name_en = _text(data, "name_th", err), _text(data, "name_en", err)
    risk = data.get("risk")
    if risk not in RISKS:
        err.add("risk", f"expected one of {', '.join(RISKS)}")
    juristic = data.get("juristic_allowed", False)
    if not isinstance(juristic, bool):
        err.add("juristic_allowed", "expected true or false")
    fee_value = data.get("fee")
    fee: int | None = None
    if fee_value == "none":
        fee = None
    elif isinstance(fee_value, int) and not isinstance(fee_value, bool) and fee_value > 0:
        fee = fee_value
    else:
        err.add("fee", 'expected an amount in baht (a whole number above 0) or "none"')
    if not isinstance(basis := data.get("fee_basis", ""), str) or ("fee_basis" in data and not basis.strip()):
        err.add("fee_basis", "expected the fee's legal basis as text (printed on the e-receipt)")
    limit = _days(data, "time_limit_days", err, required=True)
    within = _days(data, "result_within_days", err, required=False)
    documents: list[Document] = []
    docs = data.get("documents", [])
    if not isinstance(docs, list) or not docs:
        err.add("documents", "expected at least one [[documents]] table")
        docs = []
    for i, doc in enumerate(docs, start=1):
        where = f"documents[{i}]."
        if not isinstance(doc, dict):
            err.add(f"documents[{i}]", "expected a table")
            continue
        for key in sorted(set(doc) - DOCUMENT_KEYS):
            err.add(f"{where}{key}", "unknown key")
        types = doc.get("types")
        if not isinstance(types, list) or not types or not all(t in KNOWN_TYPES for t in types):
            err.add(f"{where}types", f"expected a list of {', '.join(sorted(KNOWN_TYPES))}")
            types = []
        words = doc.get("keywords", [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            err.add(f"{where}keywords", "expected a list of words")
            words = []
        required = doc.get("required", True)
        if not isinstance(required, bool):
            err.add(f"{where}required", "expected true or false")
        names = _text(doc, "name_th", err, where), _text(doc, "name_en", err, where)
        documents.append(Document(*names, tuple(types), tuple(w.strip().lower() for w in words), required is not False))
    reminders = _periodic(data.get("reminders", []), err)
    retention = data.get("retention", RETENTION_DEFAULT)
    if retention != "permanent" and (isinstance(retention, bool) or not isinstance(retention, int) or not 1 <= retention <= 100):
        err.add("retention", 'expected years kept after closing (1 to 100) or "permanent"')
    if err.items:
        return None, err.items
    return Service(
        sid,
        code,
        name_th,
        name_en,
        _words(data, "keywords_th", err),
        _words(data, "keywords_en", err),
        str(risk),
        bool(juristic),
        fee,
        int(limit or 0),
        within,
        tuple(documents),
        path,
        reminders,
        None if retention == "permanent" else int(retention),
        str(basis).strip(),
    ), []


def _whole(item: dict[str, Any], key: str, err: _Errors, where: str, low: int, high: int, default: int | None) -> int:
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        err.add(f"{where}{key}", f"expected a whole number from {low} to {high}")
        return low
    return value


def _periodic(items: Any, err: _Errors) -> tuple[Periodic, ...]:
    """The ``[[reminders]]`` tables: reports due every ``every_days`` days."""
    if not isinstance(items, list):
        err.add("reminders", "expected [[reminders]] tables")
        return ()
    out: list[Periodic] = []
    for i, item in enumerate(items, start=1):
        where = f"reminders[{i}]."
        if not isinstance(item, dict):
            err.add(f"reminders[{i}]", "expected a table")
            continue
        for key in sorted(set(item) - REMINDER_KEYS):
            err.add(f"{where}{key}", "unknown key")
        rid = _text(item, "id", err, where)
        if rid and not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,40}", rid):
            err.add(f"{where}id", "use lower-case letters, digits and hyphens")
        every = _whole(item, "every_days", err, where, 1, 3650, None)
        before = _whole(item, "days_before", err, where, 0, 365, None)
        if before >= every:
            err.add(f"{where}days_before", "must be fewer than every_days")
        times = _whole(item, "times", err, where, 1, 1000, 1)
        out.append(Periodic(rid, _text(item, "name_th", err, where), _text(item, "name_en", err, where), every, before, times))
    if len({p.id for p in out}) < len(out):
        err.add("reminders", "two reminders with the same id")
    return tuple(out)


def load_services(dirs: list[Path]) -> list[Service]:
    """Every ``services/*.toml`` in the first rules directory that has any;
    raises ``ServicesError`` listing every error."""
    for d in dirs:
        files = sorted((d / "services").glob("*.toml"))
        if files:
            break
    else:
        return []
    services: list[Service] = []
    errors: list[str] = []
    for path in files:
        service, errs = load_service(path)
        errors += errs
        if service is not None:
            services.append(service)
    seen: dict[tuple[str, str], str] = {}
    for s in services:
        for key, value in (("id", s.id), ("code", s.code)):
            if (key, value) in seen:
                errors.append(f"{s.source.name}: {key}: {value!r} is also used by {seen[(key, value)]}")
            seen[(key, value)] = s.source.name
    if errors:
        raise ServicesError(errors)
    return services


class RulesError(ConfigError):
    """``rules/mail.toml`` is wrong; the message names the key."""


@dataclass(frozen=True)
class HeaderRule:
    header: str
    regex: re.Pattern[str] | None

    def matches(self, values: Iterable[str]) -> str | None:
        for v in values:
            if self.regex is None or self.regex.search(v):
                return f"{self.header}: {v[:80]}" if self.regex else f"{self.header} present"
        return None


@dataclass(frozen=True)
class MailRules:
    spam_rules: tuple[HeaderRule, ...]
    spam_score_headers: tuple[str, ...]
    spam_threshold: float
    auto_rules: tuple[HeaderRule, ...]
    auto_sender: re.Pattern[str] | None
    bounce_rules: tuple[HeaderRule, ...]
    bounce_types: tuple[str, ...]
    bounce_subject: re.Pattern[str] | None
    webmail_domains: frozenset[str]
    poa_keywords: tuple[str, ...] = ()
    delay_subject: re.Pattern[str] | None = None


def _regex(where: str, value: Any) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RulesError(f"{where}: expected a regular expression")
    try:
        return re.compile(value)
    except re.error as exc:
        raise RulesError(f"{where}: bad regular expression: {exc}") from None


def _rules(path: Path, section: str, table: dict[str, Any]) -> tuple[HeaderRule, ...]:
    out = []
    items = table.get("rules", [])
    if not isinstance(items, list):
        raise RulesError(f"{path.name}: [{section}] rules: expected [[{section}.rules]] tables")
    for i, item in enumerate(items, start=1):
        where = f"{path.name}: [[{section}.rules]] #{i}"
        if not isinstance(item, dict) or not isinstance(item.get("header"), str) or not item["header"].strip():
            raise RulesError(f"{where}: header: expected a header name")
        unknown = set(item) - {"header", "regex"}
        if unknown:
            raise RulesError(f"{where}: unknown key {sorted(unknown)[0]}")
        out.append(HeaderRule(item["header"], _regex(f"{where}: regex", item.get("regex"))))
    return tuple(out)


def load_rules(path: Path) -> MailRules:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path.name}: not valid TOML: {exc}") from None
    spam = data.get("spam", {})
    auto = data.get("autoreply", {})
    bounce = data.get("bounce", {})
    web = data.get("webmail", {})
    threshold = spam.get("score_threshold", 6.0)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise RulesError(f"{path.name}: [spam] score_threshold: expected a number")
    domains = web.get("domains", [])
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise RulesError(f"{path.name}: [webmail] domains: expected a list of domain names")
    return MailRules(
        spam_rules=_rules(path, "spam", spam),
        spam_score_headers=tuple(spam.get("score_headers", [])),
        spam_threshold=float(threshold),
        auto_rules=_rules(path, "autoreply", auto),
        auto_sender=_regex(f"{path.name}: [autoreply] sender_regex", auto.get("sender_regex")),
        bounce_rules=_rules(path, "bounce", bounce),
        bounce_types=tuple(t.lower() for t in bounce.get("content_types", [])),
        bounce_subject=_regex(f"{path.name}: [bounce] subject_regex", bounce.get("subject_regex")),
        webmail_domains=frozenset(d.lower() for d in domains),
        poa_keywords=tuple(str(k).lower() for k in data.get("juristic", {}).get("poa_keywords", [])),
        delay_subject=_regex(f"{path.name}: [bounce] delay_subject_regex", bounce.get("delay_subject_regex")),
    )


# --- checking every rule file and template at once ---------------------------------------------
class RulePlaces(TemplatePlaces, Protocol):
    """Where the rule files and templates are, and the agency they speak for
    (the configuration answers; named here so that this module does not import
    the configuration, which imports it)."""


@dataclass(frozen=True)
class RulesCheck:
    """What ``mailintake rules check`` reports: a line for each good file and
    each error with its file and key (or line)."""

    ok: tuple[str, ...]
    errors: tuple[str, ...]
    services: tuple[Service, ...] = ()  # those that loaded


def check_rules(places: RulePlaces) -> RulesCheck:
    """Load ``mail.toml`` and every service file, collecting every error
    instead of stopping at the first (``ops.checkup`` adds the templates)."""
    ok: list[str] = []
    errors: list[str] = []
    try:
        path = places.find("rules", "mail.toml")
        load_rules(path)
        ok.append(f"{path}: ok")
    except ConfigError as exc:
        errors.append(str(exc))
    services: list[Service] = []
    try:
        services = load_services(places.search_path("rules"))
        ok += [f"{s.source}: ok ({s.code}, {s.name_en})" for s in services]
    except ServicesError as exc:
        errors += exc.errors
    return RulesCheck(ok=tuple(ok), errors=tuple(errors), services=tuple(services))
