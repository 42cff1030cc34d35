"""Free appointment slots and what a reply about them says (issue 13, R10).

- ``free_slots``: the next free slots of a kind of visit, only on working days
  of the government calendar (``base.calendar``), from ``[appointments]
  first_day`` working days after today to ``days_ahead``, never one already
  begun, each with room in its slot and in its day.
- ``own_text``: a reply's own text, without the quoted mail under it; read from
  the stored message, so the intake road needs to carry nothing more.
- ``read_reply``: what that text asks: cancel (a cancel word on its first
  line), book slot *n* (the first line with a number, Arabic or Thai digits,
  when it is 1 to the number of slots offered), or an offer (an ask word).
"""

from __future__ import annotations

import email
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

CANCEL, BOOK, ASK = "cancel", "book", "ask"
_THAI = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_NUMBER = re.compile(r"(?<![\d:/.,-])(\d{1,3})(?![\d:/]|[.,]\d)")
# What may stand beside the slot's number on the reply's first line.
_FILLER = re.compile(
    r"(?i)\b(?:slot|no|number|option|choice|i|choose|take|please|thanks|thank|you|ok)\b"
    r"|ขอบคุณ|ช่วงเวลา|ช่วง|ลำดับ|หมายเลข|ข้อ|ขอ|เลือก|ที่|ครับ|ค่ะ|คะ|นะ|จ้ะ|[#.,:;()!\-\s]"
)
# Where the quoted mail starts: "> ...", "On ... wrote:", Thai clients'
# "เมื่อ ... เขียนว่า:", Outlook's separator and header block.
_QUOTE_START = re.compile(
    r"^\s*(>|-{2,}\s*Original Message\s*-{2,}|-{2,}\s*ข้อความต้นฉบับ|_{10,}|From:\s|จาก:\s)"
    r"|^\s*On\s.+wrote:\s*$|เขียนว่า\s*:?\s*$",
    re.IGNORECASE,
)


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
        for at in kind.slots:
            if used >= kind.per_day or office_day.get(day.isoformat(), 0) >= cfg.per_day:
                break
            slot = Slot(day, at)
            if cal.at(day, at) <= now or taken.get(slot.key, 0) >= kind.per_slot:
                continue
            out.append(slot)
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


def own_text(text: str) -> list[str]:
    """The reply's own non-empty lines, stopping where the quoted mail begins."""
    out = []
    for line in text.splitlines():
        if _QUOTE_START.search(line):
            break
        if line.strip():
            out.append(line.strip())
    return out


def read_reply(lines: list[str], cfg: Appointments, offered: int) -> tuple[str, int] | None:
    """What the reply's own ``lines`` ask: (CANCEL, 0), (BOOK, n), (ASK, 0) or None."""
    if not lines:
        return None
    first = lines[0].casefold()
    if any(w.casefold() in first for w in cfg.cancel_words):
        return CANCEL, 0
    # The number alone on the first line, as the offer asks (a few polite words
    # around it allowed): "2 files attached" or a date in the text books nothing.
    found = _NUMBER.search(lines[0].translate(_THAI))
    if found and offered and not _FILLER.sub("", _NUMBER.sub("", lines[0].translate(_THAI), count=1)).strip():
        n = int(found.group(1))
        if 1 <= n <= offered:
            return BOOK, n
    whole = "\n".join(lines).casefold()
    if any(w.casefold() in whole for w in cfg.ask_words):
        return ASK, 0
    return None
