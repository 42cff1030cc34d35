"""The trust boundary: which header lines of a message the agency's own mail
system wrote, and so when the message entered it (R1).

Every mail server on the way prepends a ``Received:`` line, so the lines read
top-down run from the mailbox back towards the sender. The agency names its
own hosts (``[trust] mail_hosts``: its MX, relays and mailbox server); the
contiguous run of ``Received:`` lines at the top whose ``by`` host is one of
them, each taken from the next (``came_from_inside``), was written by the
agency. The oldest line of that run is where its MX accepted the message from
outside, and the time after its last ``;`` is the receipt time. Everything
below the run was written on the sender's side and is never trusted, whatever
it claims: a forged ``by mx.agency`` line below an untrusted hop stays
outside, and nobody outside can put a line above the agency's own.

The same boundary decides which spam verdicts and ``Authentication-Results``
count (``TrustBoundary.trusted_headers``): those the agency's hosts added,
above and including the entry line. With no hosts named, nothing is trusted for
the receipt time (the mailbox's INTERNALDATE is used, as before) and every
header counts for the verdicts.

``TrustBoundary.authentication`` reads the trusted ``Authentication-Results``
(RFC 8601) into an ``Authentication``: the DMARC result the intake acts on
(mail failing it joins no application and gets no automatic answer), SPF and
DKIM for the clerk. ``[trust] authserv_id`` names the one authserv-id to read;
empty, any result a trusted host added counts. A result a sender wrote counts
only when no host is named, and then a forged "fail" hurts only its writer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from mailintake.base.config import Config

RECEIVED, INTERNALDATE = "received", "internaldate"
RECEIPT_SKEW = "receipt_skew"
_BY = re.compile(r"(?:^|\s)by\s+(\S+)", re.IGNORECASE)
# "from helo (rdns [address])": the name the client gave and, in the comment
# the receiving host wrote, its reverse name and address.
_FROM = re.compile(r"^\s*from\s+([^\s(]+)\s*(?:\(([^()]*)\))?", re.IGNORECASE)
Headers = Message | Iterable[tuple[str, Any]]


@dataclass(frozen=True)
class Receipt:
    """The trusted entry: when ``host`` accepted the message from outside, read
    from the ``header_index``-th ``Received:`` line (0 is the topmost)."""

    at: datetime
    host: str
    header_index: int


@dataclass(frozen=True)
class ReceiptTime:
    """The legal receipt time of one message and where it came from: the
    trusted ``Received:`` line when there is one, else the INTERNALDATE."""

    at: datetime
    internaldate: datetime
    trusted: Receipt | None
    skewed: bool  # the two differ by more than [trust] receipt_skew_minutes

    @property
    def source(self) -> str:
        return RECEIVED if self.trusted is not None else INTERNALDATE

    def describe(self, local: Callable[[datetime], datetime]) -> str:
        """The source in words, for the stored reason, e.g. ``received by
        mx.agency.go.th at Mon 23 Nov 16:20 (the agency's mail server)``."""
        if self.trusted is None:
            return f"received by the mailbox at {local(self.at):%a %-d %b %H:%M} (no trusted Received header)"
        stored = f"; the mailbox stored it at {local(self.internaldate):%a %-d %b %H:%M}" if self.skewed else ""
        return f"received by {self.trusted.host} at {local(self.at):%a %-d %b %H:%M} (the agency's mail server{stored})"


# --- reading one Received: line ---------------------------------------------------------------
def without_comments(text: str) -> str:
    """``text`` with its RFC 5322 comments (nested, with quoted pairs) made spaces
    and its folding undone."""
    out: list[str] = []
    depth = 0
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
            continue
        if depth and ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if not depth:
                out.append(" ")
        elif not depth:
            out.append(ch)
    return " ".join("".join(out).split())


def host_name(text: str) -> str:
    """A host as compared: lower case, no trailing dot; an address literal
    (``[192.0.2.1]``, ``[IPv6:2001:DB8::1]``) as its address."""
    host = text.strip().strip(";,").lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        literal = host[1:-1].removeprefix("ipv6:")
        try:
            return str(ipaddress.ip_address(literal))
        except ValueError:
            return literal
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def by_host(value: str) -> str | None:
    """The ``by`` host of a ``Received:`` value, None when it names none."""
    plain = without_comments(value)
    m = _BY.search(plain.rpartition(";")[0] if ";" in plain else plain)
    return host_name(m.group(1)) if m else None


def from_parts(value: str) -> tuple[frozenset[str], frozenset[str]]:
    """Who a ``Received:`` value says the message came from: the names the
    client gave (its greeting, ``helo=``), and the reverse names and addresses
    the receiving host saw itself (``unknown`` when it could not confirm one)."""
    m = _FROM.match(" ".join(value.split()))
    if m is None:
        return frozenset(), frozenset()
    claimed, seen = {host_name(m.group(1))}, set()
    for token in (m.group(2) or "").split():
        if token.lower().startswith("helo="):
            claimed.add(host_name(token[5:]))
        else:
            seen.add(host_name(token))
    return frozenset(claimed), frozenset(seen)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def received_at(value: str) -> datetime | None:
    """The date after the last ``;`` of a ``Received:`` value (any offset; -0000
    is UTC), None when it is missing, has no zone or cannot be read."""
    _clauses, semicolon, date = without_comments(value).rpartition(";")
    date = date.strip()
    if not semicolon or not date:
        return None
    try:
        when = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC) if date.endswith("-0000") else None


