"""Permits: issued as a Thai/English PDF, encrypted AES-256 with a password sent
in a separate email, verified by QR, register, signature and email. Documents
are checked by the data they carry (the QR, decoded by zbar from a pdftoppm
rendering), never by extracting shaped Thai text."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import subprocess
import sys
from email.message import Message
from pathlib import Path

import pikepdf
import pytest
from conftest import Env
from mails import at, mail
from mails import subject_of as subject
from mails import text_of as text
from pypdf import PdfReader

from mailintake.base.config import load
from mailintake.base.data.db import Registry
from mailintake.permits import document, thaibreak
from mailintake.permits.codes import check_password
from mailintake.permits.register import verdict
from samples.make_samples import scanned_pdf

OFFICE = """
[users]
somchai = ["clerk"]
malee = { roles = ["approver"], name = "นางมาลี ใจงาม", position = "ปลัดเทศบาลตำบลบ้านใหม่" }
kanya = ["finance"]
"""
CLERK, APPROVER = {"MAILINTAKE_USER": "somchai"}, {"MAILINTAKE_USER": "malee"}
CITIZEN = "somchai.jaidee@example.com"


def pdf_of(m: Message) -> bytes:
    for part in m.walk():
        if part.get_content_type() == "application/pdf":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError("no PDF attached")


def qr_of(pdf: bytes, password: str, tmp: Path) -> str:
    (tmp / "p.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-upw", password, "-r", "100", "-png", "-singlefile", str(tmp / "p.pdf"), str(tmp / "p")],
        check=True,
        capture_output=True,
    )
    return subprocess.run(
        ["zbarimg", "-q", "--raw", str(tmp / "p.png")], capture_output=True, text=True, check=True
    ).stdout.strip()


# A complete event-permit application: the form, the ID card copy and the site plan (issue 13).
EVENT_FILES = ("แบบคำขอ.pdf", "สำเนาบัตรประชาชน.pdf", "แผนผัง.pdf")


def approved_certification(env: Env, extra: str = "", delay: int = 0) -> str:
    """A low-risk, free service approved: ready for its permit (its password
    mail ``delay`` minutes after the PDF's: at once unless a test says)."""
    assert env.mailbox is not None
    permits = f"\n[permits]\npassword_delay_minutes = {delay}\n"
    extra = extra.replace("\n[permits]\n", permits, 1) if "\n[permits]\n" in extra else extra + permits
    env.config.write_text(env.config.read_text() + OFFICE + extra, encoding="utf-8")
    env.mailbox.append(
        mail(
            "[CERT] ขอรับรองสำเนาทะเบียนบ้าน",
            sender=f"สมชาย ใจดี <{CITIZEN}>",
            attachments=[("สำเนาทะเบียนบ้าน.pdf", scanned_pdf(2480, 3508), "application/pdf")],
        ).as_bytes(),
        at("2025-12-09 09:00"),
    )
    env.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    env.run("triage", "review", "SRB-2568-000001", "--now", "2025-12-09T10:00:00+07:00", env=CLERK)
    env.run("triage", "approve", "SRB-2568-000001", "--now", "2025-12-09T10:30:00+07:00", env=APPROVER)
    return "SRB-2568-000001"


def test_permit_is_issued_encrypted_and_delivered_in_two_separate_emails(deploy: Env, tmp_path: Path) -> None:
    assert deploy.smtp is not None
    tid = approved_certification(deploy)
    before = len(deploy.smtp.received)
    out = deploy.run("permit", "issue", tid, "--now", "2025-12-09T11:00:00+07:00", env=APPROVER).stdout
    assert out.strip() == f"permit CERT-2568-0001 issued for {tid}, valid until 2026-12-09; delivered"
    pdf_mail, password_mail = deploy.smtp.messages()[before:]
    assert [r["to"] for r in deploy.smtp.received[before:]] == [[CITIZEN], [CITIZEN]]

    # The file and its password never travel together, and the password is not in a subject.
    password = re.search(r"^\s{4}(\S+)$", text(password_mail), re.M).group(1)  # type: ignore[union-attr]
    assert len(password) == 10 and not set(password) & set("0O1lI5S2Z8B")
    assert password not in subject(password_mail) and password not in subject(pdf_mail)
    assert password not in pdf_mail.as_string()
    assert not any(p.get_filename() for p in password_mail.walk())
    assert subject(pdf_mail) == f"[{tid}] ใบอนุญาตเลขที่ CERT-2568-0001 / Permit No. CERT-2568-0001"
    assert "รหัสผ่านสำหรับเปิดไฟล์ส่งให้ท่านในอีเมลอีกฉบับ" in text(pdf_mail)
    assert "The password to open it comes in a separate email." in text(pdf_mail)
    assert "Please keep it confidential." in text(password_mail)
    for m in (pdf_mail, password_mail):
        assert m["In-Reply-To"] and m["Auto-Submitted"] is None

    pdf = pdf_of(pdf_mail)
    # AES-256, R=6; the user password opens it, no password does not.
    with pikepdf.open(io.BytesIO(pdf), password=password) as opened:
        assert opened.encryption.R == 6
        assert opened.encryption.stream_method.name == "aesv3" and opened.encryption.bits == 256
        assert len(opened.pages) == 1
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(pdf))
    (tmp_path / "q.pdf").write_bytes(pdf)
    qpdf = subprocess.run(
        ["qpdf", "--show-encryption", f"--password={password}", str(tmp_path / "q.pdf")], capture_output=True, check=True
    ).stdout.decode()
    assert "R = 6" in qpdf and "AESv3" in qpdf
    # pypdf reads AES-256 through the cryptography package.
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.is_encrypted and reader.decrypt(password) != 0
    assert len(reader.pages) == 1
    locked = PdfReader(io.BytesIO(pdf))
    assert locked.decrypt("wrong-password") == 0

    # The QR decodes to the register's data.
    reg = Registry(load(deploy.config).db_path)
    row = reg.one("SELECT * FROM permits WHERE number = 'CERT-2568-0001'")
    assert row is not None
    assert qr_of(pdf, password, tmp_path) == f"MI-PERMIT|2|CERT-2568-0001|{row['content_sha256']}|{row['qr_hash']}"
    # The password is kept only as a salted hash.
    assert password not in str(row) and check_password(password, row["password_hash"])
    assert (row["status"], row["approver_name"], row["signed"]) == ("delivered", "นางมาลี ใจงาม", 0)
    app = deploy.json("triage", "show", tid)
    assert app["status"] == "delivered"
    actions = [e["action"] for e in app["events"]]
    assert actions.index("permit_issued") < actions.index("permit_pdf_sent") < actions.index("permit_delivered")
    assert actions.index("permit_password_sent") < actions.index("permit_delivered")

    # permit verify: the delivered file is in the register; with the password the keyed hash checks.
    (tmp_path / "permit.pdf").write_bytes(pdf)
    (tmp_path / "pw.txt").write_text(password + "\n", encoding="utf-8")
    ok = deploy.run(
        "permit",
        "verify",
        str(tmp_path / "permit.pdf"),
        "--password-file",
        str(tmp_path / "pw.txt"),
        "--now",
        "2025-12-10T09:00:00+07:00",
        "--json",
    )
    assert '"status": "valid"' in ok.stdout and '"hash_ok": true' in ok.stdout and '"file_matches_register": true' in ok.stdout


