"""The satisfaction question (issue 12, R26): the notice that closes a
finished application asks for a score from 1 to 5; a reply on a closed
application whose first line of text is that score alone, in Arabic or Thai
digits (``๑``-``๕``), is recorded (an event and ``applications.satisfaction``;
a later reply replaces it) and counted by ``report satisfaction``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from mailintake.base.data import deadline_mail as rows
from mailintake.base.data.db import Registry

ASKED = ("closed",)
_THAI = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_SCORE = re.compile(r"^\s*([1-5])\s*(?:/\s*5|คะแนน|points?)?\s*[.!]?\s*$", re.IGNORECASE)


def score_of(text: str) -> int | None:
    """The score the first non-empty line of ``text`` gives, or None."""
    for line in (text or "").splitlines():
        if line.strip().startswith(">"):
            return None  # the quoted notice, not an answer
        if line.strip():
            m = _SCORE.match(line.translate(_THAI))
            return int(m.group(1)) if m else None
    return None


def record(reg: Registry, tid: str, status: str, text: str, now: datetime) -> int | None:
    """Record the score a reply on ``tid`` gives when the question was asked
    (inside the caller's transaction); returns it, or None."""
    score = score_of(text) if status in ASKED else None
    if score is None:
        return None
    rows.set_satisfaction(reg, tid, score, now)
    reg.add_event(at=now, actor="applicant", action="satisfaction", transaction_id=tid, detail={"score": score})
    return score


def counted(reg: Registry, month: str | None = None) -> dict[str, Any]:
    """The scores given (in ``month``, ``YYYY-MM``, when named): how many of
    each, their number and mean."""
    scores = [r for r in rows.satisfaction_scores(reg) if month is None or (r["satisfaction_at"] or "").startswith(month)]
    each = {str(n): sum(1 for r in scores if r["satisfaction"] == n) for n in range(1, 6)}
    mean = round(sum(r["satisfaction"] for r in scores) / len(scores), 2) if scores else None
    return {"month": month, "answers": len(scores), "scores": each, "mean": mean}
