"""Generate a benchmark corpus: N applications with Thai subjects, each with
one to three attachments whose sizes are spread log-uniformly from 1 KB to
``--max-mb`` (phone photos, scanned PDFs at 150, 200 and 300 dpi, DOCX forms,
Thai text files), and one message with a 30 MB attachment for the memory
figure.

    python bench/make_corpus.py --count 200 --out bench/out/corpus
"""

from __future__ import annotations

import argparse
import io
import math
import random
import sys
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BKK = timezone(timedelta(hours=7))
SUBJECTS = [
    "ขออนุญาตจัดงานประเพณี",
    "ขอรับรองสำเนาเอกสาร",
    "แจ้งที่พักคนต่างด้าว ตม.30",
    "ขอหนังสือรับรองที่อยู่",
    "ขออนุญาตติดตั้งป้ายโฆษณา",
    "Application for event permit",
    "TM.30 notification",
    "ขอใบอนุญาตประกอบกิจการ",
]
A4_IN = (8.2677, 11.6929)


def scan(dpi: int, rng: random.Random) -> Image.Image:
    w, h = int(A4_IN[0] * dpi), int(A4_IN[1] * dpi)
    img = Image.new("L", (w, h), 250)
    draw = ImageDraw.Draw(img)
    step = max(h // 70, 6)
    for y in range(int(h * 0.1), int(h * 0.9), step):
        x = int(w * 0.12)
        while x < w * 0.88:
            word = rng.randint(w // 60, w // 12)
            draw.rectangle([x, y, min(x + word, int(w * 0.88)), y + step // 3], fill=rng.randint(10, 80))
            x += word + w // 80
    # Scanner noise, so the JPEG does not compress to nothing.
    noise = Image.effect_noise((w // 4, h // 4), 30).resize((w, h))
    return Image.blend(img, noise, 0.08)


def photo(target: int, rng: random.Random) -> tuple[str, bytes, str]:
    """A JPEG of about ``target`` bytes: noise compresses at a steady rate, so
    the pixel count follows the size; a density tag as phones and scanners set."""
    px = max(int(target / 0.36), 64 * 64)
    w = max(int((px * 3 / 4) ** 0.5), 64)
    h = max(px // w, 64)
    img = Image.effect_noise((w, h), 40).convert("RGB")
    buf = io.BytesIO()
    dpi = rng.choice((72, 150, 200, 300))
    img.save(buf, "JPEG", quality=60, dpi=(dpi, dpi))
    return f"photo-{len(buf.getvalue()) // 1024}k.jpg", buf.getvalue(), "image/jpeg"


def scanned_pdf(target: int, rng: random.Random) -> tuple[str, bytes, str]:
    _name, data, _ctype = photo(target, rng)
    img = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    img.save(buf, "PDF", resolution=float(rng.choice((150, 200, 300))), quality=60)
    return f"scan-{len(buf.getvalue()) // 1024}k.pdf", buf.getvalue(), "application/pdf"


def docx(target: int, rng: random.Random) -> tuple[str, bytes, str]:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("word/document.xml", "<w:document>" + "ขอยื่นคำร้อง " * 200 + "</w:document>")
        zf.writestr("word/media/image1.bin", rng.randbytes(max(target - 2000, 10)), zipfile.ZIP_STORED)
    return (
        f"form-{len(buf.getvalue()) // 1024}k.docx",
        buf.getvalue(),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )


def thai_text(target: int, rng: random.Random) -> tuple[str, bytes, str]:
    line = "ข้าพเจ้าขอยื่นคำร้องขออนุญาตจัดงานประเพณีลอยกระทง ณ วัดบ้านใหม่\n".encode()
    return "note.txt", (line * (target // len(line) + 1))[:target].rsplit(b"\n", 1)[0] + b"\n", "text/plain"


KINDS = (photo, photo, scanned_pdf, scanned_pdf, docx, thai_text)


def log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def message(i: int, rng: random.Random, attachments: list[tuple[str, bytes, str]], when: datetime) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"ผู้ยื่นคำขอ {i} <applicant{i}@example.com>"
    msg["To"] = "saraban@banmai.go.th"
    msg["Subject"] = f"{rng.choice(SUBJECTS)} ({i})"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<bench-{i}-{rng.getrandbits(48):x}@example.com>"
    msg.set_content(f"เรียน เจ้าหน้าที่\n\nขอยื่นคำขอพร้อมเอกสารแนบ เลขที่ {i}\n\nขอบคุณครับ\n")
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--max-mb", type=float, default=10.0, help="largest attachment (sizes are log-uniform from 1 KB)")
    ap.add_argument("--out", type=Path, default=Path("bench/out/corpus"))
    ap.add_argument("--seed", type=int, default=2568)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    start = datetime(2025, 12, 9, 8, 30, tzinfo=BKK)
    total = 0
    high = int(args.max_mb * 1024 * 1024)
    for i in range(args.count):
        chosen = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            size = log_uniform(rng, 1024, high)
            kind = rng.choice(KINDS) if size < 4 * 1024 * 1024 else rng.choice((photo, scanned_pdf))
            chosen.append(kind(size, rng))
        raw = message(i, rng, chosen, start + timedelta(seconds=37 * i))
        (args.out / f"{i:05d}.eml").write_bytes(raw)
        total += len(raw)
    big = scan(300, rng)
    buf = io.BytesIO()
    big.resize((big.width * 2, big.height * 2)).save(buf, "JPEG", quality=97, dpi=(600, 600))
    data = buf.getvalue()
    while len(data) < 30_000_000:
        data += buf.getvalue()[: 30_000_000 - len(data)]
    raw = message(99999, rng, [("huge-scan.jpg", data, "image/jpeg")], start)
    (args.out / "big-30mb.eml.x").write_bytes(raw)
    print(
        f"wrote {args.count} messages ({total / args.count / 1e6:.2f} MB average) and one of "
        f"{len(raw) / 1e6:.1f} MB to {args.out}"
    )


if __name__ == "__main__":
    main()