def test_a_permit_needs_the_fee_paid_first(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    deploy.mailbox.append(
        mail("[EVT] งานวัด", attachments=[(n, scanned_pdf(2480, 3508), "application/pdf") for n in EVENT_FILES]).as_bytes(),
        at("2025-12-09 09:00"),
    )
    deploy.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    deploy.run("triage", "review", "SRB-2568-000001", env=CLERK)
    deploy.run("triage", "verify-identity", "SRB-2568-000001", "--method", "in-person", env=CLERK)
    deploy.run("triage", "approve", "SRB-2568-000001", env=APPROVER)
    r = deploy.run("permit", "issue", "SRB-2568-000001", ok=False, env=APPROVER)
    assert r.exit_code == 1
    assert r.output.strip() == (
        "Error: SRB-2568-000001: cannot issue a permit: status is fee_due; a permit follows approved (no fee) or fee_confirmed"
    )
    r = deploy.run("permit", "issue", "SRB-2568-000001", ok=False, env=CLERK)
    assert r.output.strip() == "Error: this needs the approver role; somchai has clerk"


def test_verification_by_email_valid_revoked_unknown_and_rate_limited(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    tid = approved_certification(deploy, "\n[permits]\nverify_per_sender_per_day = 3\n")
    deploy.run("permit", "issue", tid, "--now", "2025-12-09T11:00:00+07:00", env=APPROVER)
    n = len(deploy.smtp.received)

    def ask(subj: str, when: str, sender: str = "checker@example.org") -> None:
        assert deploy.mailbox is not None
        deploy.mailbox.append(mail(subj, body="", sender=sender).as_bytes(), at(when))

    ask("VERIFY CERT-2568-0001", "2025-12-10 09:40")
    ask("ตรวจสอบใบอนุญาต CERT-2568-9999", "2025-12-10 09:41")
    deploy.run("sweep", "--inbox-only", "--now", "2025-12-10T09:45:00+07:00")
    valid, unknown = deploy.smtp.messages()[n : n + 2]
    assert subject(valid) == "ผลการตรวจสอบใบอนุญาต / Permit check: CERT-2568-0001: valid"
    assert "สถานะ: ใช้ได้" in text(valid) and "Status: valid" in text(valid)
    # The holder's name is masked (PDPA).
    assert "สม***" in text(valid) and "สมชาย" not in text(valid) and CITIZEN not in text(valid)
    assert valid["In-Reply-To"] and valid["Auto-Submitted"] == "auto-replied"
    assert "Status: unknown" in text(unknown) and "ไม่พบในทะเบียน" in text(unknown)
    assert deploy.smtp.received[n]["to"] == ["checker@example.org"]

    deploy.run(
        "permit", "revoke", "CERT-2568-0001", "--reason", "ยื่นเอกสารเท็จ", "--now", "2025-12-10T10:00:00+07:00", env=APPROVER
    )
    revoked_notice = deploy.smtp.messages()[-1]
    assert deploy.smtp.received[-1]["to"] == [CITIZEN] and "ยื่นเอกสารเท็จ" in text(revoked_notice)
    ask("verify CERT-2568-0001", "2025-12-10 10:30")
    ask("VERIFY CERT-2568-0001", "2025-12-10 10:31")  # the 4th from this sender in 24 h: not answered
    before = len(deploy.smtp.received)
    deploy.run("sweep", "--now", "2025-12-10T10:35:00+07:00")
    answers = deploy.smtp.messages()[before:]
    assert len(answers) == 1 and "Status: revoked" in text(answers[0])
    assert deploy.json("permit", "status", "CERT-2568-0001", "--now", "2025-12-11T10:00:00+07:00")["status"] == "revoked"
    assert deploy.json("permit", "status", "CERT-2568-0001", "--now", "2025-12-11T10:00:00+07:00")["revoke_reason"]
    assert deploy.json("permit", "status", "NOPE-1")["status"] == "unknown"
    assert deploy.json("permit", "status", "CERT-2568-0001", "--now", "2027-01-01T00:00:00+07:00")["status"] == "revoked"


def test_expired_permit(deploy: Env) -> None:
    tid = approved_certification(deploy)
    deploy.run("permit", "issue", tid, "--valid-until", "2025-12-31", "--now", "2025-12-09T11:00:00+07:00", env=APPROVER)
    assert deploy.json("permit", "status", "CERT-2568-0001", "--now", "2025-12-31T23:00:00+07:00")["status"] == "valid"
    assert deploy.json("permit", "status", "CERT-2568-0001", "--now", "2026-01-01T00:00:01+07:00")["status"] == "expired"


def _pkcs12(tmp: Path) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Ban Mai Subdistrict Municipality"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp / "signer.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(b"banmai", key, cert, None, serialization.BestAvailableEncryption(b"p12pass"))
    )
    return path


def test_signed_permit_validates_and_a_tampered_one_does_not(deploy: Env, tmp_path: Path) -> None:
    assert deploy.smtp is not None
    p12 = _pkcs12(tmp_path)
    tid = approved_certification(deploy, f'\n[permits]\nsign_pkcs12 = "{p12}"\nsign_password = "p12pass"\n')
    deploy.run("permit", "issue", tid, "--now", "2025-12-09T11:00:00+07:00", env=APPROVER)
    pdf_mail, password_mail = deploy.smtp.messages()[-2:]
    password = re.search(r"^\s{4}(\S+)$", text(password_mail), re.M).group(1)  # type: ignore[union-attr]
    pdf = pdf_of(pdf_mail)
    # Signed after encryption: still AES-256 and the password still opens it.
    with pikepdf.open(io.BytesIO(pdf), password=password) as opened:
        assert opened.encryption.R == 6
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    pw = tmp_path / "pw.txt"
    pw.write_text(password + "\n", encoding="utf-8")
    r = deploy.run("permit", "verify", str(good), "--password-file", str(pw), "--json", "--now", "2025-12-10T09:00:00+07:00")
    assert '"intact": true' in r.stdout and '"trusted": true' in r.stdout
    assert '"status": "valid"' in r.stdout and '"hash_ok": true' in r.stdout
    human = deploy.run("permit", "verify", str(good), "--password-file", str(pw), "--now", "2025-12-10T09:00:00+07:00")
    assert human.stdout.strip() == (
        "permit CERT-2568-0001: valid; file in register: yes; keyed hash: ok; content: as issued; "
        "signature: valid, by the agency's certificate"
    )
    assert "Ban Mai Subdistrict Municipality" in r.stdout
    assert qr_of(pdf, password, tmp_path).startswith("MI-PERMIT|2|CERT-2568-0001|")

    # Change one byte inside the signed range: the signature no longer holds.
    data = bytearray(pdf)
    pos = data.find(b"/Producer")
    pos = pos if pos > 0 else len(data) // 3
    data[pos + 1] = ord("Q") if data[pos + 1] != ord("Q") else ord("R")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    r = deploy.run(
        "permit", "verify", str(bad), "--password-file", str(pw), "--json", "--now", "2025-12-10T09:00:00+07:00", ok=False
    )
    assert r.exit_code == 1
    assert '"intact": false' in r.stdout and '"file_matches_register": false' in r.stdout


def test_bounce_reopens_delivery_and_resend_makes_a_new_password(deploy: Env, tmp_path: Path) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    tid = approved_certification(deploy)
    deploy.run("permit", "issue", tid, "--now", "2025-12-09T11:00:00+07:00", env=APPROVER)
    pdf_mail, password_mail = deploy.smtp.messages()[-2:]
    old_password = re.search(r"^\s{4}(\S+)$", text(password_mail), re.M).group(1)  # type: ignore[union-attr]
    dsn = (
        "From: MAILER-DAEMON@mx.example.com\r\nTo: saraban@banmai.go.th\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-permit@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nMailbox full.\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {pdf_mail['Message-ID']}\r\n--B--\r\n"
    ).encode()
    deploy.mailbox.append(dsn, at("2025-12-09 11:10"))
    deploy.run("sweep", "--now", "2025-12-09T11:15:00+07:00")
    app = deploy.json("triage", "show", tid)
    assert app["status"] == "permit_issued" and "permit_delivery_bounced" in [e["action"] for e in app["events"]]
    assert deploy.json("permit", "list")[0]["status"] == "delivery_failed"

    deploy.run("permit", "resend", tid, "--now", "2025-12-09T13:00:00+07:00", env=CLERK)
    pdf_mail2, password_mail2 = deploy.smtp.messages()[-2:]
    new_password = re.search(r"^\s{4}(\S+)$", text(password_mail2), re.M).group(1)  # type: ignore[union-attr]
    assert new_password != old_password
    pdf2 = pdf_of(pdf_mail2)
    with pikepdf.open(io.BytesIO(pdf2), password=new_password):
        pass
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(pdf2), password=old_password)
    assert deploy.json("permit", "list")[0]["status"] == "delivered"
    assert deploy.json("triage", "show", tid)["status"] == "delivered"


