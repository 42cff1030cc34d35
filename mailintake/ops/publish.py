"""The public site (issue 14, R18, R28; ITA items O8, O9, O10): one static,
bilingual site built from what the office already keeps, by ``mailintake
publish --out DIR`` and, monthly, by the daemon (``ops.publishing``).

- ``index.html``, the citizen manual of every service (``services/``, from
  ``rules/services/*.toml`` through ``ops.manuals``), how to apply by email
  (``e-service.html``), the feedback and complaint address (``feedback.html``);
- the monthly statistics of every finished month (``stats/YYYY-MM/``, written
  by ``ops.monthly.write_monthly``) with their index, and the month's figures
  as open data beside them (``open-data/YYYY-MM.json`` and ``.csv``);
- the permit register (``register/``, ``permits.register.publish``'s JSON and
  the same rows as a page) and how to verify a permit (``verify.html``);
- ``site.css`` with the Sarabun font (``fonts/``), ``sitemap.html`` (every
  page, for people) and, with a ``base_url``, ``sitemap.xml`` (the protocol
  needs absolute addresses);
- ``.mailintake-site.json``: the manifest of the files this build wrote; the
  next build removes those of the last one it did not write again (a removed
  service's manual), never a file the site did not write (one it would
  overwrite refuses the build); at most ``MAX_MONTHS`` months of statistics.

The pages are Jinja2 templates in ``templates/site/`` (sandboxed, HTML
escaped). Every link is relative and names a file (``index.html``, never a bare
directory), so the site works from ``file://`` as from any static web server.
Only what the law publishes goes out: figures, the services, and the permit
register with holders' names masked; no applicant's address, name or file.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import jinja2

from mailintake.base.deployment import Deployment
from mailintake.base.errors import ConfigError, UserError
from mailintake.base.thaitext import english_date, thai_date
from mailintake.base.wording import environment
from mailintake.ops import manuals
from mailintake.permits.document import FONTS as FONT_DIR

FONT_FILES = ("Sarabun-Regular.ttf", "Sarabun-Bold.ttf", "OFL-Sarabun.txt")
MANIFEST = ".mailintake-site.json"  # the files the last build wrote: only those are ever removed


@dataclass
class Site:
    """What one build wrote: every page (paths relative to ``out``, for the
    sitemap), the months of statistics, the open-data files."""

    out: Path
    pages: list[str] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    open_data: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    titles: dict[str, tuple[str, str]] = field(default_factory=dict)
    sitemap_xml: bool = False
    removed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "pages": len(self.pages),
            "months": self.months,
            "open_data": self.open_data,
            "files": len(self.files),
            "sitemap_xml": self.sitemap_xml,
            "removed": self.removed,
        }

    def describe(self) -> str:
        months = f"{len(self.months)} month(s) of statistics" + (
            f" ({self.months[0]} to {self.months[-1]})" if self.months else ""
        )
        return f"site written to {self.out}: {len(self.pages)} pages, {months}, {len(self.open_data)} open-data file(s)"


class _Writer:
    """Renders the site's templates into ``out`` with what every page shares."""

    def __init__(self, dep: Deployment, site: Site, common: dict[str, Any]):
        self.env = environment(dep.cfg.search_path("templates"))
        self.site = site
        self.common = common

    def page(self, path: str, template: str, title_th: str, title_en: str, **context: Any) -> None:
        root = "../" * path.count("/")
        try:
            html = self.env.get_template(f"site/{template}").render(
                **self.common, root=root, title_th=title_th, title_en=title_en, **context
            )
        except jinja2.TemplateError as exc:  # an office's edited page: one line naming it, exit 2
            raise ConfigError(f"templates/site/{template}: {type(exc).__name__}: {exc}") from None
        self.text(path, html)
        self.site.pages.append(path)
        self.site.titles[path] = (title_th, title_en)

    def text(self, path: str, text: str) -> None:
        target = self.site.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        self.site.files.append(path)

    def binary(self, path: str, data: bytes) -> None:
        (self.site.out / path).write_bytes(data)
        self.site.files.append(path)

    def copy(self, source: Path, path: str) -> None:
        target = self.site.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        self.site.files.append(path)


