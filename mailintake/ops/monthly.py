"""The monthly service statistics as files (issue 14, R28, ITA item O10):
``report.csv`` (UTF-8 with a BOM: one row per figure, key, Thai label,
English label, value), ``report.json`` (the figures of
``desk.statistics.monthly``), ``charts/*.png`` (``ops.charts``), ``index.html``
(bilingual, Thai then English, self-contained: inline CSS, relative links only)
and ``report.pdf`` (``permits.statsprint``), all in one directory, with the
Sarabun fonts under ``fonts/`` (the page's ``@font-face``; its licence beside
them) unless the caller names where they already are.

Every file is written under a temporary name in the directory first and
renamed into place only once all are written, so a failure (a path that
cannot be made, a name taken by a folder, a full disk) leaves no half-written
report behind; it is one line (``UserError``). A month not yet over is marked
``partial`` (the figures up to ``now``) in every output.

``write_monthly`` is what ``mailintake report monthly`` and the public site
(``ops.publish``) call, once per month. ``FIGURES`` names each figure in Thai
and English; ``rows_of`` lays the figures out one per row (the CSV, the page's
table and the PDF's), the totals first, then per service, per score and per
working day.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import Config
from mailintake.base.data.db import Registry
from mailintake.base.deployment import Deployment
from mailintake.base.errors import UserError
from mailintake.base.rules import load_rules, load_services
from mailintake.base.store import Store
from mailintake.base.thaitext import english_date, thai_date
from mailintake.base.wording import Renderer, Wording
from mailintake.desk.months import ce_month
from mailintake.desk.statistics import monthly
from mailintake.ops import charts as drawing
from mailintake.permits.statsprint import render_statistics

CSV_NAME, JSON_NAME, HTML_NAME, PDF_NAME, CHARTS_DIR = "report.csv", "report.json", "index.html", "report.pdf", "charts"
FONTS_DIR = "fonts"
FONT_FILES = ("Sarabun-Regular.ttf", "Sarabun-Bold.ttf", "OFL-Sarabun.txt")
TEMPLATE = "report/monthly.html.j2"
DOWNLOADS = (
    (CSV_NAME, "ตารางตัวเลข (CSV)", "Figures (CSV)"),
    (JSON_NAME, "ข้อมูลเปิด (JSON)", "Open data (JSON)"),
    (PDF_NAME, "รายงาน (PDF)", "Report (PDF)"),
)


# key: (Thai label, English label), in the order the CSV, the page and the PDF list them.
FIGURES: dict[str, tuple[str, str]] = {
    "working_days": ("วันทำการในเดือน", "Working days in the month"),
    "received": ("คำขอที่ได้รับ", "Applications received"),
    "acks_on_time": ("ตอบรับภายในกำหนด", "Acknowledged on time"),
    "acks_on_time_percent": ("ร้อยละที่ตอบรับภายในกำหนด", "Acknowledged on time (%)"),
    "finished": ("คำขอที่ดำเนินการแล้วเสร็จ", "Applications finished"),
    "finished_within_time": ("แล้วเสร็จภายในเวลาตามคู่มือ", "Finished within the manual's time"),
    "finished_within_time_percent": ("ร้อยละที่แล้วเสร็จภายในเวลา", "Finished within time (%)"),
    "days_to_finish_median": ("มัธยฐานวันทำการที่ใช้", "Working days to finish, median"),
    "days_to_finish_p90": ("วันทำการที่ใช้ เปอร์เซ็นไทล์ที่ 90", "Working days to finish, 90th percentile"),
    "info_requests": ("ขอเอกสารหรือข้อมูลเพิ่มเติม", "Requests for information"),
    "delay_notices": ("หนังสือแจ้งเหตุแห่งความล่าช้า", "Delay notices"),
    "opdc_copies": ("สำเนาถึงสำนักงาน ก.พ.ร.", "Copies to OPDC"),
    "fees_confirmed": ("ยืนยันการชำระค่าธรรมเนียม", "Fees confirmed"),
    "fees_total_baht": ("ค่าธรรมเนียมรวม (บาท)", "Fees in total (baht)"),
    "permits_issued": ("ใบอนุญาตที่ออก", "Permits issued"),
    "permits_revoked": ("ใบอนุญาตที่เพิกถอน", "Permits revoked"),
    "permits_verified": ("การตรวจสอบใบอนุญาต", "Permit verifications answered"),
    "satisfaction_answers": ("ผู้ตอบแบบสอบถามความพึงพอใจ", "Satisfaction answers"),
    "satisfaction_mean": ("คะแนนความพึงพอใจเฉลี่ย (1-5)", "Mean satisfaction score (1-5)"),
    "inquiries_received": ("ข้อสอบถามที่ได้รับ", "Inquiries received"),
    "inquiries_answered": ("ข้อสอบถามที่ตอบแล้ว", "Inquiries answered"),
}


def rows_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per figure (key, Thai label, English label, value, and its
    ``section``: head, summary, service, score, day): the CSV, the page's
    table and the PDF's; per service and per working day after the totals. A
    month not over adds ``partial`` and ``up_to`` after ``month``, and labels
    its working days "so far" (those up to ``up_to``)."""
    out = [{"key": "month", "label_th": "เดือน", "label_en": "Month", "value": data["month"], "section": "head"}]
    if data["partial"]:  # a month not over says so, and up to when (a whole month has neither row)
        out.append(
            {
                "key": "partial",
                "label_th": "เดือนยังไม่สิ้นสุด (ตัวเลขบางส่วน)",
                "label_en": "Month not over (partial figures)",
                "value": "true",
                "section": "head",
            }
        )
        out.append({"key": "up_to", "label_th": "ข้อมูลถึง", "label_en": "Figures up to", "value": data["up_to"], "section": "head"})
    for key, (th, en) in FIGURES.items():
        if key == "working_days" and data["partial"]:  # the days elapsed, not the month's
            th, en = _working_days_so_far(data["up_to"])
        out.append({"key": key, "label_th": th, "label_en": en, "value": data["figures"][key], "section": "summary"})
    services = data["services"]
    for sid, n in data["received"]["by_service"].items():
        s = services.get(sid, {})
        out.append(
            {
                "key": f"received.{sid}",
                "label_th": f"คำขอที่ได้รับ: {s.get('name_th', sid)}",
                "label_en": f"Applications received: {s.get('name_en', sid)}",
                "value": n,
                "section": "service",
            }
        )
    for sid, f in data["finished"]["by_service"].items():
        s = services.get(sid, {})
        for key, th, en in (
            ("finished", "แล้วเสร็จ", "finished"),
            ("within_time", "แล้วเสร็จภายในเวลา", "finished within time"),
            ("days_median", "มัธยฐานวันทำการ", "median working days"),
            ("days_p90", "วันทำการ เปอร์เซ็นไทล์ที่ 90", "90th percentile working days"),
        ):
            out.append(
                {
                    "key": f"finished.{sid}.{key}",
                    "label_th": f"{s.get('name_th', sid)}: {th}",
                    "label_en": f"{s.get('name_en', sid)}: {en}",
                    "value": f[key],
                    "section": "service",
                }
            )
    for score, n in data["satisfaction"]["scores"].items():
        out.append(
            {
                "key": f"satisfaction.{score}",
                "label_th": f"คะแนน {score}",
                "label_en": f"Score {score}",
                "value": n,
                "section": "score",
            }
        )
    for day in data["received"]["by_day"]:
        out.append(
            {
                "key": f"received_on.{day['day']}",
                "label_th": f"คำขอที่ได้รับวันที่ {day['day']}",
                "label_en": f"Applications received on {day['day']}",
                "value": day["total"],
                "section": "day",
            }
        )
    return out


