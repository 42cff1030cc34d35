"""The agency's wording, as data in ``templates/``: the bilingual mail
templates (Jinja2), the notices of the application's life (``notices.toml``)
and the problem sentences (``problems.toml``), Thai first, then English.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from mailintake.base.config import Config


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


class Renderer:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(p) for p in cfg.search_path("templates")]),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
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
