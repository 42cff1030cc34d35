"""The incoming register (ทะเบียนหนังสือรับ, issue 16) as a PDF: landscape A4,
one section per registration day under the paper book's heading, the
regulation's eight columns then the time received and who registered. Drawn
on the permits' page (``document.new_page``: Sarabun, HarfBuzz shaping), Thai
cells broken at word boundaries (``document._wrap``)."""

from __future__ import annotations

from typing import Any

from mailintake.permits.document import _wrap, new_page

# Column widths in mm (277 mm across a landscape A4 page inside 10 mm margins).
WIDTHS = (20, 24, 20, 36, 26, 50, 34, 24, 24, 19)


def book_pdf(
    title: str, days: list[dict[str, Any]], columns: tuple[tuple[str, str, str], ...], widths: tuple[float, ...] = WIDTHS
) -> bytes:
    """``days``: ``desk.book.pages`` (heading, lines); ``columns``: key, Thai,
    English; ``widths`` in mm (the destruction list's are its own)."""
    pdf = new_page("L")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, 10)
    pdf.set_title(title)
    pdf.set_creator("mailintake")
    if not days:
        pdf.set_font("Sarabun", "B", 14)
        pdf.cell(0, 10, f"{title}: ไม่มีรายการ (no entry)")
    for n, day in enumerate(days):
        if n:
            pdf.add_page()
        pdf.set_font("Sarabun", "B", 15)
        pdf.cell(0, 10, day["heading"], align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Sarabun", "", 9.5)
        with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.6, first_row_as_headings=True) as table:
            head = table.row()
            for (_key, th, _en), width in zip(columns, widths, strict=True):
                head.cell("\n".join(_wrap(pdf, th, width - 4)))
            for line in day["lines"]:
                row = table.row()
                for (key, _th, _en), width in zip(columns, widths, strict=True):
                    row.cell("\n".join(_wrap(pdf, str(line.get(key) or ""), width - 2.5)))
    return bytes(pdf.output())
