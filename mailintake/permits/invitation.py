"""The iCalendar invitation (RFC 5545/5546) attached to an appointment's
confirmation and to its cancellation: ``METHOD:REQUEST`` books the slot in the
applicant's calendar, ``METHOD:CANCEL`` with the same UID and a higher
SEQUENCE takes it out. DTSTART/DTEND carry the office's zone (Asia/Bangkok)
with its VTIMEZONE; the summary is Thai then English. Made with ``icalendar``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import icalendar

PRODID = "-//mailintake//appointments//TH"


@dataclass(frozen=True)
class Invitation:
    uid: str
    sequence: int
    starts: datetime  # aware, in the office's zone
    ends: datetime
    summary_th: str
    summary_en: str
    location: str
    description: str
    organizer: str  # the office's mailbox address
    organizer_name: str
    attendee: str
    stamp: datetime


def ics(inv: Invitation, method: str = "REQUEST") -> bytes:
    """The invitation as an .ics file (``method``: REQUEST or CANCEL)."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unknown iTIP method {method!r}")
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    event = icalendar.Event()
    event.add("uid", inv.uid)
    event.add("sequence", inv.sequence)
    event.add("dtstamp", inv.stamp)
    event.add("dtstart", inv.starts)
    event.add("dtend", inv.ends)
    event.add("summary", f"{inv.summary_th} / {inv.summary_en}")
    event.add("location", inv.location)
    event.add("description", inv.description)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organizer = icalendar.vCalAddress(f"mailto:{inv.organizer}")
    organizer.params["cn"] = icalendar.vText(inv.organizer_name)
    event.add("organizer", organizer)
    attendee = icalendar.vCalAddress(f"mailto:{inv.attendee}")
    attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = icalendar.vText("ACCEPTED")
    event.add("attendee", attendee)
    cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())
