"""Appointments at the counter (issue 13, R10; the queue-booking model of the
OPDC's central queue: a date and time slot, a daily capacity per office, a
queue number, the date and time stated clearly).

- ``offer``: the next free slots (``desk.slots``), numbered, go to the
  applicant (Thai Buddhist-era and English dates); the clerk's command, an
  "appointment" reply (an ask word), or a full slot refused.
- ``on_reply``: the applicant's reply on the application (``desk.reactions``)
  books slot *n* of the offer it answers (the offer mail it threads on, else
  the last one open), cancels the booking, or asks for an offer; one that reads
  as no slot gets the list again, once per offer;
  a reply is acted on once (its Message-ID is kept with what it did).
- ``book``: room in the slot and in the day is checked and the booking written
  in one transaction; the confirmation carries the queue number of the day and
  office and an iCalendar invitation (``permits.invitation``, METHOD:REQUEST).
- ``cancel``: by the clerk or by the applicant's reply; the slot is free again
  and a notice with METHOD:CANCEL goes to the applicant.
- A booking whose day has gone by no longer holds the applicant (a new
  offer, booking or "appointment" reply is taken); the deadline jobs (the
  reminder, marking it missed) and the counter's queue are
  ``desk.appointment_days``'s.
- ``attend``: ``triage verify-identity --method in-person`` marks the day's
  booking attended and links it in its event.

Each is an audit event: appointment_offered, appointment_booked,
appointment_refused_full, appointment_reply_unclear, appointment_reminded,
appointment_missed, appointment_cancelled, appointment_attended. The mail is ``desk.appointment_mail``'s.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from mailintake.base.appointing import VisitKind
from mailintake.base.data import applications
from mailintake.base.data import appointments as rows
from mailintake.base.data.appointments import Appointment, Offer
from mailintake.base.data.db import to_iso
from mailintake.base.data.records import Application
from mailintake.base.deployment import Deployment
from mailintake.base.errors import StepRefused
from mailintake.desk import appointment_mail as mail
from mailintake.desk import slots
from mailintake.desk.office import Office
from mailintake.desk.roles import require

NO_VISITS = ("closed", "rejected", "withdrawn", "fee_expired")
log = logging.getLogger(__name__)


# --- the clerk's commands ---------------------------------------------------------------------
def offer_by_clerk(dep: Deployment, tid: str, kind_id: str | None, now: datetime) -> list[dict[str, str]]:
    """``appointments offer``: the next free slots emailed to the applicant."""
    user = require(dep.cfg, "clerk", "approver")
    office = Office(dep)
    with office.reg.transaction():
        app = office.app(tid)
        kind = _kind(office, kind_id)
        _may_visit(app)
        booked = rows.active_of(office.reg, app.transaction_id, today(office, now))
        if booked is not None:
            raise StepRefused(
                f"{app.transaction_id}: already booked ({booked.kind}, {booked.day} {booked.slot}, queue {booked.queue_number});"
                f" cancel it first: mailintake appointments cancel {app.transaction_id}"
            )
        return offer(office, app, kind, now, actor=user.login, why="clerk")


def cancel_by_clerk(dep: Deployment, tid: str, reason: str, now: datetime) -> Appointment:
    user = require(dep.cfg, "clerk", "approver")
    office = Office(dep)
    with office.reg.transaction():
        return cancel(office, office.app(tid), now, actor=user.login, reason=reason.strip())


def today(office: Office, now: datetime) -> str:
    """Today's date at the office (its calendar's zone), ISO."""
    return office.cal.local(now).date().isoformat()


# --- offering and booking ---------------------------------------------------------------------
def _kind(office: Office, kind_id: str | None) -> VisitKind:
    cfg = office.cfg.appointments
    kind = cfg.kind(cfg.default_kind if kind_id is None else kind_id.strip())
    if kind is None:
        raise StepRefused(f"no kind of visit {kind_id!r}; known: {', '.join(k.id for k in cfg.kinds)}")
    return kind


def _may_visit(app: Application) -> None:
    if app.kind != "application" or app.status in NO_VISITS:
        raise StepRefused(f"{app.transaction_id} is {app.status}: no appointment for it")


def offer(
    office: Office,
    app: Application,
    kind: VisitKind,
    now: datetime,
    *,
    actor: str,
    why: str,
    source: str | None = None,
    refused: dict[str, str] | None = None,
    unclear: bool = False,
) -> list[dict[str, str]]:
    """Email the next free slots of ``kind``, numbered, and keep the offer the
    reply's number points into (its Message-ID too: a reply threads on it).
    ``unclear``: the answer to a reply that named no slot. Returns the slots offered."""
    cal, cfg = office.cal, office.cfg.appointments
    free = slots.free_slots(office.reg, cal, cfg, kind, now)
    shown = [{"n": str(n), **slots.describe(cal, kind, s)} for n, s in enumerate(free, start=1)]
    with office.reg.transaction():
        offer_id = rows.add_offer(
            office.reg,
            tid=app.transaction_id,
            kind=kind.id,
            why=why,
            slots=[s.key for s in free],
            at=to_iso(now) or "",
            by=actor,
            source=source,
        )
        ctx = {"kind": kind, "slots": shown, "refused": refused, "unclear": unclear, "cancel_word": cfg.cancel_words[0]}
        mid = mail.send(office, app, "offer", ctx, now)
        rows.set_offer_message(office.reg, offer_id, mid)
        office.reg.add_event(
            at=now,
            actor=actor,
            action="appointment_offered",
            transaction_id=app.transaction_id,
            detail={"offer": offer_id, "kind": kind.id, "why": why, "slots": [f"{s['day']} {s['time']}" for s in shown]},
        )
    return shown


def book(office: Office, app: Application, offered: Offer, number: int, now: datetime, source: str) -> Appointment | None:
    """Book slot ``number`` of ``offered`` for the applicant, or refuse it when
    it is full (or gone by) and offer the next free ones."""
    kind = office.cfg.appointments.kind(offered.kind) or _kind(office, None)
    slot = slots.slot_of(offered.slots[number - 1])
    with office.reg.transaction():
        appt = book_slot(office, app, kind, slot, now, by="applicant", offer_id=offered.id, source=source)
        if appt is None:
            shown = slots.describe(office.cal, kind, slot)
            office.reg.add_event(
                at=now,
                actor="applicant",
                action="appointment_refused_full",
                transaction_id=app.transaction_id,
                detail={"offer": offered.id, "number": number, "slot": f"{slot.key[0]} {slot.key[1]}", "kind": kind.id},
            )
            offer(office, app, kind, now, actor="applicant", why="full", source=source, refused=shown)
    return appt


def book_by_clerk(dep: Deployment, tid: str, at: str, kind_id: str | None, now: datetime) -> Appointment:
    """``appointments book``: the clerk books a slot for an applicant who
    phoned or came by; the applicant gets the same confirmation and invitation."""
    user = require(dep.cfg, "clerk", "approver")
    office = Office(dep)
    try:
        when = datetime.strptime(at.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise StepRefused(f"--at: expected 'YYYY-MM-DD HH:MM', got {at!r}") from None
    with office.reg.transaction():
        app = office.app(tid)
        kind = _kind(office, kind_id)
        _may_visit(app)
        booked = rows.active_of(office.reg, app.transaction_id, today(office, now))
        if booked is not None:
            raise StepRefused(f"{app.transaction_id}: already booked ({booked.day} {booked.slot}, queue {booked.queue_number})")
        slot = slots.Slot(when.date(), when.time())
        if slot.at not in kind.slots:
            raise StepRefused(f"{at} is not a slot of {kind.id}: {', '.join(f'{t:%H:%M}' for t in kind.slots)}")
        cal = office.cal
        if cal.at(slot.day, slot.at) <= now:
            raise StepRefused(f"{at} has gone by")
        if (slot.day - cal.local(now).date()).days > 366:
            raise StepRefused(f"{at} is more than a year ahead (a Buddhist-era year written as C.E.?)")
        why = None if cal.is_working_day(slot.day) else "the office is closed that day"
        appt = None if why else book_slot(office, app, kind, slot, now, by=user.login)
        if appt is None:
            free = slots.free_slots(office.reg, cal, office.cfg.appointments, kind, now)
            raise StepRefused(f"{at}: {why or 'full'}; free: {', '.join(f'{s.key[0]} {s.key[1]}' for s in free) or 'none'}")
    return appt


def book_slot(
    office: Office,
    app: Application,
    kind: VisitKind,
    slot: slots.Slot,
    now: datetime,
    *,
    by: str,
    offer_id: int | None = None,
    source: str | None = None,
) -> Appointment | None:
    """Book ``slot`` if it has room (in the slot, the kind's day and the
    office's day), is ahead and on a working day; else None. Room is checked
    and the booking written in one transaction, with the confirmation."""
    cfg, cal, reg = office.cfg.appointments, office.cal, office.reg
    day, at = slot.key
    start = cal.at(slot.day, slot.at)
    with reg.transaction():
        room = (
            rows.taken(reg, cfg.office, kind.id, day, at) < kind.per_slot
            and rows.taken(reg, cfg.office, kind.id, day) < kind.per_day
            and rows.taken(reg, cfg.office, None, day) < cfg.per_day
            and start > now
            and cal.is_working_day(slot.day)
        )
        if not room:
            return None
        queue_number = rows.next_queue_number(reg, cfg.office, day)
        domain = office.cfg.agency.mailbox_address.rpartition("@")[2] or "mailintake.invalid"
        appt = rows.add(
            reg,
            {
                "transaction_id": app.transaction_id,
                "kind": kind.id,
                "office": cfg.office,
                "day": day,
                "slot": at,
                "starts_at": to_iso(start),
                "ends_at": to_iso(start + timedelta(minutes=kind.minutes)),
                "queue_number": queue_number,
                "status": "booked",
                "uid": f"{app.transaction_id}.{cfg.office}.{day}.q{queue_number}@{domain}".lower(),
                "offer_id": offer_id,
                "source_message": source,
                "booked_at": to_iso(now),
                "booked_by": by,
            },
        )
        reg.add_event(
            at=now,
            actor=by,
            action="appointment_booked",
            transaction_id=app.transaction_id,
            detail={"appointment": appt.id, "queue": queue_number, "day": day, "time": at, "kind": kind.id, "office": cfg.office},
        )
        mail.confirm(office, app, appt, now)
    return appt


def cancel(office: Office, app: Application, now: datetime, *, actor: str, reason: str, source: str | None = None) -> Appointment:
    """Cancel the application's booking: the slot is free again; the applicant
    is told, with a METHOD:CANCEL invitation that takes it out of their calendar."""
    reg = office.reg
    with reg.transaction():
        appt = rows.active_of(reg, app.transaction_id, today(office, now))
        if appt is None:
            raise StepRefused(f"{app.transaction_id}: no appointment booked")
        rows.mark_cancelled(reg, appt.id, to_iso(now) or "", actor, reason[:500], source)
        appt = rows.get(reg, appt.id) or appt
        reg.add_event(
            at=now,
            actor=actor,
            action="appointment_cancelled",
            transaction_id=app.transaction_id,
            detail={
                "appointment": appt.id,
                "queue": appt.queue_number,
                "day": appt.day,
                "time": appt.slot,
                "reason": reason[:300],
            },
        )
        mail.cancelled(office, app, appt, now, by_applicant=actor == "applicant", reason=reason)
    return appt


# --- the applicant's reply --------------------------------------------------------------------
def on_reply(office: Office, app: Application, now: datetime) -> str | None:
    """Act on the reply just registered on ``app`` (inside the intake's
    transaction): book, cancel or offer; returns what was done, or None. A
    failure here is logged and undone alone: the reply is still registered."""
    if app.kind != "application" or app.status in NO_VISITS:
        return None
    try:
        with office.reg.transaction():  # a savepoint inside the intake's transaction
            return _act_on_reply(office, app, now)
    except Exception as exc:
        log.exception("%s: the reply about an appointment failed", app.transaction_id)
        office.reg.add_event(
            at=now, actor="system", action="appointment_reply_failed", transaction_id=app.transaction_id, detail=str(exc)[:300]
        )
        return None


def _act_on_reply(office: Office, app: Application, now: datetime) -> str | None:
    reg, cfg = office.reg, office.cfg.appointments
    source, lines, threads = _the_reply(office, app.transaction_id)
    if source is None or rows.handled(reg, source):
        return None
    booked = rows.active_of(reg, app.transaction_id, today(office, now))
    open_offer = None if booked is not None else _offer_answered(office, app.transaction_id, threads)
    wish = slots.read_reply(lines, cfg, len(open_offer.slots) if open_offer else 0, booked=booked is not None)
    if wish is None:
        return None
    what, number = wish
    if what == slots.CANCEL and booked is not None:
        cancel(office, app, now, actor="applicant", reason="cancelled by the applicant's reply", source=source)
    elif what == slots.BOOK and open_offer is not None:
        book(office, app, open_offer, number, now, source)
    elif what in (slots.ASK, slots.REBOOK) and booked is not None:  # already booked: the confirmation again
        mail.confirm(office, app, booked, now, already=what == slots.REBOOK)
    elif what == slots.ASK:
        offer(office, app, _kind(office, None), now, actor="applicant", why="asked", source=source)
    elif what == slots.UNCLEAR and open_offer is not None and not rows.unclear_answered(reg, app.transaction_id, open_offer.id):
        # Once per offer: the answer is itself an offer (why "unclear"), never answered in turn.
        reg.add_event(
            at=now,
            actor="applicant",
            action="appointment_reply_unclear",
            transaction_id=app.transaction_id,
            detail={"offer": open_offer.id, "reply": source, "first_line": lines[0][:200]},
        )
        kind = office.cfg.appointments.kind(open_offer.kind) or _kind(office, None)
        offer(office, app, kind, now, actor="applicant", why="unclear", source=source, unclear=True)
    else:
        return None
    return what


def _offer_answered(office: Office, tid: str, threads: list[str]) -> Offer | None:
    """The offer a reply answers: the one its In-Reply-To/References name, when
    still unused; else the last offer, when unused."""
    reg = office.reg
    for found in (rows.offer_by_message(reg, tid, threads), rows.last_offer(reg, tid)):
        if found is not None and not rows.offer_used(reg, found.id):
            return found
    return None


def _the_reply(office: Office, tid: str) -> tuple[str | None, list[str], list[str]]:
    """The reply being registered (the application's last inbound mail): its
    key (Message-ID, else digest), its own text, read from the store, and the
    Message-IDs it threads on (In-Reply-To first, then References newest first)."""
    inbound = applications.inbound_of(office.reg, tid)
    if not inbound or inbound[-1].kind != "reply":
        return None, [], []
    m = inbound[-1]
    try:
        raw = office.dep.store.get(m.sha256)
    except (OSError, ValueError):  # not kept (purged): nothing to read
        return None, [], []
    return m.message_id or f"sha256:{m.sha256}", slots.own_text(slots.body_text(raw)), slots.threads_on(raw)


# --- the visit ------------------------------------------------------------------------------
def attend(office: Office, tid: str, now: datetime, actor: str) -> int | None:
    """The applicant came (``verify-identity --method in-person``): the booking
    of ``tid`` on today's date is marked attended; returns its id, or None."""
    today = office.cal.local(now).date().isoformat()
    found = [a for a in rows.of_application(office.reg, tid) if a.day == today and a.status in rows.HOLDING]
    if not found:
        return None
    appt = found[-1]
    if rows.mark_attended(office.reg, appt.id, to_iso(now) or "", actor):
        office.reg.add_event(
            at=now,
            actor=actor,
            action="appointment_attended",
            transaction_id=tid,
            detail={"appointment": appt.id, "queue": appt.queue_number, "day": appt.day, "time": appt.slot},
        )
    return appt.id


__all__ = ["book_by_clerk", "cancel_by_clerk", "offer_by_clerk", "on_reply"]
