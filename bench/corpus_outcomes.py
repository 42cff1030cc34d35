"""What the last corpus sweep did with each message: counts by outcome, then
every message by outcome with its reason.

    python3 -m pytest -q tests/test_corpus.py     # writes outcomes.json
    python3 bench/corpus_outcomes.py [outcomes.json] [--kind application]

Without a path, the newest outcomes.json under pytest's temporary directory.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path


def newest() -> Path:
    found = sorted(
        Path(tempfile.gettempdir()).glob("pytest-of-*/pytest-*/corpus*/outcomes.json"), key=lambda p: p.stat().st_mtime
    )
    if not found:
        raise SystemExit("no outcomes.json: run `python3 -m pytest -q tests/test_corpus.py` first")
    return found[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", type=Path)
    ap.add_argument("--kind", help="list only this outcome")
    args = ap.parse_args()
    path = args.path or newest()
    outcomes = json.loads(path.read_text(encoding="utf-8"))
    counts = Counter(o["kind"] for o in outcomes.values())
    print(f"{path}: {len(outcomes)} messages")
    print(", ".join(f"{k} {n}" for k, n in counts.most_common()))
    for kind in sorted(counts):
        if args.kind and kind != args.kind:
            continue
        print(f"\n== {kind} ({counts[kind]})")
        for name, o in sorted(outcomes.items()):
            if o["kind"] == kind:
                why = f"{o['stage']}: {o['error']}" if o["error"] else (o["flags"] or "")
                print(f"  {name:70} {why[:110]}  | {(o['subject'] or '')[:50]!r}")


if __name__ == "__main__":
    main()
