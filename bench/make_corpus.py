"""Generate a benchmark corpus: N messages of about 0.5 MB, Thai subjects, with
scanned JPEGs and scanned PDFs at mixed resolutions (150, 200, 300 dpi), and
one message with a 30 MB attachment for the memory figure.

    python bench/make_corpus.py --count 300 --out bench/out/corpus
"""

from __future__ import annotations

import argparse
import io
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
SUBJECTS = ["ขออนุญาตจัดงานประเพณี", "ขอรับรองสำเนาเอกสาร", "แจ้งที่พักคนต่างด้าว ตม.30", "ขอหนังสือรับรองที่อยู่",
            "ขออนุญาตติดตั้งป้ายโฆษณา", "Application for event permit", "TM.30 notification", "ขอใบอนุญาตประกอบกิจการ"]
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


def attachment_pool(rng: random.Random) -> list[tuple[str, bytes, str]]:
    pool = []
    for dpi in (150, 200, 300):
        img = scan(dpi, rng)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=45, dpi=(dpi, dpi))
        pool.append((f"scan-{dpi}dpi.jpg", buf.getvalue(), "image/jpeg"))
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "PDF", resolution=float(dpi), quality=40)
        pool.append((f"form-{dpi}dpi.pdf", buf.getvalue(), "application/pdf"))
    return pool


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
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--out", type=Path, default=Path("bench/out/corpus"))
    ap.add_argument("--seed", type=int, default=2568)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    pool = attachment_pool(rng)
    start = datetime(2025, 12, 9, 8, 30, tzinfo=BKK)
    total = 0
    for i in range(args.count):
        # One scan, and every third message a second, small one: about 0.5 MB.
        chosen = [rng.choice(pool)]
        if i % 3 == 0:
            chosen.append(rng.choice(pool[:2]))
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
    print(f"wrote {args.count} messages ({total / args.count / 1e6:.2f} MB average) and one of "
          f"{len(raw) / 1e6:.1f} MB to {args.out}")


if __name__ == "__main__":
    main()
