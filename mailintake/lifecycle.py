"""The clerk's actions on an application. Each is done by a role, writes an audit
event (who, when, what, status before and after) and, where the applicant
should know, queues a bilingual email in the same transaction.

This release has the actions that change no status: take, assign and internal
notes. The status transitions of DESIGN.md build on ``_act``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .config import Config
from .registry import Registry, to_iso
from .roles import require
from .triage import NotFound


def _application(reg: Registry, tid: str) -> dict[str, Any]:
    row = reg.one("SELECT * FROM applications WHERE transaction_id = ?", (tid.upper(),))
    if row is None:
        raise NotFound(f"no application {tid}")
    return row


def _act(cfg: Config, reg: Registry, tid: str, now: datetime, *, roles: tuple[str, ...], action: str,
         changes: dict[str, Any], detail: str | dict[str, Any] | None) -> dict[str, Any]:
    user = require(cfg, *roles)
    with reg.transaction():
        app = _application(reg, tid)
        if changes:
            reg.update("applications", "transaction_id", app["transaction_id"], {**changes, "updated_at": to_iso(now)})
        reg.add_event(at=now, actor=user.login, action=action, transaction_id=app["transaction_id"],
                      before=app["status"], after=app["status"], detail=detail)
    return app


def take(cfg: Config, reg: Registry, tid: str, now: datetime) -> str:
    """Assign the application to the acting clerk."""
    user = require(cfg, "clerk")
    _act(cfg, reg, tid, now, roles=("clerk",), action="assigned", changes={"assigned_to": user.login},
         detail={"to": user.login})
    return user.login


def assign(cfg: Config, reg: Registry, tid: str, login: str, now: datetime) -> None:
    if login not in cfg.users:
        raise NotFound(f"no user {login} in [users]")
    _act(cfg, reg, tid, now, roles=("clerk", "admin"), action="assigned", changes={"assigned_to": login},
         detail={"to": login})


def note(cfg: Config, reg: Registry, tid: str, text: str, now: datetime) -> None:
    """An internal note: kept in the audit log, never emailed."""
    _act(cfg, reg, tid, now, roles=("clerk", "approver", "finance", "admin"), action="note", changes={},
         detail=text.strip()[:4000])