def test_publish_a_register_without_personal_data(deploy: Env, tmp_path: Path) -> None:
    tid = approved_certification(deploy)
    deploy.run("permit", "issue", tid, "--now", "2025-12-09T11:00:00+07:00", env=APPROVER)
    out = tmp_path / "site"
    deploy.run("permit", "publish", "--out", str(out), "--now", "2025-12-10T09:00:00+07:00")
    html = (out / "index.html").read_text(encoding="utf-8")
    data = (out / "permits.json").read_text(encoding="utf-8")
    assert "CERT-2568-0001" in html and "CERT-2568-0001" in data
    assert "ทะเบียนใบอนุญาต" in html and "Permit register" in html
    for private in (CITIZEN, "สมชาย ใจดี", "example.com"):
        assert private not in html and private not in data
    # Public on purpose: a web server running as another user can read it.
    assert (out.stat().st_mode & 0o777, (out / "index.html").stat().st_mode & 0o777) == (0o755, 0o644)


def test_verdict_of_a_verification_names_each_check_and_passes_only_a_sound_file() -> None:
    sound = {
        "number": "EVT-2568-0001",
        "status": "valid",
        "file_matches_register": True,
        "hash_ok": True,
        "signature": {"intact": True, "valid": True, "trusted": True},
    }
    line, passed = verdict(sound)
    assert passed and line == (
        "permit EVT-2568-0001: valid; file in register: yes; keyed hash: ok; content: -; "
        "signature: valid, by the agency's certificate"
    )
    assert verdict({**sound, "content_ok": True})[1] and "content: as issued;" in verdict({**sound, "content_ok": True})[0]
    assert verdict({**sound, "content_ok": False}) == (line.replace("content: -", "content: ALTERED"), False)
    assert verdict({**sound, "signature": None})[1]
    assert verdict({**sound, "signature": None, "hash_ok": None})[1]
    assert verdict({**sound, "status": "revoked"}) == (line.replace(": valid;", ": revoked;", 1), False)
    assert verdict({**sound, "hash_ok": False})[0].count("keyed hash: WRONG") == 1
    assert not verdict({**sound, "hash_ok": False})[1]
    foreign = {**sound, "signature": {"intact": True, "valid": True, "trusted": False}}
    assert verdict(foreign) == (line.replace("valid, by the agency's", "valid, but not by the agency's"), False)
    broken = {**sound, "signature": {"intact": False, "valid": False, "trusted": False}}
    assert verdict(broken)[0].endswith("signature: BROKEN") and not verdict(broken)[1]
    unknown = {"status": "unknown", "file_matches_register": False, "hash_ok": None, "signature": None}
    assert verdict(unknown) == ("permit ?: unknown; file in register: no; keyed hash: -; content: -; signature: none", False)


