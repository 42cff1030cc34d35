"""Parse: Thai in every charset mail uses, RFC 2047 and 2231, HTML-only bodies,
nested messages, TNEF, defects recorded instead of crashes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from mailintake.intake.parse import clean_filename, one_line, parse, valid_address

THAI = "ขออนุญาตจัดงานประเพณี ณ วัดบ้านใหม่"
DATA = Path(__file__).parent / "data"


def encoded_word(text: str, charset: str, codec: str) -> bytes:
    return b"=?" + charset.encode() + b"?B?" + base64.b64encode(text.encode(codec)) + b"?="


@pytest.mark.parametrize(
    "charset,codec",
    [
        ("utf-8", "utf-8"),
        ("tis-620", "tis_620"),
        ("windows-874", "cp874"),
        ("TIS620", "tis_620"),
        ("x-windows-874", "cp874"),
        ("iso-8859-11", "tis_620"),
    ],
)
def test_thai_subject_body_and_file_name_in_each_charset(charset: str, codec: str) -> None:
    name = "ใบคำขอ.pdf"
    raw = b"\r\n".join(
        [
            b"From: " + encoded_word("สมหญิง รักดี", charset, codec) + b" <somying@example.com>",
            b"To: saraban@banmai.go.th",
            b"Subject: " + encoded_word(THAI, charset, codec),
            b"Message-ID: <t1@example.com>",
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/mixed; boundary="XX"',
            b"",
            b"--XX",
            b"Content-Type: text/plain; charset=" + charset.encode(),
            b"Content-Transfer-Encoding: 8bit",
            b"",
            THAI.encode(codec),
            b"--XX",
            b"Content-Type: application/pdf",
            b"Content-Transfer-Encoding: base64",
            b'Content-Disposition: attachment; filename="' + encoded_word(name, charset, codec) + b'"',
            b"",
            base64.b64encode(b"%PDF-1.4\n%%EOF\n"),
            b"--XX--",
            b"",
        ]
    )
    msg = parse(raw)
    assert msg.subject == THAI
    assert msg.from_name == "สมหญิง รักดี"
    assert msg.body_text == THAI
    assert [a.name for a in msg.attachments] == [name]
    assert "\ufffd" not in msg.subject + msg.body_text


def test_rfc2231_thai_file_name_with_continuations() -> None:
    raw = (DATA / "rfc2231-thai.eml").read_bytes()
    msg = parse(raw)
    assert [a.name for a in msg.attachments] == ["สำเนาทะเบียนบ้าน นายสมชาย.pdf"]


def test_windows_874_sample_as_outlook_sends_it() -> None:
    msg = parse((Path(__file__).parent.parent / "samples" / "03-th-windows874-certify.eml").read_bytes())
    assert msg.subject == "ขอรับรองสำเนาเอกสาร"
    assert msg.from_name == "บริษัท รุ่งเรือง จำกัด"
    assert "เลขทะเบียนนิติบุคคล 0105561234567" in msg.body_text
    assert [a.name for a in msg.attachments] == ["หนังสือรับรอง.docx"]


def test_html_only_body_is_reduced_to_text() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{color:red}</style></head><body><p>\xe0\xb8\xaa\xe0\xb8\xa7\xe0\xb8\xb1\xe0\xb8\xaa\xe0\xb8\x94\xe0\xb8\xb5</p>"
        b"<p>line &amp; two<br>three</p><script>alert(1)</script></body></html>\r\n"
    )
    msg = parse(raw)
    assert msg.body_text == "สวัสดี\nline & two\nthree"


def test_nested_message_and_its_attachments_are_recognised() -> None:
    raw = (DATA / "forwarded.eml").read_bytes()
    msg = parse(raw)
    assert msg.nested_messages == 1
    assert [a.name for a in msg.attachments] == ["inner.pdf"]
    assert msg.attachments[0].nested


def test_tnef_winmail_dat_is_recognised() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: rtf\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
        b'--B\r\nContent-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n'
        b'Content-Disposition: attachment; filename="winmail.dat"\r\n\r\n'
        + base64.b64encode(b"\x78\x9f\x3e\x22" + b"\0" * 40)
        + b"\r\n--B--\r\n"
    )
    msg = parse(raw)
    assert msg.tnef and [a.name for a in msg.attachments] == ["winmail.dat"]


def test_broken_mail_gives_defects_not_exceptions() -> None:
    raw = (
        b"From: Content-Type: multipart/mixed; boundary=\r\nSubject: =?utf-8?B?broken?=\r\n"
        b'Date: not a date\r\nContent-Type: multipart/mixed; boundary="never"\r\n\r\nno boundary here\r\n'
    )
    msg = parse(raw)
    assert msg.from_addr is None
    assert any(d.startswith("From") for d in msg.defects)
    assert "Date: unreadable" in msg.defects


def test_unknown_charset_keeps_what_it_can_and_flags() -> None:
    raw = b"From: a@example.com\r\nSubject: =?x-unknown?B?" + base64.b64encode(b"\xe0\xb8") + b"?=\r\n\r\nbody\r\n"
    msg = parse(raw)
    assert msg.body_text == "body"


def test_reply_to_is_used_only_when_valid() -> None:
    good = parse(b"From: a@example.com\r\nReply-To: Home <b@example.net>\r\n\r\nx")
    assert good.reply_address == "b@example.net"
    two = parse(b"From: a@example.com\r\nReply-To: b@example.net, c@evil.example\r\n\r\nx")
    assert two.reply_address == "a@example.com"
    assert "Reply-To: 2 addresses" in two.defects
    # CVE-2023-27043 class: a quoted local part that hides a second address.
    tricky = parse(b'From: "alice@example.org" <bob@example.com>\r\n\r\nx')
    assert tricky.reply_address == "bob@example.com"
    assert valid_address("a@b@c.com") is None
    assert valid_address('"x y"@example.com') is None


def test_encoded_newlines_cannot_reach_a_header() -> None:
    subject = "=?utf-8?B?" + base64.b64encode(b"ok\r\nBcc: victim@example.com").decode() + "?="
    msg = parse(f"From: a@example.com\r\nSubject: {subject}\r\n\r\nx".encode())
    assert "\n" not in msg.subject and "\r" not in msg.subject
    assert msg.subject == "ok Bcc: victim@example.com"
    assert one_line("a\u202eb\x00c") == "ab c"


@pytest.mark.parametrize(
    "name,shown",
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\scan.pdf", "scan.pdf"),
        ("/abs/path.jpg", "path.jpg"),
        ("evil\u202efdp.exe", "evilfdp.exe"),
        ("", "attachment-3"),
        ("nul\x00byte.pdf", "nulbyte.pdf"),
    ],
)
def test_attachment_names_are_cleaned_for_display(name: str, shown: str) -> None:
    assert clean_filename(name, 3) == shown


def test_very_long_name_is_shortened_keeping_the_extension() -> None:
    shown = clean_filename("ก" * 10_000 + ".pdf", 1)
    assert len(shown) <= 120 and shown.endswith(".pdf")


@pytest.mark.parametrize("size", [10, 150_000, 400_001, 3_000_000])
def test_large_attachments_come_out_byte_for_byte(size: int) -> None:
    from mails import mail

    data = bytes((i * 7919) % 251 for i in range(size))
    for linesep in ("\n", "\r\n"):
        m = mail(
            "big", attachments=[("a.bin", data, "application/octet-stream"), ("b.bin", data[::-1], "application/octet-stream")]
        )
        raw = m.as_bytes(policy=m.policy.clone(linesep=linesep))
        parsed = parse(raw)
        assert [a.data for a in parsed.attachments] == [data, data[::-1]]
        assert parsed.body_text.strip() == "เรียน เจ้าหน้าที่\nขออนุญาตจัดงานครับ"
