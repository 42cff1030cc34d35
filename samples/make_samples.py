"""Regenerate the sample applications in samples/ (run from the repository root):

    python samples/make_samples.py

Each sample is a real MIME message as a citizen's mail client would send it;
``index.toml`` gives the folder and receipt time the demo delivers it with.
"""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).parent
BKK = timezone(timedelta(hours=7))


def page_image(width: int, height: int, *, photo: bool = False) -> Image.Image:
    """A page-like image: white paper with lines of 'text' (or a grey table top for a photo)."""
    img = Image.new("L", (width, height), 235 if photo else 255)
    draw = ImageDraw.Draw(img)
    if photo:
        draw.rectangle([width * 0.1, height * 0.08, width * 0.9, height * 0.92], fill=255)
    step = max(height // 60, 6)
    for i, y in enumerate(range(int(height * 0.12), int(height * 0.88), step)):
        x0 = int(width * 0.15)
        x1 = int(width * (0.85 - (i % 4) * 0.08))
        draw.rectangle([x0, y, x1, y + max(step // 3, 2)], fill=30)
    return img


def jpeg(width: int, height: int, dpi: int | None, *, photo: bool = False) -> bytes:
    buf = io.BytesIO()
    kwargs = {"dpi": (dpi, dpi)} if dpi else {}
    page_image(width, height, photo=photo).save(buf, "JPEG", quality=40, **kwargs)
    return buf.getvalue()


def scanned_pdf(width: int, height: int, pages: int = 1) -> bytes:
    """A scanned PDF: each A4 page one image placed over the whole page."""
    buf = io.BytesIO()
    imgs = [page_image(width, height).convert("RGB") for _ in range(pages)]
    resolution = width / 8.27
    imgs[0].save(buf, "PDF", resolution=resolution, save_all=True, append_images=imgs[1:], quality=40)
    return buf.getvalue()


def docx(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        zf.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        )
        zf.writestr(
            "word/document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>',
        )
    return buf.getvalue()


def message(
    sender: str,
    subject: str,
    body: str,
    when: datetime,
    *,
    mid: str,
    charset: str = "utf-8",
    reply_to: str | None = None,
    extra: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = "saraban@banmai.go.th"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = mid
    if reply_to:
        msg["Reply-To"] = reply_to
    for k, v in (extra or {}).items():
        msg[k] = v
    msg.set_content(body, charset=charset)
    return msg


def main() -> None:
    samples = []

    m = message(
        "สมชาย ใจดี <somchai.jaidee@example.com>",
        "ขออนุญาตจัดงานประเพณีลอยกระทง ชุมชนบ้านใหม่",
        "เรียน นายกเทศมนตรีตำบลบ้านใหม่\n\nข้าพเจ้าขออนุญาตจัดงานประเพณีลอยกระทง ณ ลานวัดบ้านใหม่ "
        "วันที่ 15 ธันวาคม 2568 ตั้งแต่เวลา 17.00 ถึง 22.00 น. ได้แนบแบบคำขอและสำเนาบัตรประชาชนมาพร้อมนี้\n\n"
        "ขอแสดงความนับถือ\nสมชาย ใจดี\nโทร 081 234 5678\n",
        datetime(2025, 12, 4, 18, 3, tzinfo=BKK),
        mid="<20251204180300.4711@mail.example.com>",
    )
    m.add_attachment(scanned_pdf(2480, 3508), maintype="application", subtype="pdf", filename="แบบคำขออนุญาตจัดงาน.pdf")
    m.add_attachment(jpeg(4032, 3024, 72, photo=True), maintype="image", subtype="jpeg", filename="IMG_20251204_175512.jpg")
    samples.append(("01-th-event-permit.eml", m, "INBOX", "2025-12-04T18:05:12+07:00"))

    m = message(
        "John Smith <john.smith@example.org>",
        "TM.30 notification for a new foreign tenant",
        "Dear Sir/Madam,\n\nPlease find attached the TM.30 form and a copy of my tenant's passport.\n"
        "Please reply to my personal address.\n\nKind regards,\nJohn Smith\n+66 81 555 0101\n",
        datetime(2025, 12, 6, 10, 11, tzinfo=BKK),
        mid="<CAE1234.john@example.org>",
        reply_to="john.personal@example.net",
    )
    m.add_attachment(scanned_pdf(1240, 1754), maintype="application", subtype="pdf", filename="TM30-form.pdf")
    m.add_attachment(jpeg(1280, 960, 72, photo=True), maintype="image", subtype="jpeg", filename="passport.jpg")
    samples.append(("02-en-tm30.eml", m, "INBOX", "2025-12-06T10:12:40+07:00"))

    # Outlook in Thai: windows-874 subject and body, an RFC 2231 Thai file name.
    body = "เรียน เจ้าหน้าที่\r\n\r\nบริษัทฯ ขอรับรองสำเนาเอกสารตามที่แนบมา\r\nเลขทะเบียนนิติบุคคล 0105561234567\r\n"
    name = "หนังสือรับรอง.docx".encode()
    name_2231 = "".join(f"%{b:02X}" if b > 127 or chr(b) in " %'*" else chr(b) for b in name)
    raw = b"\r\n".join(
        [
            b"From: =?windows-874?B?" + base64.b64encode("บริษัท รุ่งเรือง จำกัด".encode("cp874")) + b"?= <admin@rungrueang.co.th>",
            b"To: saraban@banmai.go.th",
            b"Subject: =?windows-874?B?" + base64.b64encode("ขอรับรองสำเนาเอกสาร".encode("cp874")) + b"?=",
            b"Date: " + format_datetime(datetime(2025, 12, 8, 7, 38, tzinfo=BKK)).encode(),
            b"Message-ID: <OUTLOOK-874-0001@rungrueang.co.th>",
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/mixed; boundary="----=_NextPart_874"',
            b"X-Mailer: Microsoft Outlook 16.0",
            b"",
            b"------=_NextPart_874",
            b'Content-Type: text/plain; charset="windows-874"',
            b"Content-Transfer-Encoding: 8bit",
            b"",
            body.encode("cp874"),
            b"------=_NextPart_874",
            b"Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            b"Content-Transfer-Encoding: base64",
            b"Content-Disposition: attachment; filename*=utf-8''" + name_2231.encode(),
            b"",
            base64.encodebytes(docx("หนังสือรับรองบริษัท")).replace(b"\n", b"\r\n"),
            b"------=_NextPart_874--",
            b"",
        ]
    )
    samples.append(("03-th-windows874-certify.eml", raw, "INBOX", "2025-12-08T07:40:02+07:00"))

    m = message(
        "Somying Rakdee <somying@example.com>",
        "Automatic reply: ขออนุญาต",
        "I am out of the office until 10 December.\n",
        datetime(2025, 12, 5, 9, 0, tzinfo=BKK),
        mid="<ooo-1@example.com>",
        extra={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )
    samples.append(("04-autoreply.eml", m, "INBOX", "2025-12-05T09:00:30+07:00"))

    m = message(
        "Prize Desk <win@lottery.example>",
        "You have WON 1,000,000 THB",
        "Open the attached file to claim.\n",
        datetime(2025, 12, 7, 3, 0, tzinfo=BKK),
        mid="<spam-77@lottery.example>",
        extra={"X-Spam-Flag": "YES", "X-Spam-Status": "Yes, score=12.3"},
    )
    m.add_attachment(b"MZ\x90\x00" + b"\x00" * 200, maintype="application", subtype="octet-stream", filename="claim.pdf")
    samples.append(("05-spam.eml", m, "Junk", "2025-12-07T03:00:10+07:00"))

    m = message(
        "Nok Wattana <nok.wattana@example.co.th>",
        "ขอหนังสือรับรองที่อยู่ (ส่งซ้ำ)",
        "",
        datetime(2025, 12, 7, 20, 15, tzinfo=BKK),
        mid="<junk-but-real-9@example.co.th>",
    )
    m.set_content(
        "<html><body><p>เรียน เจ้าหน้าที่</p><p>ขอหนังสือรับรองที่อยู่ แนบบัตรประชาชน</p><p>ขอบคุณค่ะ<br>นก วัฒนา</p></body></html>",
        subtype="html",
        charset="utf-8",
    )
    png = io.BytesIO()
    page_image(2480, 3508).save(png, "PNG")
    m.add_attachment(png.getvalue(), maintype="image", subtype="jpeg", filename="บัตรประชาชน.jpg")
    samples.append(("06-junk-not-spam-html.eml", m, "Junk", "2025-12-07T20:15:44+07:00"))

    index = [
        "# The demo delivers each sample to a folder with a receipt time (INTERNALDATE).",
        "# It sweeps at `now` below: the Monday-morning sweep after the Father's Day weekend.",
        'now = "2025-12-08T08:30:00+07:00"',
        "",
    ]
    for name, msg, folder, when in samples:
        (HERE / name).write_bytes(msg if isinstance(msg, bytes) else msg.as_bytes())
        index += ["[[sample]]", f'file = "{name}"', f'folder = "{folder}"', f'received = "{when}"', ""]
    (HERE / "index.toml").write_text("\n".join(index), encoding="utf-8")
    print(f"wrote {len(samples)} samples to {HERE}")


if __name__ == "__main__":
    main()
