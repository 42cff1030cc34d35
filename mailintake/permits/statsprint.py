"""The monthly service statistics as a PDF (issue 14, R28): the agency's
letterhead (``permits.document.letterhead``: A4, Sarabun, Thai shaped by
HarfBuzz), the month in Thai and English, a table of every figure (Thai
label, English label, value) and the charts as images, each on the page
width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailintake.base.config import Config
from mailintake.permits.document import letterhead


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
    figures (``desk.statistics.rows_of``), ``charts`` (title, PNG path) drawn."""
    names = data["month_names"]
    pdf, para = letterhead(cfg, f"Service statistics {data['month']}")
    para(f"สถิติการให้บริการประจำเดือน{names['th']}", 20, "B", 0)
    para(f"Service statistics, {names['en']}", 14, "B")
    para(f"จัดทำเมื่อ / Generated {data['generated_at']}", 10, "", 3)

    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("Sarabun", "", 10)
    with pdf.table(
        col_widths=(width * 0.42, width * 0.42, width * 0.16),
        text_align=("LEFT", "LEFT", "RIGHT"),
        line_height=6,
        first_row_as_headings=True,
    ) as table:
        head = table.row()
        for text in ("รายการ", "Figure", "จำนวน / Value"):
            head.cell(text)
        for row in rows:
            line = table.row()
            line.cell(str(row["label_th"]))
            line.cell(str(row["label_en"]))
            line.cell(_shown(row["value"]))

    for title, path in charts:
        pdf.add_page()
        para(title, 13, "B", 2)
        pdf.image(str(path), w=width)
    return bytes(pdf.output())
