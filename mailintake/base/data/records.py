"""The registry's rows as frozen records: what the data layer returns and what
the rest of the code passes around instead of ``dict[str, Any]``.

Times stay ISO 8601 text as stored (``datetime.fromisoformat`` reads them);
columns that hold a JSON list (``problems``, ``flags``, ...) are decoded to
tuples, JSON objects to dicts. ``from_row`` ignores columns a record does not
name, so a new migration never breaks an old reader; ``as_dict`` gives the
JSON-ready form that listings print.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

_JSON = {"json": True}


def _decode(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return tuple(decoded) if isinstance(decoded, list) else decoded


class Record:
    """Shared behaviour of the records below (each is a frozen dataclass)."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in row:
                continue
            value = row[f.name]
            if f.metadata.get("json"):
                default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
                value = _decode(value, default)
            values[f.name] = value
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class Application(Record):
    """One registered application or inquiry (table ``applications``)."""

    transaction_id: str
    status: str
    applicant_email: str
    received_at: str
    deemed_received_at: str
    ack_due_at: str
    ack_reason: str
    created_at: str
    updated_at: str
    kind: str = "application"  # application | inquiry
    service: str | None = None
    applicant_name: str | None = None
    subject: str | None = None
    acknowledged_at: str | None = None
    problems: tuple[str, ...] = field(default=(), metadata=_JSON)
    flags: tuple[str, ...] = field(default=(), metadata=_JSON)
    assigned_to: str | None = None
    due_at: str | None = None
    juristic: int = 0
    identity: dict[str, Any] | None = field(default=None, metadata=_JSON)
    poa: str | None = None
    stamp: str | None = None
    fee_amount: int | None = None
    fee_due_at: str | None = None
    payment_ref: str | None = None
    decision_reason: str | None = None
    replied_at: str | None = None
    last_message_id: str | None = None
    clock: dict[str, Any] | None = field(default=None, metadata=_JSON)  # desk.clock
    reply_to: str | None = None  # the reply address the applicant named (R5; desk.replyto)

    @property
    def reply_address(self) -> str:
        """Where every mail to the applicant goes: the address they named, else theirs (R5)."""
        return self.reply_to or self.applicant_email


@dataclass(frozen=True)
class Message(Record):
    """One message taken from the mailbox, whatever became of it (table ``messages``)."""

    id: int
    sha256: str
    kind: str
    created_at: str
    body_sha256: str | None = None
    message_id: str | None = None
    transaction_id: str | None = None
    folder: str | None = None
    uidvalidity: str | None = None
    uid: str | None = None
    received_at: str | None = None
    internaldate: str | None = None
    date_header: str | None = None
    received_chain: tuple[str, ...] = field(default=(), metadata=_JSON)
    fetched_at: str | None = None
    size: int | None = None
    from_addr: str | None = None
    reply_to: str | None = None
    to_addrs: tuple[str, ...] = field(default=(), metadata=_JSON)
    subject: str | None = None
    defects: tuple[str, ...] = field(default=(), metadata=_JSON)
    flags: tuple[str, ...] = field(default=(), metadata=_JSON)
    headers: dict[str, Any] | None = field(default=None, metadata=_JSON)
    stored: int = 0
    stage: str | None = None
    error: str | None = None
    attempts: int = 0
    outbox_id: int | None = None
    receipt_source: str = "internaldate"  # "received": a trusted Received: line (R1)
    trusted_received_at: str | None = None
    held_for: str | None = None  # the application a held message names (issue 11)
    held_reason: str | None = None


@dataclass(frozen=True)
class StoredFile(Record):
    """One attachment as checked and kept (table ``files``)."""

    id: int
    message_row: int
    sha256: str
    name: str
    size: int
    accepted: int
    transaction_id: str | None = None
    declared_type: str | None = None
    content_type: str | None = None
    kind: str | None = None
    dpi: float | None = None
    problem: str | None = None
    problem_th: str | None = None
    problem_en: str | None = None
    details: dict[str, Any] = field(default_factory=dict, metadata=_JSON)


@dataclass(frozen=True)
class OutgoingMail(Record):
    """One mail in the outbox (table ``outbox``); ``raw`` is the wire form."""

    id: int
    message_id: str
    kind: str
    recipient: str
    sender: str
    subject: str
    status: str  # pending | sent | failed | bounced | held
    next_attempt_at: str
    created_at: str
    transaction_id: str | None = None
    raw: bytes = field(default=b"", repr=False)
    attempts: int = 0
    last_error: str | None = None
    sent_at: str | None = None
    copied_to_sent: int = 0
    read_at: str | None = None
    delivery_notes: tuple[Any, ...] = field(default=(), metadata=_JSON)
    key_id: str | None = None  # sealed: ``raw`` and ``sms_text`` are ciphertext under this key (base.sealed)
    sms_to: str | None = None
    sms_text: bytes | None = field(default=None, repr=False)
    channel: str | None = None  # how it went: "smtp", "maildir" or "sms"

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out.pop("raw", None)
        out.pop("sms_text", None)
        return out


@dataclass(frozen=True)
class Permit(Record):
    """One permit issued (table ``permits``)."""

    number: str
    year: int
    seq: int
    transaction_id: str
    service: str
    holder_name: str
    holder_email: str
    issued_at: str
    valid_from: str
    valid_until: str
    approver: str
    approver_name: str
    approver_position: str
    status: str  # issued | delivered | delivery_failed | revoked
    particulars: dict[str, Any] = field(default_factory=dict, metadata=_JSON)
    revoked_at: str | None = None
    revoke_reason: str | None = None
    password_hash: str = field(default="", repr=False)
    pdf_sha256: str = ""
    qr_hash: str = ""
    signed: int = 0
    delivered_at: str | None = None
    pdf_message_id: str | None = None
    password_message_id: str | None = None
    content_sha256: str | None = None  # what the QR covers (permits.codes.content_hash); None before issue 11


@dataclass(frozen=True)
class Event(Record):
    """One audit event (table ``events``, append-only and hash-chained)."""

    id: int
    at: str
    actor: str
    action: str
    prev_hash: str
    hash: str
    transaction_id: str | None = None
    status_before: str | None = None
    status_after: str | None = None
    detail: str | None = None  # as stored: JSON text of a dict, or plain text (a note)