def _fields(headers: Headers) -> list[tuple[str, str]]:
    items = headers.raw_items() if isinstance(headers, Message) else headers
    return [(str(k), str(v)) for k, v in items]


# --- the boundary -----------------------------------------------------------------------------
class TrustBoundary:
    """The agency's mail hosts, and what they let the program trust."""

    def __init__(self, hosts: Iterable[str] = (), skew_minutes: int = 0, authserv_id: str = ""):
        self.hosts = frozenset(host_name(h) for h in hosts if h.strip())
        self.skew = timedelta(minutes=skew_minutes)
        self.authserv_id = host_name(authserv_id) if authserv_id.strip() else None

    @classmethod
    def from_config(cls, cfg: Config) -> TrustBoundary:
        return cls(cfg.trust.mail_hosts, cfg.trust.receipt_skew_minutes, cfg.trust.authserv_id)

    @property
    def active(self) -> bool:
        """True when the agency named its hosts (else nothing is trusted for the
        receipt time and every header counts for the verdicts)."""
        return bool(self.hosts)

    def came_from_inside(self, value: str) -> bool:
        """Whether the trusted host that wrote ``value`` took the message from
        another trusted host: by the reverse name or address it saw, or by the
        client's greeting when it saw no reverse name to contradict it (Dovecot's
        LMTP writes ``from mx.agency ([10.0.0.25])``; Postfix writes ``unknown``
        for a name it cannot confirm, so a client cannot pass by greeting with
        the MX's name)."""
        claimed, seen = from_parts(value)
        if seen & self.hosts:
            return True
        return bool(claimed & self.hosts) and all(_is_address(h) for h in seen)

    def trusted_run(self, received: Sequence[str]) -> int:
        """How many ``Received:`` values at the top (most recent first) a trusted
        host added. A line counts only while the line above it says it came from
        a trusted host: a sender talking straight to the MX cannot extend the
        run with a forged ``by`` line of its own below the MX's."""
        n = 0
        for value in received:
            if by_host(value) not in self.hosts:
                break
            n += 1
            if not self.came_from_inside(value):
                break
        return n

    def receipt_in(self, received: Sequence[str]) -> Receipt | None:
        """The trusted entry of the ``Received:`` values ``received`` (top-down),
        None when there is none or its date cannot be read."""
        run = self.trusted_run(received)
        if run == 0:
            return None
        at = received_at(received[run - 1])
        host = by_host(received[run - 1])
        return None if at is None or host is None else Receipt(at, host, run - 1)

    def receipt(self, headers: Headers) -> Receipt | None:
        """The time the agency's first host accepted the message from outside."""
        return self.receipt_in([v for k, v in _fields(headers) if k.lower() == "received"])

    def trusted_headers(self, headers: Headers) -> list[tuple[str, str]]:
        """The header fields added inside the boundary, in order: those above and
        including the entry ``Received:`` line; every field when no host is named."""
        fields = _fields(headers)
        if not self.active:
            return fields
        received = [i for i, (k, _v) in enumerate(fields) if k.lower() == "received"]
        run = self.trusted_run([fields[i][1] for i in received])
        return fields[: received[run - 1] + 1] if run else []

    def authentication(self, headers: Headers) -> Authentication | None:
        """The trusted ``Authentication-Results`` (topmost first: the agency's
        last host wins), only those of ``authserv_id`` when one is named; None
        when there is none. With no host named and no ``authserv_id`` nobody
        vouches for the header (a sender can write one saying dmarc=pass), so it
        counts for nothing; an MTA named by its authserv-id removes forged ones
        bearing its own name (RFC 8601, section 5)."""
        want = self.authserv_id
        if not self.active and want is None:
            return None
        methods: dict[str, tuple[str, str]] = {}
        servers = []
        for value in header_values(self.trusted_headers(headers), "authentication-results"):
            server, found = parse_auth_results(value)
            if want is not None and server != want:
                continue
            servers.append(server)
            for method, result in found.items():
                methods.setdefault(method, result)
        if not servers:
            return None
        flat = {m: r for m, (r, _d) in methods.items()} | {f"{m}_domain": d for m, (_r, d) in methods.items()}
        return Authentication(servers[0], **flat)

    def receipt_time(self, received: Sequence[str], internaldate: datetime) -> ReceiptTime:
        """The legal receipt time of a message with these ``Received:`` values
        (top-down) that the mailbox stored at ``internaldate``."""
        trusted = self.receipt_in(received)
        at = trusted.at if trusted is not None else internaldate
        skewed = trusted is not None and self.skew > timedelta(0) and abs(trusted.at - internaldate) > self.skew
        return ReceiptTime(at, internaldate, trusted, skewed)


