"""The desk's actions that change no status: take or assign an application,
add an internal note, record how identity was proven (R10), how the power of
attorney and the stamp duty were found (R15), and set the service or the
juristic person (R9). Each is an audit event by a user holding the role.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mailintake.base.data import applications
from mailintake.base.data.db import to_iso
from mailintake.base.data.records import Application
from mailintake.base.errors import NotFound, StepRefused
from mailintake.desk import appointments
from mailintake.desk.office import Office
from mailintake.desk.roles import require
from mailintake.desk.services import juristic_problems

IDENTITY_METHODS = ("photo", "in-person", "digital-id")


class Actions:
    """take, assign, note, verify_identity, check_documents and set, through the desk's ``Office``."""

    def __init__(self, office: Office):
        self.office = office

    def take(self, tid: str, now: datetime) -> str:
        user = require(self.office.cfg, "clerk")
        self.office.act(tid, now, ("clerk",), "assigned", {"assigned_to": user.login}, {"to": user.login})
        return user.login

    def assign(self, tid: str, login: str, now: datetime) -> None:
        if login not in self.office.cfg.users:
            raise NotFound(f"no user {login} in [users]")
        self.office.act(tid, now, ("clerk", "admin"), "assigned", {"assigned_to": login}, {"to": login})

    def note(self, tid: str, text: str, now: datetime) -> None:
        """An internal note: kept in the audit log, never emailed."""
        self.office.act(tid, now, ("clerk", "approver", "finance", "admin"), "note", {}, text.strip()[:4000])

    def verify_identity(self, tid: str, method: str, note: str, now: datetime) -> None:
        """R10: record how the applicant's identity was proven."""
        if method not in IDENTITY_METHODS:
            raise StepRefused(f"--method must be one of {', '.join(IDENTITY_METHODS)}")
        record: dict[str, Any] = {"method": method, "note": note.strip()[:500], "at": to_iso(now)}
        user = require(self.office.cfg, "clerk", "approver")
        with self.office.reg.transaction():
            # In person: the day's booking is marked attended and linked (desk.appointments).
            app = self.office.app(tid)
            seen = appointments.attend(self.office, app.transaction_id, now, user.login) if method == "in-person" else None
            detail: dict[str, Any] = {"method": method, "note": note.strip()[:500]}
            if seen is not None:
                record["appointment"] = detail["appointment"] = seen
            self.office.act(tid, now, ("clerk", "approver"), "identity_verified", {"identity": record}, detail)

    def check_documents(self, tid: str, poa: str | None, stamp: str | None, now: datetime) -> None:
        """R15: power of attorney and e-Stamp duty as the clerk found them."""
        changes: dict[str, Any] = {k: v for k, v in (("poa", poa), ("stamp", stamp)) if v}
        if not changes:
            raise StepRefused("give --poa and/or --stamp")
        detail = dict(changes)
        app = self.office.app(tid)
        if poa is not None and app.juristic:  # R9 applied afresh with the clerk's finding (desk.services)
            changes["problems"] = self._problems_as_juristic(app, True, None, poa_ok=poa == "ok")
        self.office.act(tid, now, ("clerk",), "documents_checked", changes, detail)

    def set(self, tid: str, now: datetime, *, service: str | None = None, juristic: bool | None = None) -> Application:
        """The clerk sets the service of an unassigned application, or marks a juristic person."""
        services = self.office.services
        changes: dict[str, Any] = {}
        if service is not None:
            if service not in services:
                raise StepRefused(f"no service {service!r}; known: {', '.join(sorted(services))}")
            app = self.office.app(tid)
            changes["service"] = service
            changes["due_at"] = to_iso(self.office.due_at(datetime.fromisoformat(app.deemed_received_at), services[service]))
        if juristic is not None:
            changes["juristic"] = int(juristic)
            changes["problems"] = self._problems_as_juristic(self.office.app(tid), juristic, service)
        if not changes:
            raise StepRefused("give --service or --juristic")
        # The event keeps the problems as the column holds them: JSON text.
        detail = {k: json.dumps(list(v)) if isinstance(v, tuple) else v for k, v in changes.items() if k != "due_at"}
        _user, app = self.office.act(tid, now, ("clerk",), "updated", changes, detail)
        if service is not None:  # the new time limit, with the pauses the events show (desk.clock)
            with self.office.reg.transaction():
                app = self.office.refresh_clock(app)
        return app

    def _problems_as_juristic(
        self, app: Application, juristic: bool, service_id: str | None, *, poa_ok: bool | None = None
    ) -> tuple[str, ...]:
        """The application's problems once the clerk marks (or unmarks) a company: R9 applied afresh."""
        problems = [p for p in app.problems if not p.startswith("juristic_")]
        if juristic:
            problems += juristic_problems(
                self.office.dep.rules,
                self.office.dep.service(service_id or app.service),
                app.applicant_email.rpartition("@")[2],
                applications.file_names(self.office.reg, app.transaction_id),
                poa_ok=app.poa == "ok" if poa_ok is None else poa_ok,
            )
        return tuple(problems)
