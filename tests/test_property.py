"""Property: whatever bytes arrive, parse -> classify -> check -> register ends
in one of the allowed outcomes, never an exception, never a second registration."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailintake.base.config import load
from mailintake.intake.sweep import Intake

ALLOWED = {"application", "reply", "autoreply", "bounce", "own", "verify", "duplicate", "quarantined"}
NOW = datetime.fromisoformat("2025-12-09T09:30:00+07:00")

_dir = Path(tempfile.mkdtemp(prefix="mailintake-prop-"))
(_dir / "config.toml").write_text(f'[storage]\npath = "{_dir}/var"\n[mailbox]\npath = "{_dir}/mail"\n'
                                  '[limits]\ncheck_seconds = 10\ncheck_memory_mb = 512\n')
INTAKE = Intake(load(_dir / "config.toml"))

header_names = st.sampled_from(["From", "To", "Subject", "Reply-To", "Message-ID", "In-Reply-To", "References",
                                "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Auto-Submitted",
                                "Precedence", "X-Spam-Flag", "Date", "MIME-Version", "List-Id"])
header_values = st.one_of(
    st.text(max_size=120),
    st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["multipart/mixed; boundary=B", 'multipart/mixed; boundary=""', "text/plain; charset=windows-874",
                     "text/plain; charset=x-unknown", "base64", "quoted-printable", "=?utf-8?B?4LiB?=", "<a@b>",
                     "=?tis-620?Q?=A1=A2?=", "auto-replied", "bulk", "yes", "attachment; filename*=utf-8''%E0%B8%81.pdf",
                     "Content-Type: multipart/mixed; boundary=", "Tue, 09 Dec 2025 09:00:00 +0700", "not a date"]),
)
bodies = st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
                   st.sampled_from([b"--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--B--",
                                    b"--B\r\n\r\n--B\r\n--B--", b"\xff\xd8\xff\xe0" + b"\0" * 50]))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(headers=st.lists(st.tuples(header_names, header_values), max_size=12), body=bodies)
def test_any_message_gets_an_allowed_outcome(headers: list[tuple[str, str]], body: bytes) -> None:
    head = b"".join(f"{k}: {v}".encode("utf-8", "surrogateescape").replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"
                    for k, v in headers)
    raw = head + b"\r\n" + body
    outcome = INTAKE.process(None, raw, NOW)
    assert outcome.kind in ALLOWED
    again = INTAKE.process(None, raw, NOW)
    # The same bytes twice are never two registrations.
    assert again.kind in ("duplicate", "quarantined")
