"""The intake core end to end: messages arrive in a real Dovecot by IMAP APPEND
with chosen INTERNALDATEs, `mailintake sweep --now` runs, acknowledgements
arrive at a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from conftest import Env
from mails import at, html_of, mail, text_of
from mails import subject_of as decoded

from samples.make_samples import jpeg, scanned_pdf

ACK_SUBJECT = "ได้รับอีเมลของท่านแล้ว / Your email has been received"


def test_after_hours_application_is_registered_and_acknowledged_in_thai_and_english(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    original = mail(
        "ขออนุญาตจัดงานลอยกระทง",
        sender="สมชาย ใจดี <somchai@example.com>",
        reply_to="somchai.home@example.net",
        attachments=[("แบบคำขอ.pdf", scanned_pdf(2480, 3508), "application/pdf"), ("บัตร.jpg", jpeg(1280, 960, 72), "image/jpeg")],
    )
    # Thursday 4 Dec 2025 18:05 Bangkok: after hours; Friday 5 Dec is Father's Day.
    deploy.mailbox.append(original.as_bytes(), at("2025-12-04 18:05"))

    deploy.run("sweep", "--now", "2025-12-04T18:10:00+07:00")

    apps = deploy.json("triage", "list")
    assert len(apps) == 1
    app = apps[0]
    assert app["transaction_id"] == "SRB-2568-000001"
    assert app["status"] == "received"
    assert app["applicant_email"] == "somchai.home@example.net"
    assert app["subject"] == "ขออนุญาตจัดงานลอยกระทง"
    assert app["received_at"] == "2025-12-04T18:05:00+07:00"
    assert app["deemed_received_at"] == "2025-12-08T08:30:00+07:00"
    assert app["ack_due_at"] == "2025-12-08T10:00:00+07:00"
    assert app["acknowledged_at"] == "2025-12-04T18:10:00+07:00"
    assert app["problems"] == ["low_resolution"]
    pdf, photo = app["files"]
    assert (pdf["name"], pdf["content_type"], pdf["accepted"], pdf["problem"]) == ("แบบคำขอ.pdf", "application/pdf", True, None)
    assert 295 <= pdf["dpi"] <= 301
    assert (photo["name"], photo["accepted"], photo["problem"]) == ("บัตร.jpg", False, "low_resolution")
    assert photo["dpi"] < 200

    # The acknowledgement: one message, to Reply-To, threaded, marked automatic.
    assert len(deploy.smtp.received) == 1
    assert deploy.smtp.received[0]["to"] == ["somchai.home@example.net"]
    ack = deploy.smtp.messages()[0]
    assert ack["In-Reply-To"] == original["Message-ID"]
    assert original["Message-ID"] in ack["References"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    assert decoded(ack).startswith(f"[SRB-2568-000001] {ACK_SUBJECT}")
    body = text_of(ack)
    thai, english = body.split("-" * 70)
    assert "ได้รับอีเมลของท่านแล้ว" in thai and "0 4400 0000" in thai and "เทศบาลตำบลบ้านใหม่" in thai
    assert "วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 08:30 น." in thai  # Buddhist-era year in the Thai part
    assert "Your email has been received." in english and "Ban Mai Subdistrict Municipality" in english
    assert "Monday 8 December 2025, 08:30" in english
    assert "SRB-2568-000001" in thai and "SRB-2568-000001" in english
    assert "บัตร.jpg" in thai and "ความละเอียด" in thai and "below the required 300 dpi" in english
    assert "SRB-2568-000001" in html_of(ack)

    # Marked done at the source only after the commit, and a copy kept in Sent.
    inbox = deploy.mailbox.folder("INBOX")
    assert [b"$MailintakeDone" in v[b"FLAGS"] for v in inbox.values()] == [True]
    sent = deploy.mailbox.messages("Sent")
    assert [m["Message-ID"] for m in sent] == [ack["Message-ID"]]

    # The reason in words is stored and shown.
    shown = deploy.run("triage", "show", "SRB-2568-000001").stdout
    assert "after hours; 5 Dec is a public holiday (Father's Day); deemed received Mon 8 Dec 08:30" in shown


def test_second_sweep_registers_nothing_twice_and_answers_once(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    for i in range(3):
        deploy.mailbox.append(mail(f"คำขอ {i}").as_bytes(), at(f"2025-12-09 09:0{i}"))
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    deploy.run("sweep", "--now", "2025-12-09T09:40:00+07:00")
    apps = deploy.json("triage", "list")
    assert [a["transaction_id"] for a in apps] == [f"SRB-2568-00000{i}" for i in (1, 2, 3)]
    assert len(deploy.smtp.received) == 3
    # In working time: acknowledge by the close of that day.
    assert {a["ack_due_at"] for a in apps} == {"2025-12-09T16:30:00+07:00"}


def test_same_message_delivered_twice_is_one_application(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    raw = mail("ขออนุญาต").as_bytes()
    deploy.mailbox.append(raw, at("2025-12-09 10:00"))
    deploy.mailbox.append(raw, at("2025-12-09 10:00"))
    # A redelivery through another hop: new Received line, same Message-ID and body.
    deploy.mailbox.append(
        b"Received: from relay2.example.com by mx.banmai.go.th; Tue, 9 Dec 2025 10:01:00 +0700\r\n" + raw, at("2025-12-09 10:01")
    )
    deploy.run("sweep", "--now", "2025-12-09T10:05:00+07:00")
    assert len(deploy.json("triage", "list")) == 1
    assert len(deploy.smtp.received) == 1
    status = deploy.json("status")
    assert status["messages"] == {"application": 1, "duplicate": 2}


def test_spam_is_deleted_unopened_and_junk_that_is_not_spam_is_registered(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    spam = mail(
        "You WON",
        sender="win@lottery.example",
        headers={"X-Spam-Flag": "YES"},
        attachments=[("claim.pdf", b"MZ\x90\x00" * 100, "application/octet-stream")],
    )
    scored = mail("Cheap pills", sender="pills@spam.example", headers={"X-Rspamd-Score": "15.2"})
    real = mail("ขอหนังสือรับรอง", sender="nok@example.co.th")
    deploy.mailbox.append(spam.as_bytes(), at("2025-12-07 03:00"), folder="Junk")
    deploy.mailbox.append(scored.as_bytes(), at("2025-12-07 03:10"), folder="INBOX")
    deploy.mailbox.append(real.as_bytes(), at("2025-12-07 20:15"), folder="Junk")

    deploy.run("sweep", "--now", "2025-12-08T08:30:00+07:00")

    assert deploy.mailbox.folder("Junk") == {}
    inbox = deploy.mailbox.messages("INBOX")
    assert [m["Message-ID"] for m in inbox] == [real["Message-ID"]]
    apps = deploy.json("triage", "list")
    assert [a["applicant_email"] for a in apps] == ["nok@example.co.th"]
    # The INTERNALDATE survived the move back to INBOX.
    assert apps[0]["received_at"] == "2025-12-07T20:15:00+07:00"
    assert [m["to"] for m in deploy.smtp.received] == [["nok@example.co.th"]]
    status = deploy.json("status")
    assert status["messages"]["spam"] == 2
    # Spam is recorded by its headers, its body never stored.
    from mailintake.base.config import load
    from mailintake.base.data.db import Registry

    reg = Registry(load(deploy.config).db_path)
    rows = reg.all("SELECT stored, headers FROM messages WHERE kind = 'spam'")
    assert [r["stored"] for r in rows] == [0, 0]
    assert all("x-spam-flag" in r["headers"] or "x-rspamd-score" in r["headers"] for r in rows)


def test_auto_replies_are_recorded_and_never_answered(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    robots = [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"List-Id": "<news.example.com>"},
        {"X-Autoreply": "yes"},
        {"X-Auto-Response-Suppress": "OOF"},
    ]
    for i, headers in enumerate(robots):
        deploy.mailbox.append(
            mail(f"Out of office {i}", sender=f"person{i}@example.com", headers=headers).as_bytes(), at("2025-12-09 11:00")
        )
    deploy.mailbox.append(mail("Notice", sender="MAILER-DAEMON@mx.example.com").as_bytes(), at("2025-12-09 11:00"))
    deploy.mailbox.append(b"Return-Path: <>\r\n" + mail("Receipt", sender="robot@example.com").as_bytes(), at("2025-12-09 11:00"))
    # Auto-Submitted: no is a person.
    deploy.mailbox.append(mail("คำขอจริง", headers={"Auto-Submitted": "no"}).as_bytes(), at("2025-12-09 11:00"))
    deploy.run("sweep", "--now", "2025-12-09T11:30:00+07:00")
    assert len(deploy.json("triage", "list")) == 1
    assert len(deploy.smtp.received) == 1
    assert deploy.json("status")["messages"] == {"autoreply": 7, "application": 1}


def test_reply_with_transaction_id_or_threading_joins_the_application(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.mailbox.append(mail("ขออนุญาตจัดงาน").as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    ack = deploy.smtp.messages()[0]

    by_subject = mail(
        "Re: [srb-2568-000001] เอกสารเพิ่มเติม", attachments=[("เพิ่มเติม.pdf", scanned_pdf(2480, 3508), "application/pdf")]
    )
    threaded = mail(
        "Re: ได้รับอีเมลของท่านแล้ว",
        headers={"In-Reply-To": ack["Message-ID"], "References": ack["Message-ID"]},
        attachments=[("photo.jpg", jpeg(4032, 3024, 72), "image/jpeg")],
    )
    deploy.mailbox.append(by_subject.as_bytes(), at("2025-12-09 10:00"))
    deploy.mailbox.append(threaded.as_bytes(), at("2025-12-09 10:05"))
    deploy.run("sweep", "--now", "2025-12-09T10:10:00+07:00")

    apps = deploy.json("triage", "list")
    assert len(apps) == 1
    assert [f["name"] for f in apps[0]["files"]] == ["เพิ่มเติม.pdf", "photo.jpg"]
    assert "new_documents" in apps[0]["flags"]
    shown = deploy.json("triage", "show", "SRB-2568-000001")
    assert [m["kind"] for m in shown["messages"]] == ["application", "reply", "reply"]
    assert [e["action"] for e in shown["events"]].count("documents_added") == 2
    # Each batch of new documents gets a short bilingual receipt, threaded.
    receipts = deploy.smtp.messages()[1:]
    assert len(receipts) == 2
    assert all(decoded(r).startswith("[SRB-2568-000001] ได้รับเอกสารเพิ่มเติมแล้ว / Additional documents received") for r in receipts)
    assert receipts[0]["In-Reply-To"] == by_subject["Message-ID"]


def test_bounce_is_recorded_and_linked_to_the_acknowledgement_it_bounces(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.mailbox.append(mail("ขออนุญาต", sender="typo@exmaple.com").as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    ack = deploy.smtp.messages()[0]
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.banmai.go.th>\r\n"
        "To: saraban@banmai.go.th\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.banmai.go.th>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nHost exmaple.com not found.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.banmai.go.th\r\n\r\n"
        "Final-Recipient: rfc822; typo@exmaple.com\r\nAction: failed\r\nStatus: 5.1.2\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {ack['Message-ID']}\r\nSubject: whatever\r\n"
        "--B--\r\n"
    ).encode()
    deploy.mailbox.append(dsn, at("2025-12-09 09:12"))
    deploy.run("sweep", "--now", "2025-12-09T09:20:00+07:00")
    assert len(deploy.smtp.received) == 1  # a bounce is never answered
    out = deploy.json("outbox", "list")
    assert [(o["kind"], o["status"]) for o in out] == [("ack", "bounced")]
    shown = deploy.json("triage", "show", "SRB-2568-000001")
    assert "bounce_recorded" in [e["action"] for e in shown["events"]]


def test_recreated_folder_with_reused_uids_is_neither_skipped_nor_repeated(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    first = mail("คำขอแรก", mid="<first@example.com>")
    deploy.mailbox.append(first.as_bytes(), at("2025-12-09 09:00"), folder="Applications")
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    with deploy.mailbox.server.client(deploy.mailbox.user) as c:
        c.delete_folder("Applications")
        c.create_folder("Applications")
    # New UIDVALIDITY, UID 1 again: the old message and a new one.
    second = mail("คำขอที่สอง", mid="<second@example.com>")
    deploy.mailbox.append(second.as_bytes(), at("2025-12-09 09:20"), folder="Applications")
    deploy.mailbox.append(first.as_bytes(), at("2025-12-09 09:00"), folder="Applications")
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    apps = deploy.json("triage", "list")
    assert [a["subject"] for a in apps] == ["คำขอแรก", "คำขอที่สอง"]
    assert len(deploy.smtp.received) == 2


def test_a_message_that_fails_is_quarantined_and_retried_after_the_fix(deploy: Env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert deploy.mailbox is not None and deploy.smtp is not None
    broken = tmp_path / "templates"
    broken.mkdir()
    (broken / "ack.txt.j2").write_text("{{ no_such_field }}", encoding="utf-8")
    deploy.config.write_text(
        deploy.config.read_text().replace(
            'mailbox_address = "saraban@banmai.go.th"', f'mailbox_address = "saraban@banmai.go.th"\ntemplates_dir = "{broken}"'
        )
    )
    deploy.mailbox.append(mail("ขออนุญาต").as_bytes(), at("2025-12-09 09:00"))
    deploy.mailbox.append(mail("Out", headers={"Auto-Submitted": "auto-replied"}).as_bytes(), at("2025-12-09 09:01"))
    result = deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    assert "1 quarantined" in result.stdout and "1 autoreply" in result.stdout
    q = deploy.json("quarantine", "list")
    assert len(q) == 1 and q[0]["stage"] == "respond" and "no_such_field" in q[0]["error"]
    assert deploy.json("triage", "list") == []
    # Kept with us, so it is marked done at the source: the next sweep does not repeat it.
    deploy.run("sweep", "--now", "2025-12-09T09:20:00+07:00")
    assert len(deploy.json("quarantine", "list")) == 1

    (broken / "ack.txt.j2").unlink()
    out = deploy.run("quarantine", "retry", "--now", "2025-12-09T09:30:00+07:00").stdout
    assert "application SRB-2568-000001" in out
    assert deploy.json("quarantine", "list") == []
    apps = deploy.json("triage", "list")
    assert apps[0]["received_at"] == "2025-12-09T09:00:00+07:00"
    assert len(deploy.smtp.received) == 1


def test_smtp_temporary_failure_retries_with_backoff_and_permanent_failure_is_recorded(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.mailbox.append(mail("ขออนุญาต").as_bytes(), at("2025-12-09 09:00"))
    deploy.smtp.refuse = (451, "4.3.0 try again later")
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    [row] = deploy.json("outbox", "list")
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] == "2025-12-09T09:11:00+07:00"
    assert "451" in row["last_error"]
    # Not due yet: nothing is tried.
    deploy.run("outbox", "send", "--now", "2025-12-09T09:10:30+07:00")
    assert deploy.json("outbox", "list")[0]["attempts"] == 1
    deploy.smtp.refuse = None
    deploy.run("outbox", "send", "--now", "2025-12-09T09:11:00+07:00")
    [row] = deploy.json("outbox", "list")
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert deploy.json("triage", "list")[0]["acknowledged_at"] == "2025-12-09T09:11:00+07:00"

    deploy.mailbox.append(mail("คำขอ 2", sender="nobody@example.com").as_bytes(), at("2025-12-09 09:20"))
    deploy.smtp.refuse = (550, "5.1.1 no such user")
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    failed = deploy.json("outbox", "list")[1]
    assert failed["status"] == "failed" and "550" in failed["last_error"]
    shown = deploy.json("triage", "show", "SRB-2568-000002")
    assert "ack_failed" in [e["action"] for e in shown["events"]]
    assert any("failed" in w for w in deploy.json("status")["warnings"])


def test_smtp_down_gives_up_after_the_configured_time(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.mailbox.append(mail("ขออนุญาต").as_bytes(), at("2025-12-09 09:00"))
    deploy.smtp.stop()
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    assert deploy.json("outbox", "list")[0]["status"] == "pending"
    deploy.run("outbox", "send", "--now", "2025-12-10T09:10:00+07:00")  # 24 h later: give_up_hours = 24
    row = deploy.json("outbox", "list")[0]
    assert row["status"] == "failed" and "gave up after 24 h" in row["last_error"]


def test_status_reports_last_sweep_backlog_outbox_and_quota(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.mailbox.append(mail("ขออนุญาต").as_bytes(), at("2025-12-09 09:00"))
    before = deploy.json("status")
    assert before["last_sweep"] is None
    assert before["backlog"] == {"Junk": 0, "INBOX": 1}
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    after = deploy.json("status")
    assert after["last_sweep"]["clock"] == "2025-12-09T09:10:00+07:00"
    assert after["backlog"] == {"Junk": 0, "INBOX": 0}
    assert after["outbox"] == {"sent": 1}
    assert after["quota"] is None  # this test user has no quota


def test_quota_near_full_is_warned(dovecot, smtp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from servers import Mailbox

    box = Mailbox(dovecot, dovecot.new_user(quota_kb=100))
    env = Env(tmp_path, box, smtp)
    box.append(mail("big", body="x" * 85_000).as_bytes(), at("2025-12-09 09:00"))
    status = env.json("status")
    assert 80 <= status["quota"]["percent"] < 95
    assert any("quota" in w for w in status["warnings"])


def _tls_config(deploy: Env, security: str, port: int, ca: str | None) -> None:
    text = deploy.config.read_text()
    text = text.replace(
        'host = "127.0.0.1"\nport = ' + str(deploy.mailbox.server.port) + '\nsecurity = "none"',  # type: ignore[union-attr]
        f'host = "localhost"\nport = {port}\nsecurity = "{security}"' + (f'\nca_file = "{ca}"' if ca else ""),
    )
    deploy.config.write_text(text)


def test_imap_over_ssl_with_the_agencys_ca(deploy: Env) -> None:
    assert deploy.mailbox is not None
    server = deploy.mailbox.server
    _tls_config(deploy, "ssl", server.ssl_port, str(server.ca_file))
    deploy.mailbox.append(mail("ผ่าน SSL").as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    assert [a["subject"] for a in deploy.json("triage", "list")] == ["ผ่าน SSL"]


def test_imap_starttls(deploy: Env) -> None:
    assert deploy.mailbox is not None
    server = deploy.mailbox.server
    _tls_config(deploy, "starttls", server.port, str(server.ca_file))
    deploy.mailbox.append(mail("ผ่าน STARTTLS").as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    assert [a["subject"] for a in deploy.json("triage", "list")] == ["ผ่าน STARTTLS"]


def test_untrusted_certificate_is_one_clear_line(deploy: Env) -> None:
    assert deploy.mailbox is not None
    _tls_config(deploy, "ssl", deploy.mailbox.server.ssl_port, None)
    r = deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00", ok=False)
    assert r.exit_code == 1
    assert "certificate not trusted" in r.output and "ca_file" in r.output and "Traceback" not in r.output


def test_done_action_move_archives_processed_mail(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.config.write_text(
        deploy.config.read_text().replace("timeout_seconds = 20", 'timeout_seconds = 20\ndone_action = "move"')
    )
    deploy.mailbox.append(mail("ขออนุญาต").as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    assert deploy.mailbox.folder("INBOX") == {}
    assert len(deploy.mailbox.folder("Archive")) == 1
    deploy.run("sweep", "--now", "2025-12-09T09:20:00+07:00")
    assert len(deploy.json("triage", "list")) == 1


def test_date_header_far_from_receipt_is_flagged(deploy: Env) -> None:
    assert deploy.mailbox is not None
    deploy.mailbox.append(mail("เก่า", date=at("2025-12-01 09:00")).as_bytes(), at("2025-12-09 09:00"))
    deploy.run("sweep", "--now", "2025-12-09T09:10:00+07:00")
    [app] = deploy.json("triage", "list")
    assert app["flags"] == ["date_skew"]
    # R1: the receipt time is the server's, not the sender's Date header.
    assert app["received_at"] == "2025-12-09T09:00:00+07:00"


def test_quota_nearly_full_is_warned_at_95_percent_and_logged_by_the_sweep(dovecot, smtp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from servers import Mailbox

    box = Mailbox(dovecot, dovecot.new_user(quota_kb=100))
    env = Env(tmp_path, box, smtp)
    box.append(mail("big", body="x" * 97_000).as_bytes(), at("2025-12-09 09:00"))
    status = env.json("status")
    assert status["quota"]["percent"] >= 95
    assert any("nearly full" in w for w in status["warnings"])
    swept = env.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    assert "nearly full" in swept.output  # the sweep reports it too (and logs it)