def build_site(dep: Deployment, out: Path, now: datetime, *, base_url: str | None = None, include: str | None = None) -> Site:
    """Write the whole site into ``out`` (made when missing) as of ``now``:
    statistics for every month from the first with data (or published
    before, or ``include``: the month the daemon publishes) to the last
    finished one, quiet months included. Files of the last build (its
    manifest) that this one did not write are removed; nothing else is
    touched. A directory that cannot be written is a ``UserError``, one line."""
    try:
        return _build(dep, out, now, base_url=base_url, include=include)
    except OverflowError:  # --now 0001-01-01T00:00+07:00: the year before 1 in the office's zone
        raise UserError(f"--now {now.isoformat(timespec='minutes')} is out of the calendar's range: check --now") from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        why = "a file is in the way of a directory" if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror
        raise UserError(f"cannot write the site into {out}: {where}{why or exc}") from None


def _build(dep: Deployment, out: Path, now: datetime, *, base_url: str | None, include: str | None) -> Site:
    cfg = dep.cfg
    now = now.astimezone(cfg.hours.timezone)
    site = Site(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"cannot write the site into {out}: it is a file, not a directory")
    earlier = _manifest(out)
    services = manuals.manuals(cfg, dep.services, now.year)
    done = _months(dep, now, include, earlier.get("months", []))
    url = base_url if base_url is not None else cfg.publish.base_url
    writes = [f"services/{s['page']}" for s in services] + (["sitemap.xml"] if url else [])
    _refuse_collisions(out, earlier.get("files", []), done, writes)
    out.mkdir(parents=True, exist_ok=True)
    facts = manuals.office_facts(cfg)
    common = {
        "agency": cfg.agency,
        "facts": facts,
        "services": services,
        "generated_th": thai_date(now, with_time=False, with_weekday=False),
        "generated_en": english_date(now, with_time=False),
    }
    w = _Writer(dep, site, common)
    w.text("site.css", w.env.get_template("site/site.css.j2").render())
    for name in FONT_FILES:
        w.copy(FONT_DIR / name, f"fonts/{name}")
    w.binary("favicon.png", favicon("PNG"))
    w.binary("favicon.ico", favicon("ICO"))  # where browsers look on their own, at a server's top

    months = _statistics(dep, w, now, done)
    w.page("stats/index.html", "stats.html.j2", "สถิติการให้บริการรายเดือน", "Monthly service statistics", months=months)
    w.page("index.html", "home.html.j2", "บริการรับคำขอทางอีเมล", "Applying by email", months=months)
    w.page("services/index.html", "services.html.j2", "คู่มือสำหรับประชาชน", "Citizen manuals")
    for s in services:
        w.page(f"services/{s['page']}", "manual.html.j2", s["name_th"], s["name_en"], service=s, reply_line=reply_line())
    w.page("e-service.html", "apply.html.j2", "การยื่นคำขอทางอีเมล", "Applying by email: the e-service")
    _register(dep, w, now)
    example = services[0]["permit_example"] if services else "EVT-2569-0001"
    w.page("verify.html", "verify.html.j2", "การตรวจสอบใบอนุญาต", "Verifying a permit", example=example)
    w.page("feedback.html", "feedback.html.j2", "ข้อเสนอแนะและเรื่องร้องเรียน", "Feedback and complaints")
    site.titles["sitemap.html"] = ("แผนผังเว็บไซต์", "Site map")
    pages = [{"path": p, "title_th": site.titles[p][0], "title_en": site.titles[p][1]} for p in sorted(site.titles)]
    w.page("sitemap.html", "sitemap.html.j2", "แผนผังเว็บไซต์", "Site map", entries=pages)
    if url:  # the sitemap protocol takes absolute addresses only
        w.text("sitemap.xml", sitemap(site.pages, now, url))
        site.sitemap_xml = True
    site.removed = _clean(out, earlier.get("files", []), site.files)
    _make_public(out, site.files)
    manifest = {"files": sorted(set(site.files)), "months": site.months, "built_at": now.isoformat()}
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / MANIFEST).chmod(0o644)
    return site


def _manifest(out: Path) -> dict[str, list[str]]:
    """What the last build wrote into ``out`` (its manifest), or nothing."""
    try:
        found = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {
        k: [str(v) for v in found.get(k, []) if isinstance(v, str)] for k in ("files", "months") if isinstance(found.get(k), list)
    }


