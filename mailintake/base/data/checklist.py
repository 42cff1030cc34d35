"""SQL of the documents checklist (issue 13): the clerk's matches of a
service's required document (by its position in the service file) to a file
received (table ``checklist_matches``). The rules are ``desk.checklist``'s."""

from __future__ import annotations

from typing import Any

from mailintake.base.data.db import Registry


def match(reg: Registry, tid: str, document: int, file_id: int, actor: str, at: str) -> None:
    """The clerk's match, replacing an earlier one of the same document."""
    reg.conn.execute("DELETE FROM checklist_matches WHERE transaction_id = ? AND document = ?", (tid, document))
    reg.insert(
        "checklist_matches",
        {"transaction_id": tid, "document": document, "file_id": file_id, "matched_by": actor, "matched_at": at},
    )


def matches_of(reg: Registry, tid: str) -> dict[int, dict[str, Any]]:
    """The clerk's matches of ``tid`` by document position."""
    rows = reg.all("SELECT * FROM checklist_matches WHERE transaction_id = ? ORDER BY document", (tid,))
    return {r["document"]: r for r in rows}
