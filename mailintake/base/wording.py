"""The agency's wording, as data in ``templates/``: the bilingual mail
templates (Jinja2), the notices of the application's life (``notices.toml``)
and the problem sentences (``problems.toml``), Thai first, then English.

``mailintake rules check`` (``ops/checkup.py``) renders every one of them with
sample data before a sweep does.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplatePlaces(Protocol):
    """What the wording needs of the configuration: where the templates are
    and the agency they speak for (named here so that this module does not
    import the configuration, which imports the rules that check it)."""

    @property
    def agency(self) -> Any: ...

    def find(self, kind: str, name: str) -> Path: ...

    def search_path(self, kind: str) -> list[Path]: ...


def whole_dpi(dpi: float | None) -> int | None:
    """A resolution as people read it: a whole number, half up (299.5 is 300).
    The acknowledgement, ``triage show`` and ``triage files`` all show this, so
    the applicant and the clerk see the same number; the JSON keeps the measure."""
    return None if dpi is None else math.floor(dpi + 0.5)


@dataclass(frozen=True)
class Problem:
    code: str
    th: str
    en: str


class Wording:
    """Problem sentences from ``problems.toml``."""

    def __init__(self, path: Path):
        with path.open("rb") as fh:
            self.table: dict[str, dict[str, str]] = tomllib.load(fh)

    def problem(self, code: str, **fields: Any) -> Problem:
        entry = self.table.get(code, {"th": code, "en": code})
        values = {k: str(v) for k, v in fields.items()}
        try:
            return Problem(code, entry["th"].format_map(values), entry["en"].format_map(values))
        except (KeyError, ValueError, IndexError):
            return Problem(code, entry.get("th", code), entry.get("en", code))


def environment(dirs: list[Path]) -> jinja2.Environment:
    """The one Jinja environment of the mail templates: HTML escaped, an
    unknown variable an error (never an empty hole in a letter). It is
    sandboxed (``ImmutableSandboxedEnvironment``): a template may read what it
    is given but not reach Python's internals (``''.__class__``) nor change a
    list or dict, so an edited template cannot run a command; the attempt is a
    ``jinja2.exceptions.SecurityError``. Templates are looked up only in
    ``dirs``, the configured and the shipped directories."""
    return ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(p) for p in dirs]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


class Renderer:
    def __init__(self, cfg: TemplatePlaces):
        self.cfg = cfg
        self.env = environment(cfg.search_path("templates"))
        self._notices: dict[str, dict[str, str]] | None = None

    def notice(self, key: str, context: dict[str, Any]) -> dict[str, str]:
        """One entry of ``notices.toml`` rendered: subject_th, subject_en, th, en."""
        if self._notices is None:
            with self.cfg.find("templates", "notices.toml").open("rb") as fh:
                self._notices = tomllib.load(fh)
        entry = self._notices.get(key)
        if entry is None:
            raise KeyError(f"templates/notices.toml has no [{key}]")
        return {k: self.env.from_string(str(v)).render(agency=self.cfg.agency, **context).strip() for k, v in entry.items()}

    def has(self, name: str) -> bool:
        try:
            self.env.get_template(name)
            return True
        except jinja2.TemplateNotFound:
            return False

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(name).render(agency=self.cfg.agency, **context)
