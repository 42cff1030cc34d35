"""Names and subjects decoded as a whole (RFC 2047 6.2), raw UTF-8 headers
(RFC 6532), charset supersets, the addr-spec rather than the display text; the
pre-parse scan of base64 runs around its threshold; parts counted without a
Content-Type."""

from __future__ import annotations

import base64
import os

import pytest
from conftest import Env
from mails import at, mail, text_of

from mailintake.base.config import load
from mailintake.intake.limits import TooComplex, count_parts, lighten, precheck
from mailintake.intake.parse import parse

NAME = "นางสาวสมหญิง รักษ์ไทยดีงามเสมอ"
SUBJECT = "ขออนุญาตจัดงานประเพณีลอยกระทง ณ วัดบ้านใหม่"
CODECS = {"utf-8": "utf-8", "tis-620": "tis_620", "windows-874": "cp874"}


def split_words(text: str, charset: str, cut: int) -> str:
    """Two B encoded-words, the bytes cut at ``cut``: for UTF-8 a cut that is
    not a multiple of 3 falls inside a Thai character, as mail programs do."""
    data = text.encode(CODECS[charset])
    a, b = data[:cut], data[cut:]
    return f"=?{charset}?B?{base64.b64encode(a).decode()}?=\r\n =?{charset}?Q?{''.join(f'={x:02X}' for x in b)}?="


@pytest.mark.parametrize("charset", list(CODECS))
@pytest.mark.parametrize("cut", [7, 8, 13])
def test_names_split_between_encoded_words_come_back_whole(charset: str, cut: int) -> None:
    name = split_words(NAME, charset, cut)
    raw = "\r\n".join(
        [
            f"From: {name} <somying@example.com>",
            f"Reply-To: {name} <somying.home@example.net>",
            f"To: {name} <saraban@banmai.go.th>, other@example.org",
            f"Subject: {split_words(SUBJECT, charset, cut + 3)}",
            "Message-ID: <split@example.com>",
            "",
            "body",
        ]
    ).encode("ascii")
    msg = parse(raw)
    assert msg.from_name == NAME
    assert msg.subject == SUBJECT
    assert msg.from_addr == "somying@example.com"
    assert msg.reply_to == "somying.home@example.net"
    assert msg.to_addrs == ("saraban@banmai.go.th", "other@example.org")
    assert "\ufffd" not in msg.headers["reply-to"][0] and NAME in msg.headers["to"][0]
    assert not [d for d in msg.defects if "undecodable" in d]


def test_raw_utf8_headers_are_read_as_utf8() -> None:
    raw = "\r\n".join(
        ["From: Jöhn Døe สมชาย <john@example.com>", "To: saraban@banmai.go.th", "Subject: héllo ไทย", "", "hi"]
    ).encode("utf-8")
    msg = parse(raw)
    assert (msg.from_name, msg.from_addr, msg.subject) == ("Jöhn Døe สมชาย", "john@example.com", "héllo ไทย")


def test_raw_8bit_thai_header_in_the_message_charset() -> None:
    raw = "\r\n".join(
        ["From: สมชาย ใจดี <somchai@example.com>", "Subject: ขออนุญาต", "Content-Type: text/plain; charset=tis-620", "", "ทดสอบ"]
    ).encode("tis_620")
    msg = parse(raw)
    assert (msg.from_name, msg.subject) == ("สมชาย ใจดี", "ขออนุญาต")


@pytest.mark.parametrize(
    "declared,codec,text",
    [
        ("gb2312", "gb18030", "中文 申请 镕"),  # 镕 is in GBK, not in GB 2312
        ("tis-620", "cp874", "ขออนุญาต – ครับ"),  # the en dash is a Windows-874 extra
        ("ks_c_5601-1987", "cp949", "신청서 똠방각하"),
    ],
)
def test_declared_charset_falls_back_to_its_superset(declared: str, codec: str, text: str) -> None:
    word = f"=?{declared}?B?{base64.b64encode(text.encode(codec)).decode()}?="
    msg = parse(f"From: a@example.com\r\nSubject: {word}\r\n\r\nx".encode("ascii"))
    assert msg.subject == text


