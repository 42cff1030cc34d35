"""Real mail written by other programs (tests/data/corpus/, sources and licences
in its README): every message is delivered into one real Dovecot mailbox, one
real `mailintake sweep` runs with a real SMTP sink, and the tests check what a
user would check afterwards: the sweep ran cleanly, nothing was dropped, delivery
reports and robots were recognised and never answered, and every subject and
sender name that can be decoded was decoded.

The classes asserted here come from tests/data/corpus/expected.toml, written by
reading the messages. Whether a header is decodable is decided below with the
standard library only (``independent_decode``), not with mailintake's parser.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import codecs
import hashlib
import json
import re
import sqlite3
import tomllib
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Env
from mails import at
from servers import Dovecot, Mailbox, SmtpSink

from mailintake.base.config import load
from mailintake.cli import cli

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).parent / "data" / "corpus"
EXPECTED: dict[str, dict[str, str]] = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
DELIVERED_AT = at("2025-12-09 09:00")
NOW = "2025-12-09T10:30:00+07:00"

# What a message may end as (messages.kind): registered, recorded, or kept aside.
REGISTERED = {"application", "reply", "verify"}
RECORDED = {"spam", "autoreply", "bounce", "delivery_note", "read_receipt", "own", "duplicate", "oversized"}
QUARANTINED = "quarantined"
# The kinds each class of the expectation table accepts.
CLASS_KINDS = {
    "bounce": {"bounce"},
    # Not a failure: recorded as "bounce" it would mark our acknowledgement bounced.
    "delivery_note": {"delivery_note", "autoreply"},
    "read_receipt": {"read_receipt", "autoreply"},
    "autoreply": {"autoreply"},
    "robot": {"autoreply", "bounce", "delivery_note"},
    "spam": {"spam"},
}
# A quarantine reason that names an exception type (a builtin one, or any
# "...Error"/"...Exception") is a fault in our code that the catch-all hid, not
# a clear reason. Our own reasons (TooComplex, ParseTimeout, crash) are clear.
BUILTIN_ERRORS = {
    n for n in dir(builtins) if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)
}


def python_error(reason: str) -> bool:
    m = re.match(r"([\w.]+):", reason)
    name = m.group(1).rpartition(".")[2] if m else ""
    return name in BUILTIN_ERRORS or name.endswith(("Error", "Exception"))


def corpus_files() -> list[str]:
    return sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name not in ("README.md", "expected.toml")
    )


# --- deciding "decodable" without mailintake ------------------------------------------------

# A declared charset and the superset senders really mean by it.
SUPERSET = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "tis-620": "cp874",
    "tis620": "cp874",
    "iso-8859-11": "cp874",
    "windows-874": "cp874",
    "x-windows-874": "cp874",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_2",
    "big5": "big5hkscs",
}
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


class Undecodable(Exception):
    pass


def _codec(charset: str) -> str:
    name = charset.split("*", 1)[0].strip().lower()  # RFC 2231 language tag
    name = SUPERSET.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise Undecodable(f"unknown charset {charset!r}") from None


def _word_bytes(enc: str, text: str) -> bytes:
    try:
        if enc.lower() == "q":
            return binascii.a2b_qp(text.encode("ascii"), header=True)
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Undecodable(f"bad encoded-word payload: {exc}") from None


def independent_decode(raw: bytes, declared: str | None) -> str:
    """A header value as its sender meant it (raises ``Undecodable``): raw
    8-bit as UTF-8 or the declared charset, then RFC 2047 words with adjacent
    words of one charset joined before decoding (RFC 2047 section 6.2)."""
    value = re.sub(rb"\r?\n(?=[ \t])", b"", raw).strip()
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        for charset in ("utf-8", *([declared] if declared else [])):
            try:
                text = value.decode(_codec(charset))
                break
            except (UnicodeDecodeError, Undecodable):
                continue
        else:
            raise Undecodable(f"raw 8-bit bytes, neither UTF-8 nor {declared or 'a declared charset'}") from None
    out: list[str] = []
    run: tuple[str, bytearray] | None = None
    pos = 0

    def flush() -> None:
        nonlocal run
        if run is not None:
            try:
                out.append(bytes(run[1]).decode(run[0]))
            except UnicodeDecodeError as exc:
                raise Undecodable(f"bytes not valid in {run[0]}: {exc.reason}") from None
            run = None

    for m in ENCODED_WORD.finditer(text):
        gap = text[pos : m.start()]
        adjacent = run is not None and not gap.strip()  # white space between words is not text
        codec = _codec(m.group(1))
        data = _word_bytes(m.group(2), m.group(3))
        if adjacent and run is not None and run[0] == codec:
            run[1].extend(data)
        else:
            flush()
            if not adjacent:
                out.append(gap)
            run = (codec, bytearray(data))
        pos = m.end()
    flush()
    out.append(text[pos:])
    return "".join(out)


def raw_headers(raw: bytes) -> dict[str, bytes]:
    """The first value of each header, as raw bytes (folding kept)."""
    m = re.search(rb"\r?\n\r?\n", raw)
    block = raw[: m.start()] if m else raw
    found: dict[str, bytes] = {}
    for line in re.split(rb"\r?\n(?![ \t])", block):
        name, colon, value = line.partition(b":")
        if colon and re.fullmatch(rb"[!-9;-~]+", name):
            found.setdefault(name.decode("ascii").lower(), value)
    return found


def expected_text(raw: bytes, header: str) -> tuple[str | None, str]:
    """(decoded value or None when undecodable, why)."""
    value = raw_headers(raw).get(header)
    if value is None:
        return "", "absent"
    declared = message_from_bytes(raw, policy=compat32).get_content_charset()
    try:
        return independent_decode(value, declared), "decodable"
    except Undecodable as exc:
        return None, str(exc)


# --- one sweep of the whole corpus --------------------------------------------------------


@dataclass
class Swept:
    files: list[str]
    uid_file: dict[int, str]
    served: dict[str, bytes]  # what Dovecot hands out (line endings normalised)
    exit_code: int
    output: str
    exception: str | None
    report: dict[str, Any]
    rows: list[dict[str, Any]]
    apps: dict[str, dict[str, Any]]
    outbox: list[dict[str, Any]]
    sent: list[dict[str, Any]]
    row_of: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def swept(dovecot: Dovecot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swept]:
    files = corpus_files()
    user = dovecot.new_user()
    uid_file: dict[int, str] = {}
    with dovecot.client(user) as c:
        for name in files:
            resp = c.append("INBOX", (CORPUS / name).read_bytes(), msg_time=DELIVERED_AT)
            uid_file[int(resp.split(b"APPENDUID ")[1].split(b"]")[0].split()[1])] = name
        c.select_folder("INBOX", readonly=True)
        fetched = c.fetch(list(uid_file), ["BODY.PEEK[]"])
    served = {uid_file[uid]: v[b"BODY[]"] for uid, v in fetched.items()}
    sink = SmtpSink().start()
    try:
        env = Env(tmp_path_factory.mktemp("corpus"), Mailbox(dovecot, user), sink)
        result = CliRunner().invoke(cli, ["--config", str(env.config), "sweep", "--now", NOW, "--json"])
        exception = None
        if result.exc_info is not None and result.exception is not None and not isinstance(result.exception, SystemExit):
            exception = "".join(traceback.format_exception(*result.exc_info))
        try:
            report = json.loads(result.stdout)
        except ValueError:
            report = {}
        db = sqlite3.connect(load(env.config).db_path)
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("SELECT * FROM messages ORDER BY id")]
        apps = {r["transaction_id"]: dict(r) for r in db.execute("SELECT * FROM applications")}
        outbox = [dict(r) for r in db.execute("SELECT id, message_id, transaction_id, kind, recipient, status FROM outbox")]
        db.close()
        sent = list(sink.received)
    finally:
        sink.stop()
    out = Swept(files, uid_file, served, result.exit_code, result.output, exception, report, rows, apps, outbox, sent)
    for r in rows:
        if r["folder"] == "INBOX" and r["uid"] is not None and int(r["uid"]) in uid_file:
            out.row_of.setdefault(uid_file[int(r["uid"])], r)
    # For reading after a failure: each file's outcome and why (see bench/corpus_outcomes.py).
    (env.tmp / "outcomes.json").write_text(
        json.dumps(
            {
                n: {k: r[k] for k in ("kind", "stage", "error", "flags", "subject", "transaction_id")}
                for n, r in out.row_of.items()
            },
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    yield out


def duplicate_groups(served: dict[str, bytes], order: list[str]) -> dict[str, str]:
    """Each corpus file that repeats an earlier one -> the earlier file: the
    same bytes, or the same Message-ID with the same body, as Dovecot serves them."""
    first: dict[Any, str] = {}
    same_as: dict[str, str] = {}
    for name in order:
        raw = served[name]
        keys: list[Any] = [hashlib.sha256(raw).hexdigest()]
        mid = raw_headers(raw).get("message-id")
        m = re.search(rb"\r?\n\r?\n", raw)
        if mid and mid.strip():
            keys.append((mid.strip(), hashlib.sha256(raw[m.end() :] if m else b"").hexdigest()))
        earlier = next((first[k] for k in keys if k in first), None)
        if earlier is not None:
            same_as[name] = same_as.get(earlier, earlier)
        for k in keys:
            first.setdefault(k, name)
    return same_as


def table(faults: dict[str, list[str]]) -> str:
    return "\n".join(f"{k} ({len(v)}):\n  " + "\n  ".join(v) for k, v in faults.items() if v)


# --- what a user checks ---------------------------------------------------------------------


def test_corpus_is_large_and_every_class_names_a_real_file() -> None:
    files = set(corpus_files())
    assert len(files) >= 300
    for cls, entries in EXPECTED.items():
        assert cls in (*CLASS_KINDS, "undecodable"), cls
        assert set(entries) <= files, f"[{cls}] names files that are not in the corpus: {sorted(set(entries) - files)}"


def test_sweep_runs_cleanly(swept: Swept) -> None:
    assert swept.exception is None, swept.exception
    assert swept.exit_code == 0, swept.output
    assert "Traceback" not in swept.output
    assert swept.report.get("errors") == [], swept.report.get("errors")
    assert "left pending" not in swept.report.get("counts", {}), swept.report


def test_nothing_dropped(swept: Swept) -> None:
    counts = Counter(r["kind"] for r in swept.rows)
    faults: dict[str, list[str]] = {
        "no outcome": [],
        "unknown outcome": [],
        "quarantined without reason": [],
        "duplicate of nothing": [],
        "repeat not recognised": [],
    }
    for name in swept.files:
        row = swept.row_of.get(name)
        if row is None:
            faults["no outcome"].append(name)
        elif row["kind"] not in REGISTERED | RECORDED | {QUARANTINED}:
            faults["unknown outcome"].append(f"{name}: {row['kind']}")
        elif row["kind"] == QUARANTINED and not ((row["error"] or "").strip() and (row["stage"] or "").strip()):
            faults["quarantined without reason"].append(name)
    repeats = duplicate_groups(swept.served, [swept.uid_file[u] for u in sorted(swept.uid_file)])
    for name in swept.files:
        row = swept.row_of.get(name)
        if row is None:
            continue
        if row["kind"] == "duplicate" and name not in repeats:
            faults["duplicate of nothing"].append(name)
        earlier = swept.row_of.get(repeats.get(name, ""))
        if name in repeats and row["kind"] != "duplicate" and not (earlier and earlier["kind"] == row["kind"] == QUARANTINED):
            faults["repeat not recognised"].append(f"{name} repeats {repeats[name]}: {row['kind']}")
    summary = f"outcomes {dict(sorted(counts.items()))} for {len(swept.files)} delivered\n"
    assert not any(faults.values()), summary + table(faults)
    assert sum(counts.values()) == len(swept.files), summary


def _kind_of(swept: Swept, name: str) -> str:
    row = swept.row_of.get(name)
    return row["kind"] if row else "(no outcome)"


def test_delivery_reports_and_robots_are_recognised(swept: Swept) -> None:
    repeats = duplicate_groups(swept.served, [swept.uid_file[u] for u in sorted(swept.uid_file)])
    faults: dict[str, list[str]] = {}
    for cls, kinds in CLASS_KINDS.items():
        for name, why in EXPECTED.get(cls, {}).items():
            kind = _kind_of(swept, name)
            if kind in kinds or (kind == "duplicate" and name in repeats):
                continue
            row = swept.row_of.get(name) or {}
            detail = f" ({row.get('error') or row.get('flags')})" if row else ""
            faults.setdefault(f"{cls} recorded otherwise", []).append(f"{name}: {kind}{detail} -- {why}")
    assert not faults, table(faults)


def test_robots_are_never_answered(swept: Swept) -> None:
    robots = {name for cls in CLASS_KINDS for name in EXPECTED.get(cls, {})}
    by_mid = {o["message_id"]: o for o in swept.outbox}
    rows_of_tid: dict[str, list[str]] = {}
    file_of_row = {r["id"]: n for n, r in swept.row_of.items()}
    for r in swept.rows:
        if r["transaction_id"] and r["id"] in file_of_row:
            rows_of_tid.setdefault(r["transaction_id"], []).append(file_of_row[r["id"]])
    mids = {}
    for name in robots:
        mid = raw_headers((CORPUS / name).read_bytes()).get("message-id")
        if mid and mid.strip():
            mids[mid.strip().decode("ascii", "replace")] = name
    answered: list[str] = []
    for m in swept.sent:
        msg = message_from_bytes(m["raw"], policy=compat32)
        ob = by_mid.get(str(msg["Message-ID"]).strip())
        to = (ob or {}).get("transaction_id")
        for name in rows_of_tid.get(to or "", []):
            if name in robots:
                answered.append(f"{name}: {ob['kind'] if ob else '?'} to {m['to']}")
        replied = mids.get(str(msg["In-Reply-To"] or "").strip())
        if replied is not None:
            answered.append(f"{replied}: answered by {msg['Message-ID']} to {m['to']}")
    assert not answered, "robots answered:\n  " + "\n  ".join(sorted(set(answered)))


def _shown_texts(swept: Swept, row: dict[str, Any]) -> dict[str, str]:
    """What a clerk sees of the subject and the sender's name."""
    shown = {"subject": row["subject"] or ""}
    headers = json.loads(row["headers"]) if row["headers"] else {}
    if headers.get("from"):
        shown["from"] = " ".join(headers["from"])
    app = swept.apps.get(row["transaction_id"] or "") if row["kind"] == "application" else None
    if app is not None:
        shown["from name"] = app["applicant_name"] or ""
    return shown