def _clean(out: Path, before: list[str], now_written: list[str]) -> list[str]:
    """Remove the files of the last build this one did not write (and the
    directories they leave empty); never a path outside ``out``."""
    removed = []
    keep = set(now_written)
    for name in sorted(set(before) - keep):
        rel = PurePosixPath(name)
        if not name or rel.is_absolute() or ".." in rel.parts or name == MANIFEST:
            continue
        target = out / rel
        if target.is_symlink() or not target.is_file():
            continue
        target.unlink()
        removed.append(name)
        parent = target.parent
        while parent != out and out in parent.parents:
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
            parent = parent.parent
    return removed


def favicon(kind: str) -> bytes:
    """The site's icon: a blue square with a white envelope's flap (so the
    browser asks for no ``/favicon.ico`` the server may not have)."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (32, 32), (31, 95, 153, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle((5, 9, 26, 23), outline=(255, 255, 255, 255), width=2)
    draw.line((5, 9, 16, 17, 26, 9), fill=(255, 255, 255, 255), width=2)
    buf = io.BytesIO()
    img.save(buf, format=kind)
    return buf.getvalue()


def reply_line() -> dict[str, str]:
    """The line an applicant writes in the application to have answers sent
    to another address (R5; ``desk.replyto`` reads it), as the manuals show it."""
    return {"th": "ตอบกลับที่: office.contact@example.org", "en": "Reply to: office.contact@example.org"}


def month_range(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``, both included."""
    year, month = (int(x) for x in first.split("-"))
    found = []
    while f"{year:04d}-{month:02d}" <= last:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


MAX_MONTHS = 120  # ten years of statistics: more means a --now far off, not an office's history