# --- Thai line breaks ------------------------------------------------------------------------------
# Recorded with PyThaiNLP 5.4 (word_tokenize, engine "newmm") before it was replaced by
# mailintake.permits.thaibreak: the permit layouts' long lines break in the same places. One break
# is deliberately better: "permit's" no longer splits before the apostrophe.
CONDITIONS_TH = (
    "ผู้ได้รับอนุญาตต้องปฏิบัติตามกฎหมายและเงื่อนไขที่เจ้าหน้าที่กำหนด ใบอนุญาตนี้ตรวจสอบสถานะได้โดยส่งอีเมลหัวเรื่อง ตรวจสอบใบอนุญาต ตามด้วยเลขที่ใบอนุญาต"
)
EVENT_CONDITIONS_TH = (
    "ผู้ได้รับอนุญาตต้องดูแลความสะอาด ความปลอดภัย และไม่ส่งเสียงดังรบกวนผู้อื่นหลังเวลา ๒๒.๐๐ นาฬิกา "
    "ใบอนุญาตนี้ตรวจสอบสถานะได้โดยส่งอีเมลหัวเรื่อง ตรวจสอบใบอนุญาต ตามด้วยเลขที่ใบอนุญาต"
)
SUBJECT = (
    "เรื่อง / Subject: ขออนุญาตจัดงานวันเด็กแห่งชาติประจำปีสองพันห้าร้อยหกสิบเก้า ณ ลานอเนกประสงค์หน้าที่ว่าการอำเภอบ้านใหม่ "
    "พร้อมเครื่องขยายเสียงและเต็นท์จำนวนสิบหลัง"
)
HOLDER = (
    "ผู้ได้รับอนุญาต / Permit holder: นางสาวสมศรี ใจดีมีสุขเจริญรุ่งเรืองศรีสวัสดิ์วัฒนาสกุลไทยพานิชย์ ในนามคณะกรรมการจัดงานประเพณีลอยกระทงประจำหมู่บ้าน"
)
ADDRESS = (
    "องค์การบริหารส่วนตำบลบ้านใหม่ เลขที่ 99 หมู่ 4 ตำบลบ้านใหม่ อำเภอเมืองนครราชสีมา จังหวัดนครราชสีมา 30000 "
    "Ban Mai Subdistrict Administrative Organization, 99 Moo 4, Ban Mai, Mueang Nakhon Ratchasima"
)
EVENT_CONDITIONS_EN = (
    "The holder keeps the site clean and safe and makes no disturbing noise after 22:00. Check this permit's status by "
    "email with the subject VERIFY followed by the permit number."
)


