"""Thai text: the charset names mail uses for Thai, and dates as citizens read them
(Buddhist-era year, Thai month names, optional Thai digits)."""

from __future__ import annotations

import codecs
import email.charset
from datetime import datetime

# Outlook labels Thai mail "windows-874", a name Python 3.11 does not know: the
# subject then decodes to nothing and the body raises LookupError. Thai
# Industrial Standard names appear too. All of them are cp874 or tis-620.
_ALIASES = {
    "windows_874": "cp874",
    "windows874": "cp874",
    "x_windows_874": "cp874",
    "ms874": "cp874",
    "x_cp874": "cp874",
    "tis_620_0": "tis_620",
    "tis620_0": "tis_620",
    "tis620_2533": "tis_620",
    "iso_8859_11": "tis_620",
    "iso8859_11": "tis_620",
    "x_tis_620": "tis_620",
}


def _search(name: str) -> codecs.CodecInfo | None:
    key = name.lower().replace("-", "_").replace(" ", "_")
    target = _ALIASES.get(key)
    return codecs.lookup(target) if target else None


_registered = False


def register_thai_charsets() -> None:
    """Teach Python (and so the email package and mail-parser) the Thai names."""
    global _registered
    if _registered:
        return
    codecs.register(_search)
    for alias in ("windows-874", "x-windows-874"):
        email.charset.add_alias(alias, "cp874")
    _registered = True


register_thai_charsets()

TH_MONTHS = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)
TH_DAYS = ("วันจันทร์", "วันอังคาร", "วันพุธ", "วันพฤหัสบดี", "วันศุกร์", "วันเสาร์", "วันอาทิตย์")
_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


def be_year(year: int) -> int:
    """Buddhist-era year of a Gregorian year."""
    return year + 543


def ce_year(year: int) -> int:
    """A year as a clerk types it, in the common era: one over 2400 is in the
    Buddhist era (2568 -> 2025), converted once; any other is as given."""
    return year - 543 if year > 2400 else year


def thai_digits(text: str) -> str:
    return text.translate(_THAI_DIGITS)


def thai_date(dt: datetime, *, with_time: bool = True, with_weekday: bool = True, digits: bool = False) -> str:
    """``วันจันทร์ที่ 8 ธันวาคม 2568 เวลา 08:30 น.``"""
    text = f"{dt.day} {TH_MONTHS[dt.month - 1]} {be_year(dt.year)}"
    if with_weekday:
        text = f"{TH_DAYS[dt.weekday()]}ที่ {text}"
    if with_time:
        text += f" เวลา {dt:%H:%M} น."
    return thai_digits(text) if digits else text


def english_date(dt: datetime, *, with_time: bool = True) -> str:
    """``Monday 8 December 2025, 08:30 (UTC+07:00)``"""
    text = f"{dt:%A} {dt.day} {dt:%B %Y}"
    if with_time:
        offset = dt.strftime("%z")
        text += f", {dt:%H:%M} (UTC{offset[:3]}:{offset[3:]})" if offset else f", {dt:%H:%M}"
    return text
