"""Logging set up once, the same way in the CLI, the daemon and its sweep
children: our own loggers (``mailintake.*``) at the configured level, every
library at WARNING (fontTools' subsetting, APScheduler's start-up and
mail-parser's complaints about delivery reports are not news to an office),
and lines as text or, for journald and log shippers, one JSON object each.

A line written while a message is being processed says which message:
``about_message`` sets its folder and UID (and later its transaction ID) for
the code running inside it, and every record logged meanwhile carries them,
whichever module logs it. A call can also pass them itself with
``extra=about(...)``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

FORMATS = ("text", "json")
# The fields that name a message, in the order the text format shows them.
MESSAGE_FIELDS = ("transaction_id", "folder", "uid")
# Libraries that say too much even at WARNING for what they are to us.
QUIETER = {"mailparser": logging.ERROR, "flufl.bounce": logging.CRITICAL}

_OURS = "_mailintake_handler"
_current: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("mailintake_message", default=None)


def about(*, folder: str | None = None, uid: str | int | None = None, transaction_id: str | None = None) -> dict[str, str]:
    """The fields naming a message, for ``log.info(..., extra=about(...))``."""
    given = {"folder": folder, "uid": uid, "transaction_id": transaction_id}
    return {k: str(v) for k, v in given.items() if v is not None and v != ""}


@contextmanager
def about_message(*, folder: str | None = None, uid: str | int | None = None) -> Iterator[None]:
    """Every record logged inside carries this message's folder and UID."""
    token = _current.set(about(folder=folder, uid=uid))
    try:
        yield
    finally:
        _current.reset(token)


def note_transaction(transaction_id: str) -> None:
    """The message being processed now has a transaction ID: later records carry it."""
    fields = _current.get()
    if fields is not None:
        fields["transaction_id"] = transaction_id


class MessageFields(logging.Filter):
    """Adds the current message's fields to a record that does not name one."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_current.get() or {}).items():
            if not getattr(record, key, None):
                setattr(record, key, value)
        return True


def _fields(record: logging.LogRecord) -> dict[str, str]:
    return {k: str(v) for k in MESSAGE_FIELDS if (v := getattr(record, k, None))}


class TextFormatter(logging.Formatter):
    """``2025-12-04 08:30:01,123 WARNING mailintake.intake.pipeline: quarantined ... [INBOX/42]``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if not fields:
            return text
        where = "/".join(fields[k] for k in ("folder", "uid") if k in fields)
        label = " ".join(x for x in (fields.get("transaction_id"), where) if x)
        first, sep, rest = text.partition("\n")  # after the message, before a traceback
        return f"{first} [{label}]{sep}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the message's
    fields when there are any, and the traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (as logging's
    last resort does), so a test runner's captured stderr gets the lines."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


# The format the last ``configure`` chose, for the processes this one starts
# (the daemon's ``serve``): they log in the same format to the same journal.
active_format = "text"


def configure(level: str | int, fmt: str = "text", *, handler: logging.Handler | None = None) -> None:
    """Route every record to one handler (stderr unless given): ``mailintake.*``
    at ``level``, everything else at WARNING. Called again, it replaces the
    handler it added before (and leaves others' handlers, a test runner's, alone)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: expected one of {', '.join(FORMATS)}")
    global active_format
    active_format = fmt  # a process this one starts logs the same way
    if handler is None:
        handler = StderrHandler()
        handler.setFormatter(formatter(fmt))
    handler.addFilter(MessageFields())
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in root.handlers[:]:
        if getattr(old, _OURS, False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("mailintake").setLevel(level)
    for name, quiet in QUIETER.items():
        logging.getLogger(name).setLevel(quiet)