@pytest.mark.parametrize(
    ("text", "size", "style", "lines"),
    [
        (
            CONDITIONS_TH,
            11,
            "",
            [
                "ผู้ได้รับอนุญาตต้องปฏิบัติตามกฎหมายและเงื่อนไขที่เจ้าหน้าที่กำหนด ใบอนุญาตนี้ตรวจสอบสถานะได้โดยส่ง",
                "อีเมลหัวเรื่อง ตรวจสอบใบอนุญาต ตามด้วยเลขที่ใบอนุญาต",
            ],
        ),
        (
            EVENT_CONDITIONS_TH,
            11,
            "",
            [
                "ผู้ได้รับอนุญาตต้องดูแลความสะอาด ความปลอดภัย และไม่ส่งเสียงดังรบกวนผู้อื่นหลังเวลา ๒๒.๐๐ นาฬิกา",
                "ใบอนุญาตนี้ตรวจสอบสถานะได้โดยส่งอีเมลหัวเรื่อง ตรวจสอบใบอนุญาต ตามด้วยเลขที่ใบอนุญาต",
            ],
        ),
        ("ใบอนุญาตให้จัดงานหรือกิจกรรมในที่สาธารณะ", 22, "B", ["ใบอนุญาตให้จัดงานหรือกิจกรรมในที่สาธารณะ"]),
        (
            SUBJECT,
            13,
            "",
            [
                "เรื่อง / Subject: ขออนุญาตจัดงานวันเด็กแห่งชาติประจำปีสองพันห้าร้อยหกสิบเก้า ณ ลาน",
                "อเนกประสงค์หน้าที่ว่าการอำเภอบ้านใหม่ พร้อมเครื่องขยายเสียงและเต็นท์จำนวนสิบหลัง",
            ],
        ),
        (
            HOLDER,
            13,
            "",
            [
                "ผู้ได้รับอนุญาต / Permit holder: นางสาวสมศรี ใจดีมีสุขเจริญรุ่งเรืองศรีสวัสดิ์วัฒนาสกุลไทย",
                "พานิชย์ ในนามคณะกรรมการจัดงานประเพณีลอยกระทงประจำหมู่บ้าน",
            ],
        ),
        (
            ADDRESS,
            11,
            "",
            [
                "องค์การบริหารส่วนตำบลบ้านใหม่ เลขที่ 99 หมู่ 4 ตำบลบ้านใหม่ อำเภอเมืองนครราชสีมา จังหวัดนครราชสีมา",
                "30000 Ban Mai Subdistrict Administrative Organization, 99 Moo 4, Ban Mai, Mueang Nakhon",
                "Ratchasima",
            ],
        ),
        (
            EVENT_CONDITIONS_EN,
            11,
            "",
            [
                "The holder keeps the site clean and safe and makes no disturbing noise after 22:00. Check this",
                "permit's status by email with the subject VERIFY followed by the permit number.",
            ],
        ),
    ],
)
def test_long_permit_lines_break_at_the_same_thai_word_boundaries(text: str, size: int, style: str, lines: list[str]) -> None:
    page = document.new_page()
    page.set_font("Sarabun", style, size)
    assert document._wrap(page, text, page.w - page.l_margin - page.r_margin) == lines


