"""Free appointment slots and what a reply about them says (issue 13, R10).

- ``free_slots``: the next free slots of a kind of visit, only on working days
  of the government calendar (``base.calendar``), from ``[appointments]
  first_day`` working days after today to ``days_ahead``, never one already
  begun, each with room in its slot; a day lists no more than it has left (of
  the kind's and the counter's day) and ``per_day_offered`` at most.
- ``own_text``: a reply's own text, without the quoted mail under it; read from
  the stored message, so the intake road needs to carry nothing more.
- ``read_reply``: what that text asks, read on its first line only: cancel (a
  cancel word), book slot *n* (a number, Arabic or Thai digits, 1 to the number
  of slots offered, with a few polite or booking words around it), or an offer
  (an ask word); a cancel or ask word next to a negation word says nothing.
  While slots are offered, a number or a booking word that names no slot is
  "unclear" (the list goes again, once per offer).
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import html
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from mailintake.base import thaitext
from mailintake.base.appointing import Appointments, VisitKind
from mailintake.base.calendar import WorkCalendar
from mailintake.base.data import appointments as rows
from mailintake.base.data.db import Registry
from mailintake.base.quoting import own_lines

CANCEL, BOOK, ASK, UNCLEAR, REBOOK = "cancel", "book", "ask", "unclear", "rebook"
# Words that say a reply is about booking a slot: one that has them (or a
# number) but names no slot offered is answered with the list again.
BOOK_WORDS = re.compile(r"(?i)จอง|\bbook(?:ing)?\b")
_THAI = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_NUMBER = re.compile(r"(?<![\d:/.,-])(\d{1,3})(?![\d:/]|[.,]\d)")
# What may stand beside the slot's number on the reply's first line.
_FILLER = re.compile(
    r"(?i)\b(?:slot|no|number|option|choice|i|choose|take|book|please|thanks|thank|you|ok)\b"
    r"|ขอบคุณ|ช่วงเวลา|ช่วง|ลำดับ|หมายเลข|ข้อ|ขอ|จอง|เลือก|ที่|ครับ|ค่ะ|คะ|นะ|จ้ะ|[#.,:;()!\-\s]"
)
_CLAUSE = re.compile(r"[,.;:!?()\[\]]+|(?<=[\u0e00-\u0e7f])\s+(?=[\u0e00-\u0e7f])")
_MSGID = re.compile(r"<[^<>\s]{1,250}>")


@dataclass(frozen=True)
class Slot:
    day: date
    at: time

    @property
    def key(self) -> tuple[str, str]:
        return self.day.isoformat(), self.at.strftime("%H:%M")


def slot_of(pair: list[str] | tuple[str, str]) -> Slot:
    hh, mm = str(pair[1]).split(":")
    return Slot(date.fromisoformat(str(pair[0])), time(int(hh), int(mm)))


def days_offered(cal: WorkCalendar, cfg: Appointments, now: datetime) -> list[date]:
    """The working days an offer made at ``now`` may name."""
    today = cal.local(now).date()
    first = cal.add_working_days(today, cfg.first_day) if cfg.first_day else today
    if cfg.first_day == 0 and not cal.is_working_day(today):
        first = cal.next_working_day(today)
    days, d = [first], first
    last = cal.add_working_days(today, cfg.days_ahead)
    while True:
        d = cal.next_working_day(d)
        if d > last:
            return days
        days.append(d)


def free_slots(
    reg: Registry, cal: WorkCalendar, cfg: Appointments, kind: VisitKind, now: datetime, count: int | None = None
) -> list[Slot]:
    """The next ``count`` (default ``offer_count``) free slots of ``kind``."""
    count = cfg.offer_count if count is None else count
    days = days_offered(cal, cfg, now)
    taken = rows.taken_by_slot(reg, cfg.office, kind.id, days[0].isoformat(), days[-1].isoformat())
    office_day = rows.taken_by_day(reg, cfg.office, days[0].isoformat(), days[-1].isoformat())
    out: list[Slot] = []
    for day in days:
        used = sum(n for (d, _s), n in taken.items() if d == day.isoformat())
        # What the day has left, for the kind and for the counter, and at most
        # per_day_offered of it: an offer spreads over several days.
        room = min(kind.per_day - used, cfg.per_day - office_day.get(day.isoformat(), 0), cfg.per_day_offered)
        for at in kind.slots:
            if room <= 0:
                break
            slot = Slot(day, at)
            if cal.at(day, at) <= now or taken.get(slot.key, 0) >= kind.per_slot:
                continue
            out.append(slot)
            room -= 1
            if len(out) >= count:
                return out
    return out


def describe(cal: WorkCalendar, kind: VisitKind, slot: Slot) -> dict[str, str]:
    """A slot as the applicant reads it: Thai (Buddhist era) and English, with its end."""
    start = cal.at(slot.day, slot.at)
    end = start + timedelta(minutes=kind.minutes)
    return {
        "th": f"{thaitext.thai_date(start, with_time=False)} เวลา {start:%H:%M}-{end:%H:%M} น.",
        "en": f"{thaitext.english_date(start, with_time=False)}, {start:%H:%M}-{end:%H:%M}",
        "day": slot.day.isoformat(),
        "time": f"{start:%H:%M}",
    }


# --- the reply --------------------------------------------------------------------------------
def body_text(raw: bytes) -> str:
    """The text of a stored message: its plain part, else its HTML without tags."""
    # The reply's own words are at its top: 64 KB of it is plenty, and keeps the
    # tag-stripping patterns below linear in what a stranger can send.
    msg = email.message_from_bytes(raw[:1_000_000], policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = str(part.get_content())
    except (LookupError, UnicodeError, AssertionError):
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = text[:65_536]
    if part.get_content_type() == "text/html":
        text = re.sub(r"(?is)<(script|style|blockquote).*?</\1>", "", text)
        text = html.unescape(re.sub(r"(?s)<br\s*/?>|</p>|</div>", "\n", text))
        text = re.sub(r"(?s)<[^>]+>", "", text)
    return text


def threads_on(raw: bytes) -> list[str]:
    """The Message-IDs a stored reply threads on: In-Reply-To's first, then
    References' from the newest; each ``<...>`` as our mail's ids are kept."""
    msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[:200_000])
    out: list[str] = []
    for name, newest_first in (("In-Reply-To", False), ("References", True)):
        ids = _MSGID.findall(" ".join(str(v) for v in msg.get_all(name) or []))
        for mid in reversed(ids) if newest_first else ids:
            if mid not in out:
                out.append(mid)
    return out[:50]


def own_text(text: str) -> list[str]:
    """The reply's own non-empty lines, stopping where the quoted mail begins."""
    return [line.strip() for line in own_lines(text) if line.strip()]


