"""The documents checklist of an application and what blocks its approval
(issue 13, R9, R15).

Each document a service declares (``[[documents]]``) is matched to a file
received: by the clerk (``triage doc``, kept in ``base.data.checklist``), else
automatically, the first accepted file not yet matched whose name (or any text
the checks kept) holds the document's name or one of its keywords. The missing
required ones are named in the acknowledgement and are the default of
``request-info``.

``blocks`` is the one list of what stops an approval: the approve step refuses
with it and ``triage show`` lists it. Missing documents and rule R9 (a juristic
person's power of attorney checked ``ok``, its e-Stamp ``ok`` or ``na``) may be
overridden by the approver with a reason, which the audit log keeps.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailintake.base.data import applications
from mailintake.base.data import checklist as rows
from mailintake.base.data.db import Registry
from mailintake.base.data.records import Application, StoredFile
from mailintake.base.errors import NotFound, StepRefused
from mailintake.base.rules import Document, Service
from mailintake.desk.office import Office
from mailintake.desk.roles import require
from mailintake.desk.services import juristic_problems

AUTO, CLERK = "auto", "clerk"


@dataclass(frozen=True)
class Item:
    """One document of the checklist and the file that answers it, if any."""

    number: int  # its position in the service file, from 1
    document: Document
    file: StoredFile | None
    file_number: int | None  # as ``triage files`` numbers it
    how: str | None  # AUTO or CLERK

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name_th": self.document.name_th,
            "name_en": self.document.name_en,
            "required": self.document.required,
            "file": self.file.name if self.file else None,
            "file_number": self.file_number,
            "matched": self.how,
        }


@dataclass(frozen=True)
class Block:
    """One reason an approval is refused; ``overridable`` by the approver with a reason."""

    code: str
    text: str
    overridable: bool


def _plain(text: str) -> str:
    """Lower case, one Unicode form, separators as single spaces: ``ID_card-copy.PDF`` reads ``id card copy pdf``."""
    return " ".join(re.sub(r"[_\-.()\[\]/\\,]+", " ", unicodedata.normalize("NFC", text).lower()).split())


def _names(doc: Document) -> list[str]:
    return [w for w in (_plain(k) for k in (doc.name_th, doc.name_en, *doc.keywords)) if w]


def _text_of(f: StoredFile) -> str:
    found = f.details.get("text")
    return _plain(f"{f.name} {found[:20000] if isinstance(found, str) else ''}")


def checklist(reg: Registry, service: Service | None, tid: str) -> list[Item]:
    """The service's documents, each with its file: the clerk's match first, then the automatic one."""
    if service is None:
        return []
    files = applications.files_of(reg, tid)
    number = {f.id: i for i, f in enumerate(files, 1)}
    by_id = {f.id: f for f in files}
    clerk = {n: by_id[m["file_id"]] for n, m in rows.matches_of(reg, tid).items() if m["file_id"] in by_id}
    used = {f.id for f in clerk.values()}
    texts = {f.id: _text_of(f) for f in files if f.accepted}
    out: list[Item] = []
    for n, doc in enumerate(service.documents, 1):
        if n in clerk:
            out.append(Item(n, doc, clerk[n], number[clerk[n].id], CLERK))
            continue
        words = _names(doc)
        found = next((f for f in files if f.id in texts and f.id not in used and any(w in texts[f.id] for w in words)), None)
        if found is not None:
            used.add(found.id)
        out.append(Item(n, doc, found, number[found.id] if found else None, AUTO if found else None))
    return out


def missing(reg: Registry, service: Service | None, tid: str) -> list[Document]:
    """The required documents no file answers yet."""
    return [i.document for i in checklist(reg, service, tid) if i.document.required and i.file is None]


def request_default(office: Office, app: Application, named: tuple[str, ...] = ()) -> tuple[str, tuple[str, ...]]:
    """What ``request-info`` asks for when the clerk gives no reason: the
    documents named with ``--doc`` (they are the request), else the missing ones."""
    named = tuple(d.strip() for d in named if d.strip())
    if named:
        listed = ", ".join(named)
        return f"ขอเอกสารเพิ่มเติม: {listed} / More documents are needed: {listed}", named
    docs = missing(office.reg, office.service_of(app), app.transaction_id)
    if not docs:
        raise StepRefused("request-info needs --reason or --doc: no required document is missing, so say what is needed")
    reason = (
        f"ยังไม่ได้รับเอกสารที่จำเป็น: {', '.join(d.name_th for d in docs)} / "
        f"Required documents not yet received: {', '.join(d.name_en for d in docs)}"
    )
    return reason, tuple(f"{d.name_th} / {d.name_en}" for d in docs)


# --- what blocks an approval ----------------------------------------------------------------
def juristic_blocks(office: Office, app: Application) -> list[Block]:
    """Rule R9 (with R15's checks) as the approval holds it, for a juristic
    person: what ``desk.services.juristic_problems`` finds (a service that does
    not admit companies, free webmail instead of the company's domain), and the
    power of attorney checked ``ok`` and the e-Stamp ``ok`` or ``na`` (``triage check``)."""
    if not app.juristic:
        return []
    domain = app.applicant_email.rpartition("@")[2]
    # poa_ok: a POA among the files is not enough here; the clerk's check below decides.
    found = juristic_problems(office.dep.rules, office.service_of(app), domain, (), poa_ok=True)
    texts = {
        "juristic_not_allowed": "juristic person: the service does not admit companies (R9)",
        "juristic_webmail": f"juristic person: applied from free webmail ({domain}), not the company's own domain (R9)",
    }
    out = [Block(code, texts[code], True) for code in found if code in texts]
    if app.poa != "ok":
        why = f"power of attorney {app.poa or 'not checked'}; check it with `triage check ID --poa ok`"
        out.append(Block("juristic_poa", f"juristic person: {why}", True))
    if app.stamp not in ("ok", "na"):
        why = f"e-Stamp {app.stamp or 'not checked'}; check it with `triage check ID --stamp ok` (or na)"
        out.append(Block("juristic_stamp", f"juristic person: {why}", True))
    return out


def blocks(office: Office, app: Application) -> list[Block]:
    """Everything that stops ``app`` being approved now, the fixed ones first."""
    service = office.service_of(app)
    if app.kind == "inquiry":
        return [Block("inquiry", "it is an inquiry: answer it with `triage reply`", False)]
    if service is None:
        return [Block("no_service", "no service set; use `triage set ID --service SERVICE`", False)]
    out = []
    if service.risk in ("medium", "high") and not app.identity:
        out.append(
            Block(
                "identity",
                f"identity not verified ({service.risk}-risk service); record it with `triage verify-identity`",
                False,
            )
        )
    for doc in missing(office.reg, service, app.transaction_id):
        out.append(
            Block(
                "document_missing",
                f"required document missing: {doc.name_en} ({doc.name_th}); match a file with `triage doc`",
                True,
            )
        )
    return out + juristic_blocks(office, app)


def guard_approval(office: Office, app: Application, override: str, actor: str, now: datetime) -> None:
    """Refuse the approval while anything blocks it; what the approver
    overrides with a reason is written as an ``approval_overridden`` event."""
    found = blocks(office, app)
    fixed = [b for b in found if not b.overridable]
    if fixed:
        raise StepRefused(f"{app.transaction_id}: cannot approve: {fixed[0].text}")
    if not found:
        return
    if not override.strip():
        texts = "; ".join(b.text for b in found)
        raise StepRefused(f"{app.transaction_id}: cannot approve: {texts}; or approve with --override REASON")
    office.reg.add_event(
        at=now,
        actor=actor,
        action="approval_overridden",
        transaction_id=app.transaction_id,
        before=app.status,
        after=app.status,
        detail={"reason": override.strip()[:2000], "blocks": [b.code for b in found], "texts": [b.text for b in found]},
    )


def summary(office: Office, app: Application) -> dict[str, Any]:
    """What ``triage show`` adds: the checklist and what blocks the approval."""
    if app.kind == "inquiry":
        return {"checklist": [], "approval_blocked_by": []}
    return {
        "checklist": [i.as_dict() for i in checklist(office.reg, office.service_of(app), app.transaction_id)],
        "approval_blocked_by": [{"code": b.code, "text": b.text, "overridable": b.overridable} for b in blocks(office, app)],
    }


# --- the clerk's match ------------------------------------------------------------------------
def _pick(items: list[Any], key: str, names: Any, what: str, listing: str) -> int:
    """The position (from 1) of ``key``: a number, or a name ``names(item)`` gives."""
    if key.strip().isdigit() and 1 <= int(key) <= len(items):
        return int(key)
    wanted = key.strip().lower()
    for i, item in enumerate(items, 1):
        if wanted in (n.lower() for n in names(item)):
            return i
    raise NotFound(f"no {what} {key!r}; see {listing}")


def tick(office: Office, tid: str, document: str, file: str, now: datetime) -> Item:
    """The clerk (or approver) says which file is the document: an audited match."""
    user = require(office.cfg, "clerk", "approver")
    with office.reg.transaction():
        app = office.app(tid)
        service = office.service_of(app)
        if service is None:
            raise StepRefused(f"{app.transaction_id}: no service set; use `triage set ID --service SERVICE`")
        n = _pick(list(service.documents), document, lambda d: (d.name_th, d.name_en), "document", "`triage show`")
        files = applications.files_of(office.reg, app.transaction_id)
        f = files[_pick(files, file, lambda f: (f.name,), "file", "`triage files`") - 1]
        rows.match(office.reg, app.transaction_id, n, f.id, user.login, now.isoformat(timespec="seconds"))
        doc = service.documents[n - 1]
        office.reg.add_event(
            at=now,
            actor=user.login,
            action="document_matched",
            transaction_id=app.transaction_id,
            before=app.status,
            after=app.status,
            detail={"document": n, "name_en": doc.name_en, "file": f.name, "file_sha256": f.sha256},
        )
        return checklist(office.reg, service, app.transaction_id)[n - 1]