def _working_days_so_far(up_to: str) -> tuple[str, str]:
    """The working-days label of a month not over: the days up to ``up_to``."""
    day = datetime.fromisoformat(up_to)
    return (
        f"วันทำการจนถึงขณะนี้ (ถึงวันที่ {thai_date(day, with_time=False, with_weekday=False)})",
        f"Working days so far (up to {english_date(day, with_time=False)})",
    )


def deployment_with(cfg: Config, reg: Registry) -> Deployment:
    """The deployment of ``cfg`` around an open registry (as ``Deployment.build``
    loads it, without opening a second one)."""
    services = tuple(load_services(cfg.search_path("rules")))
    return Deployment(
        cfg=cfg,
        registry=reg,
        store=Store(cfg.store_path),
        calendar=WorkCalendar(cfg.hours),
        renderer=Renderer(cfg),
        wording=Wording(cfg.find("templates", "problems.toml")),
        rules=load_rules(cfg.find("rules", "mail.toml")),
        services=services,
        _by_id={s.id: s for s in services},
    )


def csv_text(rows: list[dict[str, Any]]) -> str:
    """The figures as CSV text (the BOM is added when written): key, Thai
    label, English label, value (empty when there is none)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["key", "label_th", "label_en", "value"])
    for r in rows:
        writer.writerow([r["key"], r["label_th"], r["label_en"], "" if r["value"] is None else r["value"]])
    return buf.getvalue()


def write_monthly(
    cfg: Config,
    reg: Registry,
    month: str,
    out: Path,
    *,
    now: datetime,
    stylesheet: str | None = None,
    home: str | None = None,
    fonts: str | None = None,
) -> dict[str, Any]:
    """Write the month's report files into ``out`` (made when missing) and
    return the figures (``desk.statistics.monthly``) with ``"charts"`` (file,
    titles, whether data was drawn, size in pixels) and ``"files"``: the
    paths written, relative to ``out`` (``report.csv``, ``report.json``,
    ``charts/*.png``, ``index.html``, ``report.pdf``, then ``fonts/*``).
    ``month`` is a common-era ``YYYY-MM`` (``desk.months.parse_month``
    converts a Buddhist-era one, once, where the user typed it); a bad one, a month not begun at ``now`` or an ``out`` that cannot
    be written raises ``UserError``. ``stylesheet`` and ``home``: relative
    links the public site passes, a ``<link rel=stylesheet>`` and a link back
    to its home page; ``fonts``: a relative URL (ending in ``/``) of a folder
    already holding the Sarabun fonts, else they are copied into ``fonts/``."""
    month = ce_month(month)
    dep = deployment_with(cfg, reg)
    data = monthly(dep, month, now)
    rows = rows_of(data)
    try:
        out.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    except OSError as e:
        raise UserError(f"cannot write the report into {out}: {e.strerror or e}; nothing was written") from None
    try:
        written = _stage(dep, data, rows, stage, stylesheet=stylesheet, home=home, fonts=fonts)
        for name in written:
            if (out / name).is_dir():
                raise UserError(f"cannot write {out / name}: a directory has that name; nothing was written")
        moved: list[str] = []
        try:
            for name in written:
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(stage / name, out / name)
                moved.append(name)
        except OSError as e:
            done = ", ".join(moved) or "nothing"
            raise UserError(f"cannot write {out / name}: {e.strerror or e}; written: {done}") from None
    except OSError as e:
        raise UserError(f"cannot write the report into {out}: {e.strerror or e}; nothing was written") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {**data, "files": written}


def _stage(
    dep: Deployment,
    data: dict[str, Any],
    rows: list[dict[str, Any]],
    out: Path,
    *,
    stylesheet: str | None,
    home: str | None,
    fonts: str | None,
) -> list[str]:
    """Every file of the report into ``out`` (the staging folder); returns their names."""
    drawn = drawing.draw_all(data, out / CHARTS_DIR)
    data["charts"] = [{**c, "file": f"{CHARTS_DIR}/{c['file']}"} for c in drawn]
    (out / CSV_NAME).write_text(csv_text(rows), encoding="utf-8-sig", newline="")
    (out / JSON_NAME).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    copied = []
    if fonts is None:
        (out / FONTS_DIR).mkdir()
        for name in FONT_FILES:
            shutil.copyfile(drawing.FONTS / name, out / FONTS_DIR / name)
            copied.append(f"{FONTS_DIR}/{name}")
    files = [{"name": name, "label_th": th, "label_en": en} for name, th, en in DOWNLOADS]
    context = {
        "data": data,
        "rows": rows,
        "charts": drawn,
        "files": files,
        "stylesheet": stylesheet,
        "home": home,
        "fonts": f"{FONTS_DIR}/" if fonts is None else fonts,
    }
    (out / HTML_NAME).write_text(dep.renderer.render(TEMPLATE, context), encoding="utf-8")
    titles = [(f"{c['title_th']} / {c['title_en']}", out / c["file"]) for c in data["charts"]]
    (out / PDF_NAME).write_bytes(render_statistics(dep.cfg, data, rows, titles))
    return [CSV_NAME, JSON_NAME, *(c["file"] for c in data["charts"]), HTML_NAME, PDF_NAME, *copied]
