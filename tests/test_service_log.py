"""The Table-2 service log (R11, issue 13 "The log and the channel") against
Dovecot and the SMTP sink, with --now: "date replied" is the first reply to the
applicant (its acknowledgement) and a later notice does not move it; a document registered at the
counter (``book add --channel walk-in``) is in the log with the source
``counter``, an emailed application with ``email``, one flagged as an officer's
forward with ``forwarded``."""

from __future__ import annotations

import csv
import io

from conftest import Env
from mails import at, mail

from mailintake.base.config import load
from mailintake.base.data import applications
from mailintake.base.deployment import Deployment
from samples.make_samples import scanned_pdf

OFFICE = """
[users]
somchai = ["clerk"]
"""
CLERK = {"MAILINTAKE_USER": "somchai"}


def test_date_replied_is_the_first_reply_and_the_source_is_the_channel(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    deploy.mailbox.append(
        mail("[EVT] งานวัด", attachments=[("form.pdf", scanned_pdf(2480, 3508), "application/pdf")]).as_bytes(),
        at("2025-12-09 09:00"),
    )
    deploy.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    tid = "SRB-2568-000001"
    deploy.run("triage", "review", tid, "--now", "2025-12-09T10:00:00+07:00", env=CLERK)
    deploy.run(
        "triage", "request-info", tid, "--reason", "ขอแผนผัง / The site plan", "--now", "2025-12-10T11:00:00+07:00", env=CLERK
    )
    assert len(deploy.smtp.messages()) == 3  # acknowledgement, under review, request for information
    deploy.run(
        "book", "add", "--from", "นางสาวนก ใจดี", "--subject", "คำร้องขอเลขที่บ้าน", "--channel", "walk-in",
        "--now", "2025-12-11T10:00:00+07:00", env=CLERK,
    )  # fmt: skip
    # An application an officer forwarded (R23) is flagged so; the log names that channel.
    deploy.mailbox.append(
        mail("[CERT] ขอรับรองสำเนา", attachments=[("d.pdf", scanned_pdf(2480, 3508), "application/pdf")]).as_bytes(),
        at("2025-12-12 09:00"),
    )
    deploy.run("sweep", "--now", "2025-12-12T09:05:00+07:00")
    dep = Deployment.build(load(deploy.config))
    try:
        with dep.registry.transaction():
            applications.update(dep.registry, "SRB-2568-000002", flags=("forwarded",))
    finally:
        dep.close()
    out = deploy.run("log", "export", "--from", "2025-12-01", "--to", "2025-12-31").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["Date replied"], r["Source"]) for r in rows] == [
        ("2025-12-09T09:05:00+07:00", "email"),  # the acknowledgement, not the later notices
        ("", "counter"),
        ("2025-12-12T09:05:00+07:00", "forwarded"),  # the acknowledgement
    ]
    assert rows[1]["Subject"] == "คำร้องขอเลขที่บ้าน" and rows[1]["Date received"].startswith("2025-12-11T10:00")