def test_subjects_and_names_are_decoded(swept: Swept) -> None:
    faults: dict[str, list[str]] = {}
    undecodable = EXPECTED.get("undecodable", {})
    found_undecodable = set()
    for name in swept.files:
        raw = (CORPUS / name).read_bytes()
        subject, why_s = expected_text(raw, "subject")
        sender, why_f = expected_text(raw, "from")
        if subject is None or sender is None:
            found_undecodable.add(name)
        row = swept.row_of.get(name)
        if row is None or row["kind"] == QUARANTINED:
            continue
        for what, text in _shown_texts(swept, row).items():
            original = subject if what == "subject" else sender
            if original is None or "\ufffd" in original:
                continue  # nothing better can be shown
            if "\ufffd" in text:
                faults.setdefault(f"U+FFFD in {what}", []).append(f"{name}: {text[:90]!r} -- sent as {original[:90]!r}")
            elif ENCODED_WORD.search(text) and not ENCODED_WORD.search(original):
                faults.setdefault(f"encoded-word left in {what}", []).append(f"{name}: {text[:90]!r} -- means {original[:90]!r}")
    assert found_undecodable == set(undecodable), (
        "expected.toml [undecodable] disagrees with the stdlib decoding: "
        f"missing {sorted(found_undecodable - set(undecodable))}, extra {sorted(set(undecodable) - found_undecodable)}"
    )
    assert not faults, table(faults)


def test_quarantines_give_a_clear_reason(swept: Swept) -> None:
    unclear = [
        f"{name}: {row['stage']}: {row['error'][:160]}"
        for name, row in sorted(swept.row_of.items())
        if row["kind"] == QUARANTINED and python_error(row["error"] or "")
    ]
    assert not unclear, "quarantined by a Python error, not a reason:\n  " + "\n  ".join(unclear)
