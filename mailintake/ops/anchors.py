"""The audit chain proved, and anchored outside the host (issue 11).

``anchor`` (daily by the daemon, and ``mailintake audit anchor``) checks the
chain, then records its head (last event id and MAC) in the anchors log beside
the audit key and mails it to ``[daemon] admin_email`` through the outbox, as
the daemon's sweep alerts go. ``check`` is ``mailintake audit verify``: every
MAC recomputed, and every anchor (the anchors log, ``--anchor ID:MAC`` as read
from the admin's mail, a backup's keyed manifest) found in the registry as it
was anchored; else the registry was rewritten or rolled back, in one line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailintake.base.auditkey import AuditKey, real_now, record
from mailintake.base.data.audit import Verification, check_anchor, head, verify
from mailintake.base.data.db import to_iso
from mailintake.base.deployment import Deployment
from mailintake.base.errors import UserError
from mailintake.base.outgoing import compose, queue
from mailintake.ops.backup import check_manifest, read_manifest

log = logging.getLogger(__name__)


class AuditError(UserError):
    """The audit chain broken, rolled back or not provable (one line, exit 1)."""


@dataclass(frozen=True)
class Anchored:
    event: int
    mac: str
    log: Path
    emailed: str | None
    unlogged: str | None = None  # why the anchors log could not be written

    def describe(self) -> str:
        mailed = f"; mailed to {self.emailed}" if self.emailed else "; no [daemon] admin_email to mail it to"
        logged = f"NOT recorded in {self.log}: {self.unlogged}" if self.unlogged else f"recorded in {self.log}"
        return f"anchored the audit chain at event {self.event} (MAC {self.mac[:16]}...): {logged}{mailed}"


def anchor(dep: Deployment, now: datetime) -> Anchored:
    """Anchor the chain head: a chain that does not verify is not anchored."""
    cfg, reg = dep.cfg, dep.registry
    keyring = AuditKey(cfg.audit.key_file)
    last = head(reg)
    if last is None:
        raise AuditError("the audit log holds no events yet: nothing to anchor")
    keyring(last[0])  # a deployment with no key yet gets one, and the anchors log beside it
    chain = _proved(dep, keyring)
    event, mac = chain.head or last
    emailed = cfg.daemon.admin_email or None
    if emailed:
        context = {"event": event, "mac": mac, "mailbox": cfg.agency.mailbox_address, "at": to_iso(now)}
        composed = compose(cfg, dep.renderer, template="audit_anchor", recipient=emailed, context=context, now=now, tid=None)
        with reg.transaction():
            queue(cfg, reg, composed, kind="audit_anchor", tid=None, now=now)
    entry = {"kind": "anchor", "event": event, "mac": mac, "at": to_iso(now), "written_at": to_iso(real_now())}
    try:
        record(keyring.anchors_path, entry)
    except OSError as exc:  # e.g. a read-only /etc: the mail still anchors it
        log.warning("cannot write the anchors log %s: %s", keyring.anchors_path, exc.strerror)
        return Anchored(event, mac, keyring.anchors_path, emailed, exc.strerror or str(exc))
    return Anchored(event, mac, keyring.anchors_path, emailed)


def _proved(dep: Deployment, keyring: AuditKey) -> Verification:
    """The chain verified with the key, or ``AuditError`` saying where it breaks."""
    key = keyring.load()
    chain = verify(dep.registry, key, keyed_after=keyring.after_event())
    if not chain.ok:
        raise AuditError(f"audit chain broken at event {chain.broken_id}: {chain.reason}")
    if chain.unchecked:
        raise AuditError(f"no audit key at {keyring.path}: the MACs of {chain.unchecked} events cannot be checked")
    return chain


def parse_anchor(text: str) -> tuple[int, str]:
    """``ID:MAC`` as the anchor mail gives it."""
    number, _, mac = text.strip().partition(":")
    mac = mac.strip().lower()
    if not number.strip().isdigit() or len(mac) != 64 or any(c not in "0123456789abcdef" for c in mac):
        raise AuditError(f"{text!r} is not an anchor: expected ID:MAC as the anchor mail gives it, e.g. 42:{'0f' * 32}")
    return int(number), mac


def check(dep: Deployment, anchors: tuple[str, ...] = (), manifests: tuple[Path, ...] = ()) -> str:
    """``audit verify``: one line saying what was proved, or ``AuditError``."""
    keyring = AuditKey(dep.cfg.audit.key_file)
    chain = _proved(dep, keyring)
    found = [(int(a["event"]), str(a["mac"]), f"{keyring.anchors_path} ({a.get('at')})") for a in keyring.anchors()]
    found += [(*parse_anchor(a), "the anchor given") for a in anchors]
    for path in manifests:
        manifest = read_manifest(path)
        _, problem = check_manifest(manifest, keyring.load(), keyring.path)
        if problem:
            raise AuditError(f"{path}: {problem}")
        if manifest.get("anchor"):
            found.append((int(manifest["anchor"]["event"]), str(manifest["anchor"]["mac"]), f"the manifest {path}"))
    for event, mac, where in found:
        problem = check_anchor(dep.registry, event, mac, where)
        if problem:
            raise AuditError(problem)
    line = f"audit chain intact: {chain.events} events"
    if chain.unkeyed:
        line += f", {chain.unkeyed} of them unkeyed (written before the audit key)"
    if found:
        return line + f"; {len(found)} anchors hold, the latest at event {max(e for e, _, _ in found)}"
    return line + "; no anchor yet (mailintake audit anchor)"
