"""The hostile corpus: what the internet sends a government mailbox.

    python tests/data/hostile/generate.py      # (re)writes the small items as .eml here

Each item is a builder returning raw bytes and the outcome mailintake must
record. Items under 200 KB are kept as files in this directory; larger ones are
built by the tests from the same builders.
"""

from __future__ import annotations

import base64
import io
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT))

from samples.make_samples import docx, jpeg, scanned_pdf  # noqa: E402

HEAD = (
    b"From: Tester <tester@example.com>\r\nTo: saraban@banmai.go.th\r\nDate: Tue, 09 Dec 2025 09:00:00 +0700\r\n"
    b"MIME-Version: 1.0\r\n"
)


def with_attachment(name: bytes, data: bytes, ctype: bytes = b"application/octet-stream", mid: bytes = b"") -> bytes:
    return (
        HEAD + b"Subject: hostile attachment\r\nMessage-ID: <att-" + (mid or name.replace(b" ", b"_")[:40]) + b"@example.com>\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n'
        b"--B\r\nContent-Type: " + ctype + b"\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="'
        + name
        + b'"\r\n\r\n'
        + base64.encodebytes(data).replace(b"\n", b"\r\n")
        + b"--B--\r\n"
    )


def deep_nesting(depth: int = 3000) -> bytes:
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return (
        HEAD + b"Subject: deep\r\nMessage-ID: <deep@example.com>\r\n" + opening + b"Content-Type: text/plain\r\n\r\nx" + closing
    )


def missing_boundary() -> bytes:
    return (
        HEAD + b"Subject: no boundary\r\nMessage-ID: <nob@example.com>\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--X\r\nContent-Type: text/plain\r\n\r\nhello\r\n--X--\r\n"
    )


def unclosed_boundary() -> bytes:
    return (
        HEAD + b'Subject: unclosed\r\nMessage-ID: <unclosed@example.com>\r\nContent-Type: multipart/mixed; boundary="U"\r\n\r\n'
        b"--U\r\nContent-Type: text/plain\r\n\r\nthe end never comes\r\n"
    )


def huge_header_block() -> bytes:
    junk = b"".join(b"X-Junk-%d: %s\r\n" % (i, b"y" * 900) for i in range(3500))
    return HEAD + junk + b"Subject: big headers\r\nMessage-ID: <bighdr@example.com>\r\n\r\nbody\r\n"


def subject_encoded_words(n: int = 50_000) -> bytes:
    words = b" ".join(b"=?utf-8?B?" + base64.b64encode("ก".encode()) + b"?=" for _ in range(n))
    return HEAD + b"Subject: " + words + b"\r\nMessage-ID: <words@example.com>\r\n\r\nbody\r\n"


def many_recipients(n: int = 30_000) -> bytes:
    to = b",\r\n ".join(b"person%d@example.com" % i for i in range(n))
    return (
        HEAD.replace(b"To: saraban@banmai.go.th\r\n", b"")
        + b"To: "
        + to
        + b"\r\nSubject: many\r\nMessage-ID: <rcpt@example.com>\r\n\r\nx\r\n"
    )


def rfc2231_continuations(n: int = 20_000) -> bytes:
    params = b";\r\n".join(b" filename*%d*=%%41" % i for i in range(n))
    return (
        HEAD + b'Subject: params\r\nMessage-ID: <params@example.com>\r\nContent-Type: multipart/mixed; boundary="P"\r\n\r\n'
        b"--P\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
        + params
        + b"\r\n\r\nJVBERi0=\r\n--P--\r\n"
    )


def broken_from() -> bytes:
    return (
        b"From: Content-Type: multipart/mixed; boundary=\r\nTo: saraban@banmai.go.th\r\nSubject: broken from\r\n"
        b"Message-ID: <brokenfrom@example.com>\r\n\r\nbody\r\n"
    )


def missing_message_id() -> bytes:
    return HEAD + b"Subject: no id\r\n\r\nbody without a Message-ID\r\n"


def nul_and_controls() -> bytes:
    return HEAD + b"Subject: bad\x00 sub\x07ject\x1b[31m red\r\nMessage-ID: <nul@example.com>\r\nX-Odd: a\x00b\r\n\r\nbody\r\n"


def unknown_charset() -> bytes:
    return (
        HEAD + b"Subject: =?x-martian?B?" + base64.b64encode(b"\xe0\xb8\x81") + b"?=\r\nMessage-ID: <unk@example.com>\r\n"
        b"Content-Type: text/plain; charset=x-martian\r\n\r\n\xe0\xb8\x81\xe0\xb8\x82\r\n"
    )


def undecodable_utf8() -> bytes:
    return (
        HEAD + b"Subject: =?utf-8?B?" + base64.b64encode(b"\xff\xfe bad") + b"?=\r\nMessage-ID: <undec@example.com>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nok \xff\xfe\r\n"
    )