def _has(line: str, words: tuple[str, ...]) -> bool:
    """Whether ``line`` has one of ``words``: Thai ones anywhere (Thai has no
    spaces between words), Latin ones as whole words, one starting with n'
    ("n't") at the end of a word ("don't")."""
    low = line.casefold().replace("\u2019", "'")
    for w in (w.casefold() for w in words):
        if not w.isascii():
            found = w in low
        else:
            left = "" if w.startswith("n'") else r"(?<![a-z0-9'])"
            found = re.search(left + re.escape(w) + r"(?![a-z0-9])", low) is not None
        if found:
            return True
    return False


def _said(line: str, words: tuple[str, ...], negations: tuple[str, ...]) -> bool:
    """Whether a clause of ``line`` has one of ``words`` and no negation word:
    "ไม่ยกเลิกครับ" and "so I do not need an appointment" say nothing, but
    "มาไม่ได้ ขอยกเลิก" (cannot come, cancel) still cancels. Clauses end at
    punctuation and at a space between Thai words (Thai's clause break)."""
    return any(_has(c, words) and not _has(c, negations) for c in _CLAUSE.split(line))


def read_reply(lines: list[str], cfg: Appointments, offered: int, booked: bool = False) -> tuple[str, int] | None:
    """What the reply's own ``lines`` ask: (CANCEL, 0), (BOOK, n), (ASK, 0),
    (UNCLEAR, 0) or None. Only the first own line says it; a cancel or ask word
    in a clause with a negation word ("ไม่ยกเลิก", "I do not need an
    appointment") says nothing. UNCLEAR: slots are offered and the text has a
    number or a booking word, but names no slot offered on its first line.
    REBOOK: a slot's number while a booking stands (``booked``)."""
    if not lines:
        return None
    first = lines[0]
    if _said(first, cfg.cancel_words, cfg.negation_words):
        return CANCEL, 0
    # The number alone on the first line, as the offer asks (a few polite words
    # around it allowed): "2 files attached" or a date in the text books nothing.
    digits = first.translate(_THAI)
    found = _NUMBER.search(digits)
    if found and not _FILLER.sub("", _NUMBER.sub("", digits, count=1)).strip():
        n = int(found.group(1))
        if offered and 1 <= n <= offered:
            return BOOK, n
        if booked:
            return REBOOK, n
    if _said(first, cfg.ask_words, cfg.negation_words):
        return ASK, 0
    if offered and any(_NUMBER.search(line.translate(_THAI)) or BOOK_WORDS.search(line) for line in lines):
        return UNCLEAR, 0
    return None