# --- Authentication-Results (RFC 8601) ---------------------------------------------------------
_METHODS = ("dmarc", "spf", "dkim")


@dataclass(frozen=True)
class Authentication:
    """What the trusted ``Authentication-Results`` say: per method its result
    (``pass``, ``fail``, ``none``...) and the domain it is about; None when absent."""

    authserv_id: str = ""
    dmarc: str | None = None
    dmarc_domain: str = ""
    spf: str | None = None
    spf_domain: str = ""
    dkim: str | None = None
    dkim_domain: str = ""

    @property
    def dmarc_failed(self) -> bool:
        return self.dmarc == "fail"

    def describe(self) -> str:
        """e.g. ``dmarc=fail (example.com) spf=softfail (example.com) dkim=none``."""
        parts = []
        for method in _METHODS:
            result, domain = getattr(self, method), getattr(self, f"{method}_domain")
            if result is not None:
                parts.append(f"{method}={result}" + (f" ({domain})" if domain else ""))
        return " ".join(parts) or "no result"

    def as_dict(self) -> dict[str, str | None]:
        return {m: getattr(self, m) for m in _METHODS} | {f"{m}_domain": getattr(self, f"{m}_domain") for m in _METHODS}


def _split_unquoted(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` outside double quotes."""
    out: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return out


def parse_auth_results(value: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """One ``Authentication-Results`` value: its authserv-id, and per method
    (dmarc, spf, dkim; the first of each) its result and the domain it names
    (``header.from``, ``smtp.mailfrom``'s domain, ``header.d``)."""
    parts = [p.strip() for p in _split_unquoted(without_comments(value), ";")]
    authserv = host_name(parts[0].split()[0]) if parts and parts[0].split() else ""
    found: dict[str, tuple[str, str]] = {}
    for part in parts[1:]:
        tokens = part.split()
        if not tokens or "=" not in tokens[0]:
            continue
        method, _eq, result = tokens[0].partition("=")
        method = method.split("/")[0].lower()
        if method not in _METHODS or method in found:
            continue
        props = {k.lower(): v.strip('"') for k, _e, v in (t.partition("=") for t in tokens[1:]) if _e}
        domain = props.get("header.from") or props.get("header.d") or props.get("smtp.mailfrom", "").rpartition("@")[2]
        found[method] = (result.strip('"').lower(), domain.lower())
    return authserv, found


def header_values(fields: Iterable[tuple[str, str]], name: str) -> list[str]:
    """The values of the fields called ``name`` (any case)."""
    return [v for k, v in fields if k.lower() == name.lower()]