def injection() -> bytes:
    evil = base64.b64encode("สวัสดี\r\nBcc: victim@example.net\r\nX-Evil: 1".encode())
    return (
        HEAD.replace(
            b"From: Tester <tester@example.com>",
            b"From: =?utf-8?B?" + base64.b64encode(b"Eve\r\nBcc: x@evil.example") + b"?= <eve@example.com>",
        )
        + b"Subject: =?utf-8?B?"
        + evil
        + b"?=\r\nMessage-ID: <inj@example.com>\r\n\r\nx\r\n"
    )


def two_addresses_in_reply_to() -> bytes:
    return (
        HEAD + b'Reply-To: "victim@example.net" <attacker@evil.example>, other@evil.example\r\n'
        b"Subject: who gets the reply\r\nMessage-ID: <twoaddr@example.com>\r\n\r\nx\r\n"
    )


def bad_names() -> bytes:
    names = [
        b"../../etc/passwd.pdf",
        b"/abs/path.pdf",
        b"C:\\\\Windows\\\\x.pdf",
        b"CON.pdf",
        b"evil\xe2\x80\xaefdp.exe",
        b"",
        b"n" * 10_000 + b".pdf",
    ]
    parts = b"".join(
        b"--N\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="' + n + b'"\r\n\r\n' + base64.b64encode(b"%PDF-1.4\n%%EOF\n") + b"\r\n"
        for n in names
    )
    return (
        HEAD
        + b'Subject: names\r\nMessage-ID: <names@example.com>\r\nContent-Type: multipart/mixed; boundary="N"\r\n\r\n'
        + parts
        + b"--N--\r\n"
    )


def zip_named_pdf() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("payload.exe", b"MZ" + b"\0" * 100)
    return with_attachment(b"form.pdf", buf.getvalue(), b"application/pdf")


def polyglot() -> bytes:
    return with_attachment(b"scan.jpg", jpeg(600, 800, 300) + scanned_pdf(200, 280), b"image/jpeg")


def decompression_bomb() -> bytes:
    data = bytearray(jpeg(64, 64, 300))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 40000, 40000)  # height, width: 1.6 gigapixels
    return with_attachment(b"bomb.jpg", bytes(data), b"image/jpeg")


def pdf_bomb(inflated_mb: int = 1024) -> bytes:
    """A one-page PDF whose content stream inflates to ``inflated_mb``."""
    comp = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    stream = b"".join(comp.compress(chunk) for _ in range(inflated_mb)) + comp.flush()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return with_attachment(b"bomb.pdf", _pdf(objs), b"application/pdf")


def pdf_page_loop() -> bytes:
    """A page tree whose /Kids point back at itself (pypdf's infinite-loop class)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    return with_attachment(b"loop.pdf", _pdf(objs), b"application/pdf")


def _pdf(objs: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def fan_pdf(levels: int = 9, fanout: int = 6, tag: int = 0) -> bytes:
    """Form XObjects that draw each other in a fan: each form draws the next one
    ``fanout`` times, so a walk that follows every path visits fanout**levels forms."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /XObject << /F 5 0 R >> >> >>",
        b"<< /Length 6 >>\nstream\n/F Do\nendstream",
    ]
    for i in range(levels):
        last = i == levels - 1
        body = b"0 0 m %d 0 l S\n" % tag if last else b"".join(b"q 1 0 0 1 %d 0 cm /F Do Q\n" % k for k in range(fanout))
        res = b"" if last else b" /Resources << /XObject << /F %d 0 R >> >>" % (6 + i)
        objs.append(
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 10 10]%s /Length %d >>\nstream\n" % (res, len(body))
            + body
            + b"\nendstream"
        )
    return _pdf(objs)


def six_fan_pdfs() -> bytes:
    parts = b"".join(
        b"--F\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="form%d.pdf"\r\n\r\n'
        % i
        + base64.encodebytes(fan_pdf(tag=i)).replace(b"\n", b"\r\n")
        for i in range(6)
    )
    return (
        HEAD
        + b'Subject: six forms\r\nMessage-ID: <fans@example.com>\r\nContent-Type: multipart/mixed; boundary="F"\r\n\r\n'
        + parts
        + b"--F--\r\n"
    )


def jpeg_30000() -> bytes:
    """A 30,000 x 30,000 pixel JPEG header (900 megapixels) on a tiny file."""
    data = bytearray(jpeg(64, 64, 300))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 30000, 30000)
    return with_attachment(b"photo.jpg", bytes(data), b"image/jpeg")


def docx_many_entries(n: int = 10_000) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        for i in range(n):
            zf.writestr(f"word/media/e{i}.xml", "")
    return with_attachment(b"letter.docx", buf.getvalue())