def _months(dep: Deployment, now: datetime, include: str | None, earlier: list[str]) -> list[str]:
    """Every finished month from the first with data (or published before, or
    ``include``) to the last one before ``now``; more than ``MAX_MONTHS`` is
    a ``UserError`` (a ``--now`` far in the future would write for hours)."""
    from mailintake.desk.statistics import months_with_data

    current = f"{now:%Y-%m}"
    last = f"{now.year - 1:04d}-12" if now.month == 1 else f"{now.year:04d}-{now.month - 1:02d}"
    found = set(months_with_data(dep.registry, dep.cfg.hours.timezone)) | set(earlier) | ({include} if include else set())
    found = {m for m in found if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", m) and m < current}
    if not found:
        return []
    first = min(found)
    span = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
    if span > MAX_MONTHS:
        raise UserError(
            f"--now {now.isoformat(timespec='minutes')} is {span} months after the first data ({first}); "
            f"the site publishes at most {MAX_MONTHS} months: check --now"
        )
    return month_range(first, last)


def _refuse_collisions(out: Path, earlier: list[str], months: list[str], pages: list[str]) -> None:
    """Refuse, before writing anything, a build that would overwrite a file not
    in the last build's manifest (the office's own ``index.html`` in a web root)."""
    if not out.is_dir():
        return
    mine = set(earlier)
    fixed = {"site.css", "favicon.png", "favicon.ico", "index.html", "e-service.html", "verify.html", "feedback.html"}
    fixed |= {"sitemap.html", "stats/index.html", "services/index.html", "register/index.html"}
    fixed |= {"register/permits.json"} | {f"fonts/{n}" for n in FONT_FILES} | set(pages)
    fixed |= {f"open-data/{m}.{ext}" for m in months for ext in ("json", "csv")}
    clash = sorted(n for n in fixed if n not in mine and (out / n).is_file())
    for m in months:  # a month's report writes files of its own choosing: its folder is the site's
        folder = out / "stats" / m
        if folder.is_dir():
            clash += sorted(
                str(p.relative_to(out)) for p in folder.rglob("*") if p.is_file() and str(p.relative_to(out)) not in mine
            )
    if clash:
        shown = ", ".join(clash[:5]) + (f" and {len(clash) - 5} more" if len(clash) > 5 else "")
        raise UserError(
            f"{out} holds files the site did not write and would overwrite: {shown}; "
            "publish into a subdirectory, or move or remove them"
        )


def _statistics(dep: Deployment, w: _Writer, now: datetime, done: list[str]) -> list[dict[str, Any]]:
    """Every month of ``done`` (``_months``), a quiet one too: its report
    (``ops.monthly``) under ``stats/YYYY-MM/``, its page in the site's layout
    (``stats_month.html.j2``, over the report's own), and its JSON and CSV
    copied to ``open-data/``."""
    from mailintake.desk.statistics import month_names
    from mailintake.ops.monthly import DOWNLOADS, rows_of, write_monthly

    months = []
    for month in done:
        folder = f"stats/{month}"
        # The site's fonts/ serves every month's page: no copy per month.
        result = write_monthly(dep.cfg, dep.registry, month, w.site.out / folder, now=now, fonts="../../fonts/")
        written = [str(f) for f in result.get("files", [])] or [
            str(p.relative_to(w.site.out / folder)) for p in sorted((w.site.out / folder).rglob("*")) if p.is_file()
        ]
        for name in written:
            if name != "index.html":  # the site's own page replaces the report's
                w.site.files.append(f"{folder}/{name}")
        names = month_names(month)
        downloads = [{"name": n, "label_th": th, "label_en": en} for n, th, en in DOWNLOADS if n in written]
        w.page(
            f"{folder}/index.html",
            "stats_month.html.j2",
            f"สถิติการให้บริการ {names['th']}",
            f"Service statistics, {names['en']}",
            data=result,
            rows=rows_of(result),
            charts=result.get("charts", []),
            downloads=downloads,
            month_th=names["th"],
            month_en=names["en"],
        )
        entry: dict[str, Any] = {"month": month, "json": None, "csv": None, "page": f"{month}/index.html"}
        entry.update(label_th=names["th"], label_en=names["en"])
        for ext in ("json", "csv"):
            source = _data_file(w.site.out / folder, written, ext)
            if source is not None:
                w.copy(source, f"open-data/{month}.{ext}")
                entry[ext] = f"open-data/{month}.{ext}"
                w.site.open_data.append(entry[ext])
        months.append(entry)
        w.site.months.append(month)
    return months


def _data_file(folder: Path, written: list[str], ext: str) -> Path | None:
    """The month's figures as ``ext``: ``report.ext``, else the one such file."""
    if f"report.{ext}" in written:
        return folder / f"report.{ext}"
    found = [n for n in written if n.endswith(f".{ext}") and "/" not in n]
    return folder / found[0] if len(found) == 1 else None


def _register(dep: Deployment, w: _Writer, now: datetime) -> None:
    """The permit register: ``permits.register.publish`` writes its JSON (the
    public fields, the holder masked) and a plain page, which the site's own
    page, built from the same rows, replaces."""
    import json

    from mailintake.permits.register import publish

    for path in publish(dep.registry, w.site.out / "register", now, dep.cfg.agency):
        w.site.files.append(str(path.relative_to(w.site.out)))
    rows = json.loads((w.site.out / "register" / "permits.json").read_text(encoding="utf-8"))["permits"]
    names = {s.id: (s.name_th, s.name_en) for s in dep.services}
    permits = []
    for r in rows:
        th, en = names.get(r["service"], (r["service"], r["service"]))
        issued = datetime.fromisoformat(r["issued_at"]).astimezone(now.tzinfo)
        until = datetime.fromisoformat(r["valid_until"]).astimezone(now.tzinfo)
        permits.append(
            {
                "number": r["number"],
                "service_th": th,
                "service_en": en,
                "holder": r["holder"],
                "status": r["status"],
                "issued_th": thai_date(issued, with_time=False, with_weekday=False),
                "issued_en": english_date(issued, with_time=False),
                "valid_until_th": thai_date(until, with_time=False, with_weekday=False),
                "valid_until_en": english_date(until, with_time=False),
            }
        )
    w.site.files.remove("register/index.html")
    w.page("register/index.html", "register.html.j2", "ทะเบียนใบอนุญาต", "Permit register", permits=permits)


def sitemap(pages: list[str], now: datetime, base_url: str) -> str:
    """``sitemap.xml`` of every page, absolute under ``base_url``."""
    prefix = base_url.rstrip("/") + "/"
    day = f"{now:%Y-%m-%d}"
    entries = "".join(f"  <url><loc>{xml_escape(prefix + p)}</loc><lastmod>{day}</lastmod></url>\n" for p in sorted(set(pages)))
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}</urlset>\n'


def _make_public(out: Path, files: list[str]) -> None:
    """The site is public on purpose: readable by the web server's account
    whatever the private umask mailintake runs under (only what it wrote)."""
    dirs = {out}
    for name in set(files):
        path = out / name
        if path.is_file():
            path.chmod(0o644)
        parent = path.parent
        while parent != out and out in parent.parents:
            dirs.add(parent)
            parent = parent.parent
    for d in dirs:
        d.chmod(0o755)
