"""Properties of the road (``intake.pipeline.STAGES``): whatever bytes arrive end
in one of the allowed outcomes, never an exception, never a second
registration; and mail as a mail client writes it is never quarantined."""

from __future__ import annotations

import io
import tempfile
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

import pikepdf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from mailintake.base.config import load
from mailintake.intake.sweep import Intake

ALLOWED = {"application", "reply", "autoreply", "bounce", "own", "verify", "duplicate", "quarantined"}
NOW = datetime.fromisoformat("2025-12-09T09:30:00+07:00")

_dir = Path(tempfile.mkdtemp(prefix="mailintake-prop-"))
(_dir / "config.toml").write_text(
    f'[storage]\npath = "{_dir}/var"\n[mailbox]\npath = "{_dir}/mail"\n[limits]\ncheck_seconds = 10\ncheck_memory_mb = 512\n'
)
INTAKE = Intake(load(_dir / "config.toml"))

header_names = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Reply-To",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Auto-Submitted",
        "Precedence",
        "X-Spam-Flag",
        "Date",
        "MIME-Version",
        "List-Id",
    ]
)
header_values = st.one_of(
    st.text(max_size=120),
    st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
    st.sampled_from(
        [
            "multipart/mixed; boundary=B",
            'multipart/mixed; boundary=""',
            "text/plain; charset=windows-874",
            "text/plain; charset=x-unknown",
            "base64",
            "quoted-printable",
            "=?utf-8?B?4LiB?=",
            "<a@b>",
            "=?tis-620?Q?=A1=A2?=",
            "auto-replied",
            "bulk",
            "yes",
            "attachment; filename*=utf-8''%E0%B8%81.pdf",
            "Content-Type: multipart/mixed; boundary=",
            "Tue, 09 Dec 2025 09:00:00 +0700",
            "not a date",
        ]
    ),
)
bodies = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--B--",
            b"--B\r\n\r\n--B\r\n--B--",
            b"\xff\xd8\xff\xe0" + b"\0" * 50,
        ]
    ),
)


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(headers=st.lists(st.tuples(header_names, header_values), max_size=12), body=bodies)
def test_any_message_gets_an_allowed_outcome(headers: list[tuple[str, str]], body: bytes) -> None:
    head = b"".join(
        f"{k}: {v}".encode("utf-8", "surrogateescape").replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n" for k, v in headers
    )
    raw = head + b"\r\n" + body
    outcome = INTAKE.process(None, raw, NOW)
    assert outcome.kind in ALLOWED
    again = INTAKE.process(None, raw, NOW)
    # The same bytes twice are never two registrations.
    assert again.kind in ("duplicate", "quarantined")


def _pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


# Text as people type it: any letter, mark, number, punctuation, symbol or
# space of any script (Thai among them); no control characters.
typed = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn")), max_size=80)
local_parts = st.from_regex(r"[a-z][a-z0-9._-]{0,20}[a-z0-9]", fullmatch=True)
files = st.sampled_from(
    [
        ("แบบคำขอ.pdf", _pdf(), "application/pdf"),
        ("form.pdf", _pdf(), "application/pdf"),
        ("ภาพถ่าย.png", _png(), "image/png"),
        ("หมายเหตุ.txt", "ขอบคุณครับ\n".encode(), "text/plain"),
        ("data.bin", bytes(range(256)), "application/octet-stream"),
    ]
)


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    name=typed,
    local=local_parts,
    subject=typed,
    lines=st.lists(typed, max_size=8),
    attachments=st.lists(st.tuples(typed, files), max_size=3),
    reply_to=st.booleans(),
    number=st.integers(0, 10**9),
)
def test_well_formed_mail_is_never_quarantined(
    name: str,
    local: str,
    subject: str,
    lines: list[str],
    attachments: list[tuple[str, tuple[str, bytes, str]]],
    reply_to: bool,
    number: int,
) -> None:
    msg = EmailMessage(policy=SMTP)
    try:
        msg["From"] = f"{name.strip()} <{local}@example.co.th>" if name.strip() else f"{local}@example.co.th"
        msg["To"] = "saraban@banmai.go.th"
        msg["Subject"] = subject
        msg["Date"] = format_datetime(NOW)
        msg["Message-ID"] = f"<{number}.{local}@example.co.th>"
        if reply_to:
            msg["Reply-To"] = f"{local}.reply@example.co.th"
        msg.set_content("\n".join(lines) + "\n")
        for prefix, (file_name, data, ctype) in attachments:
            maintype, subtype = ctype.split("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=(prefix.strip() + file_name)[-100:])
        raw = msg.as_bytes()
    except (ValueError, TypeError, IndexError):
        assume(False)  # not something a mail client would write
        return
    outcome = INTAKE.process(None, raw, NOW)
    assert outcome.kind != "quarantined", INTAKE.reg.one("SELECT stage, error FROM messages WHERE id = ?", (outcome.message_row,))
    assert outcome.kind in ALLOWED
