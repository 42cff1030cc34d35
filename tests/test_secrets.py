"""Secrets that do not linger (issue 11): the permit password's mail is sealed
under a key kept outside the database, sent later than the file (or by SMS),
never copied to Sent, and once accepted nothing on the host, in the database
or in any backup can give the password back. Also: no `derived` password, a
QR that covers the permit's content, and a FAQ written by the clerk."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pikepdf
from conftest import Env
from mails import at, mail
from mails import text_of as text
from test_permits import APPROVER, CLERK, OFFICE, approved_certification, pdf_of

from mailintake.base.data.db import Registry

NOW = "2025-12-09T11:00:00+07:00"


def password_of(m: object) -> str:
    found = re.search(r"^\s{4}(\S+)$", text(m), re.M)  # type: ignore[arg-type]
    assert found is not None
    return found.group(1)


def files_holding(root: Path, needle: bytes) -> list[Path]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def outbox_rows(env: Env) -> list[dict]:  # type: ignore[type-arg]
    reg = Registry(env.storage / "mailintake.db")
    try:
        return reg.all("SELECT * FROM outbox ORDER BY id")
    finally:
        reg.close()


# --- the password's mail ---------------------------------------------------------------------------
def test_the_password_is_in_no_row_file_backup_or_sent_folder_once_sent(deploy: Env, tmp_path: Path) -> None:
    assert deploy.smtp is not None and deploy.mailbox is not None
    tid = approved_certification(deploy, delay=10)
    before = len(deploy.smtp.received)
    deploy.run("permit", "issue", tid, "--now", NOW, env=APPROVER)
    backups = tmp_path / "backups"
    deploy.run("backup", "create", "--out", str(backups), "--now", "2025-12-09T11:01:00+07:00")  # the mail still queued
    deploy.run("outbox", "send", "--now", "2025-12-09T11:11:00+07:00")  # due now; copies to Sent
    deploy.run("backup", "create", "--out", str(backups), "--now", "2025-12-09T11:12:00+07:00")
    pdf_mail, password_mail = deploy.smtp.messages()[before:]
    password = password_of(password_mail)
    with pikepdf.open(io.BytesIO(pdf_of(pdf_mail)), password=password):
        pass
    secret = password.encode()

    # The row says only that it went, when, to whom, and its Message-ID.
    row = next(r for r in outbox_rows(deploy) if r["kind"] == "permit_password")
    assert (row["status"], row["sent_at"], row["recipient"], row["message_id"]) == (
        "sent",
        "2025-12-09T11:11:00+07:00",
        "somchai.jaidee@example.com",
        password_mail["Message-ID"],
    )
    assert row["raw"] == b"" and row["key_id"] is None
    assert not any(secret in json.dumps(r, default=repr).encode() for r in outbox_rows(deploy))
    # Nothing under the data directory (database, its WAL, store, key files) nor in either backup.
    assert files_holding(deploy.storage, secret) == []
    assert files_holding(backups, secret) == []
    assert len(list(backups.iterdir())) == 2
    assert list((deploy.storage / "secrets").glob("*.key")) == []  # the key is shredded: old ciphertext is dead
    # The backup made before sending holds the sealed mail, never its key.
    early = Registry(sorted(backups.iterdir())[0] / "mailintake.db")
    try:
        sealed = early.one("SELECT raw, key_id FROM outbox WHERE kind = 'permit_password'")
    finally:
        early.close()
    assert sealed is not None and sealed["key_id"] and sealed["raw"] and secret not in sealed["raw"]
    assert not [p for p in backups.rglob("*") if sealed["key_id"] in p.name]
    # The shared Sent folder has the file's mail, not the password's.
    sent = deploy.mailbox.messages("Sent")
    assert pdf_mail["Message-ID"] in [m["Message-ID"] for m in sent]
    assert password_mail["Message-ID"] not in [m["Message-ID"] for m in sent]
    assert not any(secret in m.as_bytes() for m in sent)


def test_the_password_mail_is_not_due_before_the_delay(deploy: Env) -> None:
    assert deploy.smtp is not None
    tid = approved_certification(deploy, delay=10)
    before = len(deploy.smtp.received)
    out = deploy.run("permit", "issue", tid, "--now", NOW, env=APPROVER).stdout
    assert "its password follows in 10 min" in out
    assert [m["Subject"] for m in deploy.smtp.messages()[before:]] and len(deploy.smtp.received) == before + 1
    row = next(r for r in outbox_rows(deploy) if r["kind"] == "permit_password")
    assert (row["status"], row["next_attempt_at"]) == ("pending", "2025-12-09T11:10:00+07:00")
    assert deploy.run("outbox", "send", "--now", "2025-12-09T11:09:59+07:00").stdout.startswith("0 sent")
    assert len(deploy.smtp.received) == before + 1
    assert deploy.run("outbox", "send", "--now", "2025-12-09T11:10:00+07:00").stdout.startswith("1 sent")
    assert len(deploy.smtp.received) == before + 2
    assert deploy.json("permit", "list")[0]["status"] == "delivered"


def test_a_resend_withdraws_the_password_still_waiting_and_outbox_show_hides_it(deploy: Env) -> None:
    assert deploy.smtp is not None
    tid = approved_certification(deploy, delay=10)
    deploy.run("permit", "issue", tid, "--now", NOW, env=APPROVER)
    deploy.run("permit", "resend", tid, "--now", "2025-12-09T11:05:00+07:00", env=CLERK)
    first, second = [r for r in outbox_rows(deploy) if r["kind"] == "permit_password"]
    assert (first["status"], first["raw"], first["key_id"]) == ("failed", b"", None)
    assert "replaced by a new password" in first["last_error"]
    assert second["status"] == "pending" and second["key_id"]
    shown = json.loads(deploy.run("outbox", "show", str(second["id"]), "--json").stdout)
    assert shown["text"].startswith("(not kept: it carries a secret") and shown["to"] == "somchai.jaidee@example.com"
    before = len(deploy.smtp.received)
    assert deploy.run("outbox", "send", "--now", "2025-12-09T11:20:00+07:00").stdout.startswith("1 sent")
    [password_mail] = deploy.smtp.messages()[before:]
    assert password_mail["Message-ID"] == second["message_id"]


def sms_gateway(tmp_path: Path, code: int = 0) -> tuple[Path, str]:
    """A real small SMS gateway command: it writes its arguments and what came
    on its standard input to a file, and exits ``code``."""
    got = tmp_path / "sms.txt"
    script = tmp_path / "sms.py"
    script.write_text(
        "import sys\n"
        f"with open({str(got)!r}, 'ab') as fh:\n"
        "    fh.write(('ARGV ' + ' '.join(sys.argv[1:]) + '\\n').encode() + sys.stdin.buffer.read() + b'\\n')\n"
        f"sys.exit({code})\n",
        encoding="utf-8",
    )
    command = json.dumps([sys.executable, str(script), "--to", "{phone}"])
    return got, f"\n[permits]\nsms_command = {command}\n"


def test_the_password_goes_by_sms_on_stdin_and_not_by_email(deploy: Env, tmp_path: Path) -> None:
    assert deploy.smtp is not None
    got, extra = sms_gateway(tmp_path)
    tid = approved_certification(deploy, extra)
    before = len(deploy.smtp.received)
    deploy.run("permit", "issue", tid, "--sms-to", "081-234-5678", "--now", NOW, env=APPROVER)
    sent = deploy.smtp.messages()[before:]
    assert len(sent) == 1 and any(p.get_content_type() == "application/pdf" for p in sent[0].walk())
    said = got.read_text(encoding="utf-8")
    argv = said.splitlines()[0]
    assert argv == "ARGV --to 0812345678"  # the number in the arguments, never the password
    found = re.search(r"Password of permit CERT-2568-0001: (\S+)", said)
    assert found is not None and "รหัสผ่านเปิดไฟล์ใบอนุญาต CERT-2568-0001" in said
    with pikepdf.open(io.BytesIO(pdf_of(sent[0])), password=found.group(1)):
        pass
    row = next(r for r in outbox_rows(deploy) if r["kind"] == "permit_password")
    assert (row["status"], row["channel"], row["sms_to"], row["raw"], row["sms_text"]) == ("sent", "sms", "0812345678", b"", None)
    assert files_holding(deploy.storage, found.group(1).encode()) == []
    assert deploy.json("permit", "list")[0]["status"] == "delivered"
    events = deploy.json("audit", "list", "--id", tid)
    assert {"to": "0812345678", "channel": "sms"}.items() <= json.loads(
        next(e for e in events if e["action"] == "permit_password_sent")["detail"]
    ).items()


def test_a_failed_sms_falls_back_to_email_with_a_log_line(deploy: Env, tmp_path: Path, caplog: object) -> None:
    assert deploy.smtp is not None
    got, extra = sms_gateway(tmp_path, code=3)
    tid = approved_certification(deploy, extra)
    before = len(deploy.smtp.received)
    result = deploy.run("permit", "issue", tid, "--sms-to", "+66 81 234 5678", "--now", NOW, env=APPROVER)
    assert "ARGV --to +66812345678" in got.read_text(encoding="utf-8")
    pdf_mail, password_mail = deploy.smtp.messages()[before:]
    assert f"Password of permit CERT-2568-0001: {password_of(password_mail)}" in got.read_text(encoding="utf-8")
    assert "SMS for" in caplog.text and "failed (exit 3" in caplog.text and "by email instead" in caplog.text  # type: ignore[attr-defined]
    row = next(r for r in outbox_rows(deploy) if r["kind"] == "permit_password")
    assert (row["status"], row["channel"], row["raw"]) == ("sent", "smtp", b"")
    assert result.exit_code == 0


def test_sms_to_without_a_gateway_is_refused(deploy: Env) -> None:
    tid = approved_certification(deploy)
    r = deploy.run("permit", "issue", tid, "--sms-to", "0812345678", "--now", NOW, env=APPROVER, ok=False)
    assert r.exit_code == 1 and "set [permits] sms_command" in r.output and len(r.output.strip().splitlines()) == 1


def test_without_smtp_a_password_is_never_written_to_the_local_maildir(tmp_path: Path) -> None:
    from mailintake.base.config import load
    from mailintake.base.data.records import OutgoingMail
    from mailintake.intake.outbox import _write_local

    cfg = load(
        None, environ={"MAILINTAKE_STORAGE_PATH": str(tmp_path / "var"), "MAILINTAKE_SMTP_OUTGOING_PATH": str(tmp_path / "out")}
    )
    secret = OutgoingMail(
        1, "<a@b>", "permit_password", "x@example.com", "s@example.com", "s", "pending", "", "", raw=b"pw: Xk7pQ2mN4r"
    )
    [(_mail, err)] = _write_local(cfg, [secret])
    assert err is not None and "never written to the local Maildir" in str(err)
    assert files_holding(tmp_path, b"Xk7pQ2mN4r") == []


# --- no derived password -----------------------------------------------------------------------------
def test_a_config_with_the_derived_policy_is_one_line_and_exit_2(deploy: Env) -> None:
    deploy.config.write_text(deploy.config.read_text() + '\n[permits]\npassword_policy = "derived"\n', encoding="utf-8")
    r = deploy.run("permit", "list", ok=False)
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "[permits] password_policy" in lines[0]
    assert '"derived" was removed' in lines[0] and 'set "random"' in lines[0]


# --- the QR covers the content -----------------------------------------------------------------------
def test_an_altered_permit_fails_verify_and_a_sound_one_passes(deploy: Env, tmp_path: Path) -> None:
    assert deploy.smtp is not None
    tid = approved_certification(deploy)
    deploy.run("permit", "issue", tid, "--now", NOW, env=APPROVER)
    pdf_mail, password_mail = deploy.smtp.messages()[-2:]
    password = password_of(password_mail)
    pw = tmp_path / "pw.txt"
    pw.write_text(password + "\n", encoding="utf-8")
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf_of(pdf_mail))
    ok = json.loads(deploy.run("permit", "verify", str(good), "--password-file", str(pw), "--json", "--now", NOW).stdout)
    assert (ok["hash_ok"], ok["content_ok"], ok["qr_version"]) == (True, True, 2)
    assert ok["content"]["holder"] == "สมชาย ใจดี" and ok["content"]["number"] == "CERT-2568-0001"

    # The same number and QR, another holder and a longer validity: re-saved, still AES-256 with the password.
    forged = tmp_path / "forged.pdf"
    with pikepdf.open(good, password=password) as pdf:
        content = json.loads(str(pdf.docinfo["/MailintakeContent"]))
        content |= {"holder": "Mallory Forger", "valid_until": "2030-12-31T23:59:59+07:00"}
        pdf.docinfo["/MailintakeContent"] = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        pdf.save(forged, encryption=pikepdf.Encryption(user=password, owner="x" * 12, R=6))
    bad = deploy.run("permit", "verify", str(forged), "--password-file", str(pw), "--json", "--now", NOW, ok=False)
    assert bad.exit_code == 1
    result = json.loads(bad.stdout)
    assert (result["hash_ok"], result["content_ok"], result["status"]) == (True, False, "valid")
    human = deploy.run("permit", "verify", str(forged), "--password-file", str(pw), "--now", NOW, ok=False).stdout
    assert "content: ALTERED" in human


def test_a_permit_of_the_old_format_still_verifies(deploy: Env, tmp_path: Path) -> None:
    from mailintake.base.config import load
    from mailintake.permits import document
    from mailintake.permits.codes import qr_hash_v1

    tid = approved_certification(deploy)
    deploy.run("permit", "issue", tid, "--now", NOW, env=APPROVER)
    cfg = load(deploy.config)
    until = deploy.json("permit", "list")[0]["valid_until"]
    old_qr = f"MI-PERMIT|CERT-2568-0001|{qr_hash_v1(cfg, 'CERT-2568-0001', until)}"
    old, _owner = document.protect(bytes(document.new_page().output()), "pw-12345678", old_qr)
    (tmp_path / "old.pdf").write_bytes(old)
    (tmp_path / "pw.txt").write_text("pw-12345678\n", encoding="utf-8")
    r = deploy.run(
        "permit", "verify", str(tmp_path / "old.pdf"), "--password-file", str(tmp_path / "pw.txt"), "--json", "--now", NOW
    )
    result = json.loads(r.stdout)
    assert (result["qr_version"], result["hash_ok"], result["content_ok"], result["status"]) == (1, True, None, "valid")


# --- the FAQ -------------------------------------------------------------------------------------------
def test_the_faq_holds_only_what_a_clerk_wrote_for_it(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.config.write_text(deploy.config.read_text() + OFFICE, encoding="utf-8")
    question = mail(
        "สอบถามเวลาเปิดทำการ",
        body="ดิฉันนางสาวนกน้อย ใจดี เลขบัตร 1-1037-00012-34-5 โทร +66 81 234 5678 เปิดวันเสาร์ไหมคะ",
        sender="nok@example.com",
    )
    deploy.mailbox.append(question.as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:05:00+07:00")
    answer = deploy.tmp / "answer.txt"
    answer.write_text("ไม่เปิดวันเสาร์ค่ะ คุณนกน้อย", encoding="utf-8")
    deploy.run("triage", "reply", "SRB-2568-000001", "--file", str(answer), "--now", "2025-12-09T11:00:00+07:00", env=CLERK)
    # Answered, yet not published: nothing enters the FAQ by itself.
    assert deploy.json("inquiries", "faq") == []
    assert deploy.run("inquiries", "faq").stdout.strip() == ""

    deploy.run(
        "inquiries",
        "faq",
        "add",
        "SRB-2568-000001",
        "--question",
        "เปิดวันเสาร์หรือไม่",
        "--answer",
        "ไม่เปิด จันทร์-ศุกร์",
        "--question-en",
        "Open on Saturdays?",
        "--answer-en",
        "No, Mon-Fri.",
        env=CLERK,
    )
    faq = deploy.json("inquiries", "faq")
    assert [(f["question_en"], f["answer_en"], f["added_by"]) for f in faq] == [("Open on Saturdays?", "No, Mon-Fri.", "somchai")]
    published = deploy.run("inquiries", "faq").stdout
    for private in ("นกน้อย", "1-1037-00012-34-5", "+66 81 234 5678", "nok@example.com", "เปิดวันเสาร์ไหม"):
        assert private not in published
    events = [e["action"] for e in deploy.json("audit", "list", "--id", "SRB-2568-000001")]
    assert "faq_added" in events

    # Only an answered inquiry; an entry can be taken out again.
    refused = deploy.run(
        "inquiries",
        "faq",
        "add",
        "SRB-2568-999999",
        "--question",
        "ถาม",
        "--answer",
        "ตอบ",
        "--question-en",
        "q",
        "--answer-en",
        "a",
        env=CLERK,
        ok=False,
    )
    assert refused.exit_code == 1
    deploy.run("inquiries", "faq", "remove", str(faq[0]["id"]), env=CLERK)
    assert deploy.json("inquiries", "faq", "list") == []