def test_reply_to_display_text_that_looks_like_an_address_is_not_the_address() -> None:
    raw = b"From: Ivan <ivan@example.com>\r\nReply-To: henry@example.com <ivan@example.com>\r\nSubject: x\r\n\r\nbody"
    msg = parse(raw)
    assert msg.reply_to == "ivan@example.com"
    assert msg.reply_address == "ivan@example.com"


def test_undecodable_name_is_flagged_not_hidden() -> None:
    raw = b"From: =?utf-8?B?" + base64.b64encode(b"\xff\xfe\xfa") + b"?= <a@example.com>\r\nSubject: x\r\n\r\nb"
    msg = parse(raw)
    assert msg.from_addr == "a@example.com"
    assert "From: undecodable bytes in the name" in msg.defects


def _b64_part(lines: int, width: int = 76) -> tuple[bytes, bytes]:
    data = os.urandom(lines * width // 4 * 3)
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return data, body


@pytest.mark.parametrize("lines", [1, 39, 1999, 2000, 2001, 2002, 4500])
def test_base64_bodies_around_the_lift_threshold_come_back_byte_for_byte(lines: int) -> None:
    data, body = _b64_part(lines)
    raw = (
        b"From: a@example.com\r\nSubject: scan\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n'
        b"--B\r\nContent-Type: image/jpeg; name=scan.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + b"--B--\r\n"
    )
    light, blobs = lighten(raw)
    n_lines = body.count(b"\n")
    assert len(blobs) == (1 if n_lines >= 2000 else 0)
    assert (len(light) < len(raw) // 2) == (n_lines >= 2000)
    msg = parse(raw, (light, blobs))
    assert [a.data for a in msg.attachments] == [data]


def test_base64_lines_in_a_text_body_are_not_lifted() -> None:
    _data, body = _b64_part(2500)
    raw = b"From: a@example.com\r\nSubject: pasted\r\nContent-Type: text/plain\r\n\r\nsee below\r\n" + body
    light, blobs = lighten(raw)
    assert blobs == {} and light == raw
    assert "see below" in parse(raw).body_text


def test_parts_without_content_type_are_counted() -> None:
    limits = load(environ={}).limits
    body = b"".join(b"--XX\r\n\r\nline %d\r\n" % i for i in range(limits.max_parts + 5))
    raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" + body + b"--XX--\r\n"
    assert count_parts(raw) == limits.max_parts + 5
    with pytest.raises(TooComplex, match="MIME parts"):
        precheck(raw, limits)
    with pytest.raises(TooComplex, match="MIME parts"):
        parse(raw, max_parts=limits.max_parts)
    small = raw.replace(b"--XX\r\n", b"", limits.max_parts)  # leaves a few parts
    precheck(small, limits)
    assert len(parse(small, max_parts=limits.max_parts).attachments) <= 5


def test_acknowledgement_lists_at_most_the_configured_files(tmp_path, mailbox, smtp) -> None:  # type: ignore[no-untyped-def]
    env = Env(tmp_path, mailbox, smtp)
    with env.config.open("a", encoding="utf-8") as fh:
        fh.write("\n[limits]\nack_max_files = 3\n")
    files = [(f"note{i}.txt", f"หมายเหตุ {i}\n".encode(), "text/plain") for i in range(7)]
    files.append(("virus.exe", b"MZ\x90\x00" + b"\x00" * 200, "application/octet-stream"))
    mailbox.append(mail("ขออนุญาตจัดงาน", attachments=files).as_bytes(), at("2025-12-03 10:00"))
    env.run("sweep", "--now", "2025-12-03T10:05:00+07:00")
    app = env.json("triage", "list")[0]
    assert len(app["files"]) == 8  # every file is registered for the clerk
    body = text_of(smtp.messages()[0])
    thai, english = body.split("-" * 70)
    assert "virus.exe" in english  # the file with a problem is listed first
    assert sum(f"note{i}.txt" in english for i in range(7)) == 2
    assert "and 5 more file(s), all received and kept for the clerk" in english
    assert "และไฟล์อื่นอีก 5 ไฟล์" in thai
