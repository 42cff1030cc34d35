"""What the clerk writes for the public, in Thai and English (R28): the answer
to an inquiry and the FAQ's entries.

An answer needs its Thai text (the office's record, and a clerk who writes no
English can still answer); the English is given beside it or, when it is not,
the English half of the mail says the answer is in Thai and offers an English
one on request (``templates/notices.toml`` ``[answer]``). A Thai text with no
Thai letter is refused, with or without the English: the Thai half of the mail
(and the record) would be in another language, or only digits. An FAQ entry is
published, so it needs both languages, its Thai texts with Thai letters.
"""

from __future__ import annotations

import re

from mailintake.base.errors import StepRefused

MAX_TEXT = 4000
_THAI = re.compile(r"[\u0E01-\u0E2E]")  # a Thai consonant: every Thai word has one; digits and signs do not count


def check(th: str, en: str = "") -> tuple[str, str]:
    """The answer's Thai and English texts, stripped; refused when unusable."""
    th, en = th.strip(), (en or "").strip()
    if not th:
        raise StepRefused("the Thai answer is empty (give it with --th; --en adds the English)")
    if len(th) > MAX_TEXT or len(en) > MAX_TEXT:
        raise StepRefused(f"an answer is limited to {MAX_TEXT} characters in each language")
    if not _THAI.search(th):
        raise StepRefused("the Thai answer has no Thai letters: write it in Thai with --th (the English goes in --en)")
    return th, en


def check_entry(question: str, answer: str, question_en: str, answer_en: str) -> tuple[str, str, str, str]:
    """An FAQ entry's four texts, stripped: all needed (it is published, R28)."""
    texts = tuple(t.strip() for t in (question, answer, question_en, answer_en))
    if not all(texts):
        raise StepRefused(
            "an FAQ entry is published in Thai and English: give --question and --answer (Thai) "
            "and --question-en and --answer-en, in your own words"
        )
    for text, option in zip(texts[:2], ("--question", "--answer"), strict=True):
        if not _THAI.search(text):
            raise StepRefused(
                f"{option} is the Thai text of the entry and has no Thai letters: write it in Thai (English goes in {option}-en)"
            )
    if any(len(t) > MAX_TEXT for t in texts):
        raise StepRefused(f"each question and answer is limited to {MAX_TEXT} characters")
    return texts[0], texts[1], texts[2], texts[3]
