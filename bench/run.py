"""Benchmark intake against its own raw limit, in one run, against one Dovecot.

    python bench/make_corpus.py --count 200 --out bench/out/corpus
    python bench/run.py --corpus bench/out/corpus

(a) raw limit: one process fetching every message over IMAP, parsing the MIME
    and reading each attachment's image header (Pillow) or page tree (pikepdf);
(b) ``mailintake sweep`` end to end: fetch, parse, classify, check, register in
    SQLite, store files, acknowledge through a real SMTP server (aiosmtpd), flag.
Three paired runs (three identical mailboxes), each measuring (a) then (b);
prints messages per second for each, the ratio of each run and their median,
and the peak memory of a sweep of one message with a 30 MB attachment.
``bench/prescan.py`` measures the scans before the MIME parser (ms per MB).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pikepdf
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import CONFIG, Dovecot, Mailbox, SmtpSink  # noqa: E402


def load(box: Mailbox, files: list[Path]) -> None:
    from datetime import datetime, timedelta, timezone

    when = datetime(2025, 12, 9, 9, 0, tzinfo=timezone(timedelta(hours=7)))
    with box.server.client(box.user) as c:
        for f in files:
            c.append("INBOX", f.read_bytes(), msg_time=when)


def raw_limit(box: Mailbox) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    with box.server.client(box.user) as c:
        c.select_folder("INBOX", readonly=True)
        uids = c.search(["ALL"])
        for i in range(0, len(uids), 50):
            for item in c.fetch(uids[i : i + 50], ["INTERNALDATE", "BODY.PEEK[]"]).values():
                msg = message_from_bytes(item[b"BODY[]"], policy=default)
                for part in msg.iter_attachments():
                    data = part.get_payload(decode=True)
                    if part.get_content_type() == "image/jpeg":
                        with Image.open(io.BytesIO(data)) as img:
                            _ = (img.size, img.info.get("dpi"))
                    elif part.get_content_type() == "application/pdf":
                        with pikepdf.open(io.BytesIO(data)) as pdf:
                            _ = [p.mediabox for p in pdf.pages]
                n += 1
    return n, time.perf_counter() - start


def sweep(config: Path) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of one `mailintake sweep` process."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:]); d = time.perf_counter() - t; "
        "print(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024); sys.exit(r.returncode)"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            sys.executable,
            "-m",
            "mailintake",
            "--config",
            str(config),
            "sweep",
            "--now",
            "2025-12-09T10:00:00+07:00",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, rss = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT / "bench" / "out" / "corpus")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "results.json")
    args = ap.parse_args()
    files = sorted(args.corpus.glob("*.eml"))
    big = args.corpus / "big-30mb.eml.x"
    if not files or not big.exists():
        sys.exit(f"no corpus in {args.corpus}: run bench/make_corpus.py first")

    root = Path(tempfile.mkdtemp(prefix="mailintake-bench-"))
    server = Dovecot(root)
    smtp = SmtpSink().start()
    try:
        box = Mailbox(server, server.new_user())
        load(box, files)
        raw_limit(box)  # warm the server's and the OS's caches once
        # Three paired runs: in each, the raw limit and the sweep over the same
        # mailbox, one after the other; the ratio is the median of the three
        # (single runs on a small shared machine vary by a quarter).
        raws, sweeps, ratios = [], [], []
        for run in range(3):
            run_box = box if run == 0 else Mailbox(server, server.new_user())
            if run:
                load(run_box, files)
            n_raw, t_raw = raw_limit(run_box)
            cfg = root / f"config-{run}.toml"
            cfg.write_text(
                CONFIG.format(
                    agency_extra="",
                    imap_port=server.port,
                    user=run_box.user,
                    password=server.password,
                    smtp_port=smtp.port,
                    storage=root / f"var-{run}",
                )
            )
            t_run, rss_sweep = sweep(cfg)
            registered = json.loads(
                subprocess.run(
                    [sys.executable, "-m", "mailintake", "--config", str(cfg), "status", "--json", "--no-live"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            n_sweep = registered["messages"].get("application", 0)
            assert n_sweep == len(files), f"registered {n_sweep} of {len(files)}"
            raws.append(n_raw / t_raw)
            sweeps.append(n_sweep / t_run)
            ratios.append(sweeps[-1] / raws[-1])
        assert len(smtp.received) == 3 * len(files), f"acknowledged {len(smtp.received)} of {3 * len(files)}"

        big_box = Mailbox(server, server.new_user())
        load(big_box, [big])
        cfg_big = root / "config-big.toml"
        cfg_big.write_text(
            CONFIG.format(
                agency_extra="",
                imap_port=server.port,
                user=big_box.user,
                password=server.password,
                smtp_port=smtp.port,
                storage=root / "var-big",
            )
        )
        t_big, rss_big = sweep(cfg_big)
    finally:
        smtp.stop()
        server.stop()

    size_mb = sum(f.stat().st_size for f in files) / len(files) / 1e6
    median = sorted(ratios)[1]
    result = {
        "messages": len(files),
        "average_mb": round(size_mb, 2),
        "raw_limit_runs": [round(r, 1) for r in raws],
        "sweep_runs": [round(r, 1) for r in sweeps],
        "ratio_runs": [round(r, 2) for r in ratios],
        "ratio_median": round(median, 2),
        "big_message_mb": round(big.stat().st_size / 1e6, 1),
        "big_sweep_seconds": round(t_big, 1),
        "big_sweep_peak_rss_mb": round(rss_big, 1),
        "corpus_sweep_peak_rss_mb": round(rss_sweep, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"corpus: {len(files)} messages, {size_mb:.2f} MB average")
    for i in range(3):
        print(f"run {i + 1}: (a) raw limit {raws[i]:6.1f} msg/s   (b) sweep {sweeps[i]:6.1f} msg/s   ratio {ratios[i]:.2f}")
    print(f"median ratio (b)/(a): {median:.2f}   (target >= 0.8)")
    print(
        f"peak memory, sweep of one {result['big_message_mb']} MB message (30 MB attachment): "
        f"{result['big_sweep_peak_rss_mb']:.0f} MB   (target < 300 MB)"
    )


if __name__ == "__main__":
    main()
