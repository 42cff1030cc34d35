"""The monthly service statistics as a PDF (issue 14, R28), laid out as the
HTML page is: the agency's letterhead (``permits.document.letterhead``: A4,
Sarabun, Thai shaped by HarfBuzz), the month in Thai and English (and, for a
month not yet over, that the figures are partial), then sections: the summary
(one row a figure), by service (one table, a column a figure), satisfaction
(one row), the applications per working day (compact: several days a row)
and the charts, two a page, each scaled to the width and half the page.

A section's heading never ends a page: when too little room is left for it,
its table's heading row and a few rows, the section starts a new page; a
table that runs over repeats its heading row (fpdf2 tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailintake.base.config import Config
from mailintake.permits.document import letterhead

DAYS_A_ROW = 5  # working days (day, applications) pairs in one row of the per-day table
ROW_MM = 6.0


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_statistics(cfg: Config, data: dict[str, Any], rows: list[dict[str, Any]], charts: list[tuple[str, Path]]) -> bytes:
    """The report of ``data`` (``desk.statistics.monthly``): ``rows`` its
    figures (``ops.monthly.rows_of``: the summary is the ``summary`` section),
    ``charts`` (title, PNG path) drawn."""
    names = data["month_names"]
    pdf, para = letterhead(cfg, f"Service statistics {data['month']}")
    para(f"สถิติการให้บริการประจำเดือน{names['th']}", 20, "B", 0)
    para(f"Service statistics, {names['en']}", 14, "B")
    para(f"จัดทำเมื่อ / Generated {data['generated_at']}", 10, "", 1)
    if data.get("partial"):
        para(f"เดือนนี้ยังไม่สิ้นสุด ตัวเลขเป็นข้อมูลบางส่วนถึง / Month not over: partial figures, up to {data['up_to']}", 11, "B", 1)
    pdf.ln(2)
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def section(title: str, rows_after: int) -> None:
        """A heading, on a new page unless it, a heading row and ``rows_after`` rows fit."""
        if pdf.get_y() + 12 + ROW_MM * (1 + rows_after) > pdf.h - pdf.b_margin:
            pdf.add_page()
        pdf.ln(2)
        para(title, 13, "B", 1)
        pdf.set_font("Sarabun", "", 10)

    def table(head: list[str], body: list[list[str]], widths: list[float], align: list[str]) -> None:
        with pdf.table(
            col_widths=tuple(widths),
            text_align=tuple(align),
            line_height=ROW_MM,
            first_row_as_headings=True,
            repeat_headings=1,
        ) as t:
            for cells in (head, *body):
                line = t.row()
                for text in cells:
                    line.cell(text)

    summary = [r for r in rows if r.get("section") == "summary"]
    section("สรุปผลการดำเนินงาน / Summary", min(4, len(summary)))
    table(
        ["รายการ", "Figure", "จำนวน / Value"],
        [[str(r["label_th"]), str(r["label_en"]), _shown(r["value"])] for r in summary],
        [width * 0.42, width * 0.42, width * 0.16],
        ["LEFT", "LEFT", "RIGHT"],
    )

    services, received, finished = data["services"], data["received"]["by_service"], data["finished"]["by_service"]
    body = []
    for sid, s in services.items():
        f = finished.get(sid) or {}
        limits = "/".join(str(x) for x in f.get("limit_days") or []) or "-"
        body.append(
            [
                f"{s.get('name_th', sid)}\n{s.get('name_en', sid)}",
                _shown(received.get(sid, 0)),
                _shown(f.get("finished", 0)),
                _shown(f.get("within_time", 0)),
                limits,
                _shown(f.get("days_median")),
                _shown(f.get("days_p90")),
            ]
        )
    section("รายบริการ / By service", min(24, 2 + 3 * len(body)))  # the whole table when it is short
    pdf.set_font("Sarabun", "", 9)
    table(
        [
            "บริการ\nService",
            "ได้รับ\nReceived",
            "แล้วเสร็จ\nFinished",
            "ภายในเวลา\nWithin time",
            "กำหนด (วัน)\nLimit (days)",
            "มัธยฐาน\nMedian",
            "P90",
        ],
        body,
        [width * 0.41, width * 0.09, width * 0.09, width * 0.11, width * 0.11, width * 0.1, width * 0.09],
        ["LEFT", *("RIGHT" for _ in range(6))],
    )

    scores = data["satisfaction"]["scores"]
    section("ความพึงพอใจ / Satisfaction", 1)
    table(
        [*(f"คะแนน / Score {k}" for k in scores), "ผู้ตอบ / Answers", "เฉลี่ย / Mean"],
        [[*(_shown(n) for n in scores.values()), _shown(data["satisfaction"]["answers"]), _shown(data["satisfaction"]["mean"])]],
        [width / (len(scores) + 2) for _ in range(len(scores) + 2)],
        ["RIGHT" for _ in range(len(scores) + 2)],
    )

    days = data["received"]["by_day"]
    if days:
        grid = [days[i : i + DAYS_A_ROW] for i in range(0, len(days), DAYS_A_ROW)]
        section("คำขอรายวันทำการ / Applications per working day", min(3, len(grid)))
        table(
            [x for _ in range(DAYS_A_ROW) for x in ("วันที่ / Day", "คำขอ")],
            [[x for d in line for x in (d["day"], _shown(d["total"]))] + ["", ""] * (DAYS_A_ROW - len(line)) for line in grid],
            [w for _ in range(DAYS_A_ROW) for w in (width * 0.13, width * 0.07)],
            [a for _ in range(DAYS_A_ROW) for a in ("LEFT", "RIGHT")],
        )

    _charts(pdf, para, charts, width)
    return bytes(pdf.output())


def _charts(pdf: Any, para: Any, charts: list[tuple[str, Path]], width: float) -> None:
    """The charts two a page, each scaled to the width and to half the page."""
    from PIL import Image

    for i, (title, path) in enumerate(charts):
        if i % 2 == 0:
            pdf.add_page()
        room = (pdf.h - pdf.t_margin - pdf.b_margin) / 2 - 12
        with Image.open(path) as image:
            w_px, h_px = image.size
        w = min(width, room * w_px / h_px)
        para(title, 12, "B", 1)
        pdf.image(str(path), x=pdf.l_margin + (width - w) / 2, w=w)
        pdf.ln(4)
