"""The public FAQ, written by the clerk from an allow-list (issue 11): an
answered inquiry enters it only when a clerk adds it, with a question and an
answer in the clerk's own words; nothing the citizen wrote is copied, so no
redaction is needed (a pattern would miss a name, an ID with dashes, a +66
number). An entry is published, so it is in Thai and English (R28,
``desk.answers``). Each addition and removal is an audit event on the inquiry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base.data import faq as table
from mailintake.base.errors import NotFound, StepRefused
from mailintake.desk import answers
from mailintake.desk.office import Office
from mailintake.desk.roles import require


def add_entry(
    office: Office, tid: str, question: str, answer: str, now: datetime, question_en: str = "", answer_en: str = ""
) -> dict[str, Any]:
    """Publish ``question`` and ``answer`` in Thai and ``question_en`` and
    ``answer_en`` in English (the clerk's wording, R28) for the answered inquiry ``tid``."""
    user = require(office.cfg, "clerk", "approver")
    question, answer, question_en, answer_en = answers.check_entry(question, answer, question_en, answer_en)
    with office.reg.transaction():
        app = office.app(tid)
        if app.kind != "inquiry" or app.status != "answered":
            raise StepRefused(f"{app.transaction_id} is not an answered inquiry (kind {app.kind}, status {app.status})")
        entry_id = table.add(office.reg, app.transaction_id, question, answer, user.login, now, question_en, answer_en)
        office.reg.add_event(
            at=now,
            actor=user.login,
            action="faq_added",
            transaction_id=app.transaction_id,
            before=app.status,
            after=app.status,
            detail={"faq": entry_id},
        )
    entry = table.get(office.reg, entry_id)
    assert entry is not None
    return entry


def remove_entry(office: Office, entry_id: int, now: datetime) -> None:
    user = require(office.cfg, "clerk", "approver")
    with office.reg.transaction():
        entry = table.get(office.reg, entry_id)
        if entry is None:
            raise NotFound(f"no FAQ entry {entry_id}")
        table.remove(office.reg, entry_id)
        office.reg.add_event(
            at=now, actor=user.login, action="faq_removed", transaction_id=entry["transaction_id"], detail={"faq": entry_id}
        )


def published(office: Office) -> list[dict[str, Any]]:
    """The FAQ as published: the clerks' entries, nothing else."""
    require(office.cfg, "clerk", "approver")
    return table.entries(office.reg)
