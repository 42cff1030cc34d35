"""What the clerk writes for the public, in Thai and English (R28): the answer
to an inquiry and the FAQ's entries.

An answer needs its Thai text (the office's record, and a clerk who writes no
English can still answer); the English is given beside it or, when it is not,
the English half of the mail says the answer is in Thai and offers an English
one on request (``templates/notices.toml`` ``[answer]``). A Thai text with no
Thai letter and no English is refused: the mail would say "in Thai" of
English. An FAQ entry is published, so it needs both languages.
"""

from __future__ import annotations

import re

from mailintake.base.errors import StepRefused

MAX_TEXT = 4000
_THAI = re.compile(r"[\u0E01-\u0E5B]")


def check(th: str, en: str = "") -> tuple[str, str]:
    """The answer's Thai and English texts, stripped; refused when unusable."""
    th, en = th.strip(), (en or "").strip()
    if not th:
        raise StepRefused("the Thai answer is empty (give it with --th; --en adds the English)")
    if len(th) > MAX_TEXT or len(en) > MAX_TEXT:
        raise StepRefused(f"an answer is limited to {MAX_TEXT} characters in each language")
    if not en and not _THAI.search(th):
        raise StepRefused("the answer has no Thai text: give the Thai with --th and the English with --en")
    return th, en


def check_entry(question: str, answer: str, question_en: str, answer_en: str) -> tuple[str, str, str, str]:
    """An FAQ entry's four texts, stripped: all needed (it is published, R28)."""
    texts = tuple(t.strip() for t in (question, answer, question_en, answer_en))
    if not all(texts):
        raise StepRefused(
            "an FAQ entry is published in Thai and English: give --question and --answer (Thai) "
            "and --question-en and --answer-en, in your own words"
        )
    if any(len(t) > MAX_TEXT for t in texts):
        raise StepRefused(f"each question and answer is limited to {MAX_TEXT} characters")
    return texts[0], texts[1], texts[2], texts[3]
