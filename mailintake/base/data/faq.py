"""The public FAQ's entries (table ``faq``): a question and an answer in the
clerk's own words, each tied to the inquiry it came from. Nothing a citizen
wrote enters the table by itself (issue 11); writes happen inside the
caller's transaction (``Registry.transaction()``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base.data.db import Registry, to_iso


def add(
    reg: Registry, tid: str, question: str, answer: str, login: str, now: datetime, question_en: str = "", answer_en: str = ""
) -> int:
    """One entry: ``question`` and ``answer`` in Thai, their English beside them (R28)."""
    row = {"transaction_id": tid, "question": question, "answer": answer, "added_by": login, "added_at": to_iso(now)}
    return reg.insert("faq", row | {"question_en": question_en or None, "answer_en": answer_en or None})


def get(reg: Registry, entry_id: int) -> dict[str, Any] | None:
    return reg.one("SELECT * FROM faq WHERE id = ?", (entry_id,))


def remove(reg: Registry, entry_id: int) -> None:
    reg.conn.execute("DELETE FROM faq WHERE id = ?", (entry_id,))


def entries(reg: Registry) -> list[dict[str, Any]]:
    """The FAQ in the order the clerks added it."""
    return reg.all("SELECT id, transaction_id, question, answer, question_en, answer_en, added_by, added_at FROM faq ORDER BY id")