def test_thai_words_keep_every_character_and_numbers_whole() -> None:
    assert thaibreak.words("เวลา 12:00น อัตรา 1,234.5 บาท") == ["เวลา", " ", "12:00", "น", " ", "อัตรา", " ", "1,234.5", " ", "บาท"]
    assert thaibreak.words("ตรวจสอบใบอนุญาต") == ["ตรวจสอบ", "ใบอนุญาต"]
    assert thaibreak.break_units("Check this permit's status") == ["Check", " ", "this", " ", "permit's", " ", "status"]
    assert thaibreak.words("") == []


# --- signing is an extra ---------------------------------------------------------------------------
def test_a_signing_certificate_without_the_sign_extra_is_one_line_and_unsigned_permits_still_work(
    deploy: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert deploy.smtp is not None
    p12 = _pkcs12(tmp_path)
    tid = approved_certification(deploy, f'\n[permits]\nsign_pkcs12 = "{p12}"\nsign_password = "p12pass"\n')
    monkeypatch.setitem(sys.modules, "pyhanko", None)  # as if `pip install mailintake` without [sign]
    monkeypatch.setitem(sys.modules, "pyhanko.sign", None)
    r = deploy.run("permit", "issue", tid, "--now", "2025-12-09T11:00:00+07:00", ok=False, env=APPROVER)
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "Error: config.toml: [permits] sign_pkcs12 is set but permit signing is not installed: "
        "pip install 'mailintake[sign]', or empty sign_pkcs12 to issue unsigned permits"
    )
    sent = len(deploy.smtp.messages())
    deploy.config.write_text(deploy.config.read_text().replace(f'sign_pkcs12 = "{p12}"', ""))
    deploy.run("permit", "issue", tid, "--now", "2025-12-09T11:00:00+07:00", env=APPROVER)
    pdf_mail = deploy.smtp.messages()[sent:][0]
    assert subject(pdf_mail) == f"[{tid}] ใบอนุญาตเลขที่ CERT-2568-0001 / Permit No. CERT-2568-0001"


def test_a_signature_is_seen_without_the_sign_extra(tmp_path: Path) -> None:
    cfg = load(None)
    signing = dataclasses.replace(
        cfg, permits=dataclasses.replace(cfg.permits, sign_pkcs12=_pkcs12(tmp_path), sign_password="p12pass")
    )
    plain = bytes(document.new_page().output())
    unsigned, owner = document.protect(plain, "pw-1234", "MI-PERMIT|X-1|abc")
    signed = document.sign(signing, unsigned, owner)
    assert not document.is_signed(unsigned, "pw-1234")
    assert document.is_signed(signed, "pw-1234")