def docx_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("word/media/huge.bin", b"\0" * (400 * 1024 * 1024))
    return with_attachment(b"letter.docx", buf.getvalue())


def docx_macros() -> bytes:
    data = io.BytesIO(docx("ขอแสดงความนับถือ"))
    with zipfile.ZipFile(data, "a") as zf:
        zf.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 macro")
    return with_attachment(b"letter.docx", data.getvalue())


def txt_invalid() -> bytes:
    return with_attachment(
        b"note.txt", b"Dear officer, this note has broken bytes \xff\xfe\xfd\xfc in the middle.\n" * 20, b"text/plain"
    )


def txt_single_line(mb: int = 100) -> bytes:
    return with_attachment(b"line.txt", b"a" * (mb * 1024 * 1024), b"text/plain")


def own_ack_back() -> bytes:
    return (
        b"From: saraban@banmai.go.th\r\nTo: saraban@banmai.go.th\r\nSubject: [SRB-2568-000001] ack\r\n"
        b"Message-ID: <srb-2568-000001.ack.0123456789abcdef@banmai.go.th>\r\nX-Mailintake-ID: SRB-2568-000001\r\n"
        b"Date: Tue, 09 Dec 2025 09:00:00 +0700\r\n\r\nlooped back\r\n"
    )


def list_unsubscribe() -> bytes:
    return (
        HEAD + b"Subject: newsletter\r\nMessage-ID: <news@example.com>\r\n"
        b"List-Unsubscribe: <mailto:unsub@example.com>\r\n\r\nnews\r\n"
    )


@dataclass(frozen=True)
class Item:
    build: Callable[[], bytes]
    outcome: str  # the message kind recorded: application, quarantined, autoreply, own, oversized
    reason: str  # a word the recorded reason (quarantine error, file problem, defect) must contain


ITEMS: dict[str, Item] = {
    "deep-nesting": Item(deep_nesting, "quarantined", "nested multipart"),
    "missing-boundary": Item(missing_boundary, "application", ""),
    "unclosed-boundary": Item(unclosed_boundary, "application", ""),
    "huge-header-block": Item(huge_header_block, "quarantined", "header block"),
    "subject-50000-encoded-words": Item(subject_encoded_words, "quarantined", "KB is over the"),
    "30000-recipients": Item(many_recipients, "quarantined", "KB is over the"),
    "20000-rfc2231-parameters": Item(rfc2231_continuations, "quarantined", "header of"),
    "broken-from": Item(broken_from, "application", "no_reply_address"),
    "missing-message-id": Item(missing_message_id, "application", ""),
    "nul-and-controls": Item(nul_and_controls, "application", ""),
    "unknown-charset": Item(unknown_charset, "application", "unknown charset"),
    "undecodable-utf8": Item(undecodable_utf8, "application", "CharsetDecodeDefect"),
    "header-injection": Item(injection, "application", ""),
    "two-addresses-in-reply-to": Item(two_addresses_in_reply_to, "application", "Reply-To"),
    "bad-attachment-names": Item(bad_names, "application", ""),
    "zip-named-pdf": Item(zip_named_pdf, "application", "type_not_allowed"),
    "polyglot-jpeg-pdf": Item(polyglot, "application", "polyglot"),
    "decompression-bomb": Item(decompression_bomb, "application", "unreadable"),
    "pdf-bomb": Item(pdf_bomb, "application", "unreadable"),
    "pdf-page-loop": Item(pdf_page_loop, "application", "unreadable"),
    "docx-zip-bomb": Item(docx_bomb, "application", "unreadable"),
    "docx-10000-entries": Item(docx_many_entries, "application", "10002 entries"),
    "jpeg-30000x30000": Item(jpeg_30000, "application", "decompression limit"),
    "six-fan-pdfs": Item(six_fan_pdfs, "application", ""),
    "docx-macros": Item(docx_macros, "application", "macro"),
    "txt-invalid-utf8": Item(txt_invalid, "application", "encoding"),
    "txt-100mb-single-line": Item(txt_single_line, "oversized", ""),
    "own-acknowledgement-back": Item(own_ack_back, "own", ""),
    "list-unsubscribe": Item(list_unsubscribe, "autoreply", "List-Unsubscribe"),
}
SMALL = 200_000


def raw_of(name: str) -> bytes:
    path = HERE / f"{name}.eml"
    return path.read_bytes() if path.exists() else ITEMS[name].build()


def main() -> None:
    for name, item in ITEMS.items():
        data = item.build()
        if len(data) <= SMALL:
            (HERE / f"{name}.eml").write_bytes(data)
            print(f"wrote {name}.eml ({len(data)} bytes)")
        else:
            print(f"{name}: {len(data) // 1024} KB, built by the tests")


if __name__ == "__main__":
    main()
