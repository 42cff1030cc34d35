"""The mail of appointments (issue 13, R10; ``desk.appointments`` decides
what is sent): the offer, the confirmation, the reminder and the cancellation,
each ``templates/appointment_<what>.*.j2`` (Thai first, then English) threaded
on the applicant's mail and queued in the caller's transaction. The
confirmation and the cancellation carry the iCalendar file
(``permits.invitation``) as ``text/calendar`` with its METHOD.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailintake.base.appointing import Appointments, VisitKind
from mailintake.base.data import applications
from mailintake.base.data.appointments import Appointment
from mailintake.base.data.db import to_iso
from mailintake.base.data.records import Application
from mailintake.base.headers import valid_address
from mailintake.base.outgoing import compose, queue
from mailintake.desk import slots
from mailintake.desk.office import Attachments, Office
from mailintake.permits.invitation import Invitation, ics

ICS_TYPE = "application/ics"  # made text/calendar with its method once composed (base.outgoing attaches application/*)


def kind_of(cfg: Appointments, kind_id: str) -> VisitKind:
    """The kind of visit ``kind_id``, or the default one when config no longer has it."""
    found = cfg.kind(kind_id) or cfg.kind(cfg.default_kind)
    assert found is not None  # Appointments.check: default_kind is one of the kinds
    return found


def confirm(office: Office, app: Application, appt: Appointment, now: datetime, *, already: bool = False) -> str | None:
    """The confirmation: queue number, date and time, place, and the invitation;
    ``already``: sent again to a reply naming another slot while this one stands.
    It promises the reminder only when one will go (a working day lies between)."""
    inv = invitation(office, app, appt, now)
    files: Attachments = ((f"appointment-{appt.queue_number}.ics", ics(inv, "REQUEST"), ICS_TYPE),)
    cal = office.cal
    will_remind = appt.reminded_at is None and cal.next_working_day(cal.local(now).date()).isoformat() < appt.day
    extra = {**context(office, appt), "already": already, "will_remind": will_remind}
    return send(office, app, "booked", extra, now, files, method="REQUEST")


def cancelled(office: Office, app: Application, appt: Appointment, now: datetime, *, by_applicant: bool, reason: str) -> None:
    """The cancellation, with the METHOD:CANCEL invitation (same UID, SEQUENCE up)."""
    inv = invitation(office, app, appt, now)
    files: Attachments = ((f"appointment-{appt.queue_number}-cancelled.ics", ics(inv, "CANCEL"), ICS_TYPE),)
    extra = {**context(office, appt), "by_applicant": by_applicant, "reason": reason}
    send(office, app, "cancelled", extra, now, files, method="CANCEL")


def context(office: Office, appt: Appointment) -> dict[str, Any]:
    cfg = office.cfg.appointments
    kind = kind_of(cfg, appt.kind)
    slot = slots.slot_of((appt.day, appt.slot))
    return {
        "kind": kind,
        "appointment": {"queue": appt.queue_number, "id": appt.id, **slots.describe(office.cal, kind, slot)},
        "cancel_word": cfg.cancel_words[0],
        "ask_word": cfg.ask_words[0],
    }


def invitation(office: Office, app: Application, appt: Appointment, now: datetime) -> Invitation:
    cfg, agency = office.cfg.appointments, office.cfg.agency
    kind = kind_of(cfg, appt.kind)
    return Invitation(
        uid=appt.uid,
        sequence=appt.sequence,
        starts=office.cal.local(datetime.fromisoformat(appt.starts_at)),
        ends=office.cal.local(datetime.fromisoformat(appt.ends_at)),
        summary_th=f"นัดหมาย{kind.name_th} คิวที่ {appt.queue_number} [{app.transaction_id}]",
        summary_en=f"Appointment: {kind.name_en}, queue No. {appt.queue_number} [{app.transaction_id}]",
        location=f"{cfg.place_th} / {cfg.place_en}",
        description=(
            f"{agency.name_th} / {agency.name_en}\nเลขรับ / Transaction ID: {app.transaction_id}\n"
            f"คิวที่ / Queue No.: {appt.queue_number}\nโทรศัพท์ / Telephone: {agency.phone}"
        ),
        organizer=agency.mailbox_address,
        organizer_name=agency.name_en,
        attendee=app.reply_address,
        stamp=now,
    )


def send(
    office: Office,
    app: Application,
    what: str,
    extra: dict[str, Any],
    now: datetime,
    attachments: Attachments = (),
    method: str | None = None,
) -> str | None:
    """Queue the ``appointment_<what>`` mail to the applicant, threaded on their
    mail; the .ics attached as text/calendar with its ``method``."""
    tid = app.transaction_id
    recipient = valid_address(app.reply_address)
    if recipient is None:
        office.reg.add_event(at=now, actor="system", action=f"appointment_{what}_not_sent", transaction_id=tid)
        return None
    inbound = [m.message_id for m in applications.inbound_of(office.reg, tid) if m.message_id is not None]
    cfg = office.cfg.appointments
    ctx = {"tid": tid, "app": app, "service": office.service_of(app), "place_th": cfg.place_th, "place_en": cfg.place_en}
    composed = compose(
        office.cfg,
        office.renderer,
        template=f"appointment_{what}",
        recipient=recipient,
        context={**ctx, **extra},
        now=now,
        tid=tid,
        in_reply_to=inbound[-1] if inbound else None,
        references=tuple(inbound),
        auto=False,
        attachments=attachments,
    )
    for part in composed.message.walk():
        if method and part.get_content_type() == ICS_TYPE:
            part.set_type("text/calendar")
            part.set_param("charset", "utf-8")
            part.set_param("method", method)
    queue(office.cfg, office.reg, composed, kind=f"appointment_{what}", tid=tid, now=now)
    if office.app(tid).replied_at is None:  # Table 2's "date replied": the first reply (R11)
        applications.update(office.reg, tid, replied_at=to_iso(now))
    return composed.message_id
