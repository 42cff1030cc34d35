"""Benchmark everything mailintake does to a message's raw bytes before the MIME
parser (``lighten`` and ``precheck``), against a linear baseline measured in
the same run: SHA-256 of the same bytes, which every sweep computes anyway.

    python bench/prescan.py

The messages are built in memory:
- one attachment each, sizes spread log-uniformly from 1 KB to 30 MB;
- base64 bodies of every line count around the lift threshold (1,990 to 2,010
  lines) and around the folded-header threshold (95 to 105 folded lines);
- hostile shapes up to the message size limit: many 1,999-line base64 parts,
  many short base64 runs, 100,000 parts without a Content-Type.
Prints, for each group, the slowest message in milliseconds per MB and in
seconds, and the same for the baseline. Target: no message up to the size
limit spends more than 1 s before the MIME parser.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailintake.base.config import load  # noqa: E402
from mailintake.intake.limits import TooComplex, lighten, precheck  # noqa: E402

HEAD = (
    b"From: =?utf-8?B?4Liq4Lih4LiK4Liy4Lii?= <a@example.com>\r\nTo: saraban@banmai.go.th\r\n"
    b'Subject: bench\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="BOUND"\r\n\r\n'
    b"--BOUND\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
)
TAIL = b"--BOUND--\r\n"


def b64_part(data: bytes, name: str = "scan.jpg") -> bytes:
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return b"--BOUND\r\nContent-Type: image/jpeg; name=" + name.encode() + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body


def lines_part(lines: int) -> bytes:
    return b64_part(os.urandom(lines * 57))


def sizes(rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    for i in range(count):
        size = int(math.exp(math.log(1024) + (math.log(30 * 1024 * 1024) - math.log(1024)) * i / (count - 1)))
        yield f"{size // 1024} KB attachment", HEAD + b64_part(rng.randbytes(size)) + TAIL


def thresholds() -> Iterator[tuple[str, bytes]]:
    for lines in range(1990, 2011):
        yield f"{lines}-line base64 run", HEAD + lines_part(lines) + TAIL
    for folded in range(95, 106):
        header = b"X-Long: start\r\n" + b" folded-line-of-text-here\r\n" * folded
        yield f"{folded} folded header lines", header + HEAD + TAIL


def hostile(limit: int) -> Iterator[tuple[str, bytes]]:
    part = lines_part(1999)
    n = (limit - len(HEAD)) // len(part)
    yield f"{n} parts of 1,999 base64 lines", HEAD + part * n + TAIL
    short = lines_part(39)
    n = (limit - len(HEAD)) // len(short)
    yield f"{n} base64 parts of 39 lines", HEAD + short * n + TAIL
    yield "100,000 parts without Content-Type", HEAD + b"".join(b"--BOUND\r\n\r\nx %d\r\n" % i for i in range(100_000)) + TAIL
    run = base64.encodebytes(os.urandom(limit // 2)).replace(b"\n", b"\r\n")
    text = ("ข้าพเจ้าขอยื่นคำร้อง สวัสดีครับ=20\r\n".encode() * (limit // 60))[: limit - 200]
    yield (
        "quoted-printable Thai text",
        (b"From: a@example.com\r\nSubject: qp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + text),
    )
    yield "base64 text in a plain body", b"From: a@example.com\r\nSubject: pasted\r\n\r\n" + run


def timed(fn, raw: bytes) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(raw)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=40, help="attachment sizes between 1 KB and 30 MB")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "prescan.json")
    args = ap.parse_args()
    limits = load(environ={}).limits
    rng = random.Random(2568)

    def prescan(raw: bytes) -> None:
        light, _blobs = lighten(raw)
        try:
            precheck(light, limits)
        except TooComplex:
            pass

    groups = {
        "sizes": list(sizes(rng, args.count)),
        "thresholds": list(thresholds()),
        "hostile": list(hostile(limits.max_message_bytes)),
    }
    result: dict[str, dict[str, object]] = {}
    for group, messages in groups.items():
        rows = []
        for label, raw in messages:
            mb = max(len(raw) / 1e6, 0.001)
            t = min(timed(prescan, raw) for _ in range(3))
            base = min(timed(lambda r: hashlib.sha256(r).digest(), raw) for _ in range(3))
            rows.append((t * 1000 / mb, t, label, base * 1000 / mb))
        per_mb, _t, label, _base = max(rows)
        longest = max(r[1] for r in rows)
        base_worst = max(r[3] for r in rows)
        result[group] = {
            "messages": len(rows),
            "slowest_ms_per_mb": round(per_mb, 2),
            "slowest_message": label,
            "baseline_sha256_ms_per_mb": round(base_worst, 2),
            "longest_seconds": round(longest, 3),
        }
        print(
            f"{group:10} {len(rows):3} messages: slowest {per_mb:7.2f} ms/MB ({label}); "
            f"sha256 baseline {base_worst:5.2f} ms/MB; longest {longest:.3f} s (target < 1 s)"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
