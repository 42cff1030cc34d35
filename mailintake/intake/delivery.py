"""Read what a delivery report says about mail we sent.

* A DSN (RFC 3464, ``message/delivery-status``) has one block of fields per
  recipient; only ``Action: failed`` is a failure, and a failure with a 5.x.x
  status is permanent (a hard bounce). ``delayed``, ``relayed``, ``delivered``
  and ``expanded`` are notes on the way.
* A read receipt (RFC 8098, ``message/disposition-notification``) says what the
  recipient's program did with the mail; ``displayed`` means read.
* Many servers still bounce without a report part (subject and prose only):
  those are read by flufl.bounce, which knows the formats of many of them.

The standard library parses the report parts; nothing here guesses from words.
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from flufl.bounce import all_failures

from mailintake.base.headers import decode

log = logging.getLogger(__name__)
# flufl.bounce runs every detector it knows on a message and logs a traceback
# for each one that trips on mail not of its kind (a Header object, an empty
# From): expected on real mail, and never a traceback in an office's log.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

FAILED, DELAYED = "failed", "delayed"
NOTES = ("delayed", "relayed", "delivered", "expanded")
_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})")
# An enhanced status code inside a Diagnostic-Code ("smtp; 550 5.1.1 User unknown").
_STATUS_IN_TEXT = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_MSGID = re.compile(r"<[^<>\s]+>")
DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
MDN_TYPES = ("message/disposition-notification", "message/global-disposition-notification")


@dataclass(frozen=True)
class Recipient:
    """One per-recipient block of a DSN, or one address flufl.bounce found."""

    address: str
    original: str | None
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str | None  # e.g. "5.1.1"
    diagnostic: str = ""
    permanent: bool = False

    def describe(self) -> str:
        text = " ".join(x for x in (self.action, self.status or "", self.diagnostic) if x)
        return f"{self.address}: {text}"[:300]


@dataclass(frozen=True)
class Report:
    kind: str  # dsn | mdn | bounce (no report part; read by flufl.bounce)
    recipients: tuple[Recipient, ...] = ()
    disposition: str | None = None  # MDN: displayed, deleted, dispatched, processed
    original_message_id: str | None = None  # MDN: the mail it is about

    @property
    def failed(self) -> bool:
        return any(r.action == FAILED for r in self.recipients)

    def about(self, address: str | None) -> tuple[Recipient, ...]:
        """The blocks about ``address`` (final or original recipient); all of
        them when none names it (a forward changed the address on the way)."""
        want = (address or "").lower()
        mine = tuple(r for r in self.recipients if want and want in (r.address, r.original))
        return mine or self.recipients

    def summary(self) -> str:
        if self.kind == "mdn":
            return f"read receipt (RFC 8098): {self.disposition or 'no disposition'}"
        where = "delivery-status report (RFC 3464)" if self.kind == "dsn" else "bounce without a report part"
        return f"{where}: " + "; ".join(dict.fromkeys(r.describe() for r in self.recipients[:5]))


def status_code(value: str | None) -> str | None:
    m = _STATUS.match(value or "")
    return ".".join(m.groups()) if m else None


def _address(value: str | None) -> str | None:
    """``rfc822; user@example.com`` (RFC 3464 section 2.3.2) -> the address."""
    if not value:
        return None
    text = " ".join(str(value).split())
    text = text.split(";", 1)[1] if ";" in text else text
    text = text.strip().strip("<>").strip()
    return text.lower() or None


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a report part. The stdlib parses
    message/delivery-status into blocks itself; other report parts are text."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [p for p in payload if isinstance(p, Message)]
        if part.get_content_type() in MDN_TYPES:
            return blocks[:1]
        return blocks
    data = part.get_payload(decode=True)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload or "")
    return [HeaderParser(policy=compat32).parsestr(b) for b in re.split(r"\r?\n\s*\r?\n", text) if b.strip()]


def _dsn_recipient(block: Message) -> Recipient | None:
    action = (str(block.get("Action", "")).strip().split() or [""])[0].lower().rstrip(";")
    if action == "error":  # OpenSMTPD's non-standard word for failed
        action = FAILED
    final, original = _address(block.get("Final-Recipient")), _address(block.get("Original-Recipient"))
    if action not in (FAILED, *NOTES) or not (final or original):
        return None
    diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())[:200]
    # Status is required; a server that leaves it out usually gives the code
    # in Diagnostic-Code.
    found = _STATUS_IN_TEXT.search(diagnostic)
    status = status_code(block.get("Status")) or (".".join(found.groups()) if found else None)
    return Recipient(
        address=final or original or "",
        original=original,
        action=action,
        status=status,
        diagnostic=diagnostic,
        permanent=action == FAILED and (status or "").startswith("5"),
    )


def _mdn(part: Message) -> Report:
    fields = _blocks(part)
    block = fields[0] if fields else Message()
    disposition = str(block.get("Disposition", ""))
    kind = disposition.split(";", 1)[1] if ";" in disposition else ""
    word = (kind.strip().split("/")[0].split() or [""])[0].lower() or None
    ids = _MSGID.findall(str(block.get("Original-Message-ID", "")))
    final = _address(block.get("Final-Recipient"))
    recipients = (Recipient(final, _address(block.get("Original-Recipient")), "displayed", None),) if final else ()
    return Report("mdn", recipients, disposition=word, original_message_id=ids[0] if ids else None)


def parse_report(msg: Message) -> Report | None:
    """What ``msg`` reports about delivery, or None when it reports nothing."""
    recipients: list[Recipient] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in MDN_TYPES:
            return _mdn(part)
        if ctype in DSN_TYPES:
            recipients += [r for r in map(_dsn_recipient, _blocks(part)) if r is not None]
    if recipients:
        return Report("dsn", tuple(recipients))
    try:
        temporary, permanent = all_failures(_for_detectors(msg))
    except Exception as exc:  # noqa: BLE001 - a detector that trips on odd mail finds nothing
        log.warning("flufl.bounce could not read a bounce: %s: %s", type(exc).__name__, exc)
        return None
    found = [Recipient(a.decode("ascii").lower(), None, FAILED, None, permanent=True) for a in sorted(permanent)]
    found += [Recipient(a.decode("ascii").lower(), None, DELAYED, None) for a in sorted(temporary - permanent)]
    return Report("bounce", tuple(found)) if found else None


def _for_detectors(msg: Message) -> Message:
    """The message as flufl.bounce's detectors expect it: top-level headers as
    plain text (raw 8-bit values come back from the parser as ``Header``
    objects, which have no ``.lower()``) and a From header (one detector takes
    the first address of From). One detector that trips stops the whole scan,
    so this is done before it, not after. Changes ``msg`` in place."""
    for name, value in list(msg.items()):
        if not isinstance(value, str):
            msg.replace_header(name, decode(str(value)))
    if msg.get("From") is None:
        msg["From"] = "<>"
    return msg


def read_report(raw: bytes) -> Report | None:
    """Parse the raw message (as the standard library reads it) and read its report."""
    msg = email.message_from_bytes(raw, policy=compat32)
    return parse_report(msg)


def report_type(content_type: str | None) -> str | None:
    """The ``report-type`` parameter of a multipart/report Content-Type."""
    msg = Message()
    if content_type:
        msg["Content-Type"] = content_type
    value = msg.get_param("report-type")
    return str(value).strip().lower() if isinstance(value, str) and value.strip() else None
