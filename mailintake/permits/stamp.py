"""The receipt stamp (ตรารับหนังสือ, issue 16): a box at the top right of page 1
of a copy of a received PDF, with the agency's name, เลขรับ (the register
number), วันที่ (Thai date, Buddhist-era year) and เวลา (time of receipt).

The box is drawn by fpdf2 on the permits' page (``document.new_page``: the
shipped Sarabun font, HarfBuzz shaping, so tone marks stack), cut down to the
box and laid over page 1 of the original with pikepdf, at ``[book]
stamp_right_mm`` / ``stamp_top_mm`` from the visible page's top right corner.
The original bytes are never changed: the caller stores the result as a new
file. Mail that brought no PDF is first made into one (``mail_pdf``): its
text and its images. fpdf2 and pikepdf are imported by the functions that use
them, so a sweep that stamps nothing never loads them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from mailintake.permits.document import _wrap, new_page

MM = 72 / 25.4  # PDF points per millimetre
BOX_W, BOX_H = 62.0, 27.0  # the box, in mm
INK = (20, 50, 160)  # stamp-pad blue


class StampError(Exception):
    """The original cannot carry a stamp (unreadable, encrypted, no page)."""


@dataclass(frozen=True)
class StampText:
    agency: str
    number: str  # as the book prints it
    date_th: str  # e.g. 5 มกราคม 2570
    time_th: str  # e.g. 10:15 น.


def stamp_box(text: StampText) -> bytes:
    """A one-page PDF whose page is the box alone (its MediaBox cut to it)."""
    import pikepdf

    pdf = new_page()
    pdf.set_margins(0, 0, 0)
    pdf.set_draw_color(*INK)
    pdf.set_text_color(*INK)
    pdf.set_line_width(0.6)
    pdf.rect(0.5, 0.5, BOX_W - 1, BOX_H - 1)
    pdf.set_font("Sarabun", "B", 11)
    name = _wrap(pdf, text.agency, BOX_W - 4)[0]
    pdf.set_xy(2, 1.5)
    pdf.cell(BOX_W - 4, 6, name, align="C")
    pdf.set_font("Sarabun", "", 11)
    for i, (label, value) in enumerate((("เลขรับ", text.number), ("วันที่", text.date_th), ("เวลา", text.time_th))):
        y = 8 + i * 6
        pdf.set_xy(3, y)
        pdf.cell(13, 6, label)
        pdf.set_xy(16, y)
        pdf.cell(BOX_W - 18, 6, value)
    with pikepdf.open(io.BytesIO(bytes(pdf.output()))) as drawn:
        page = drawn.pages[0]
        top = float(page.mediabox[3])
        page.obj.MediaBox = pikepdf.Array([0, top - BOX_H * MM, BOX_W * MM, top])
        out = io.BytesIO()
        drawn.save(out)
    return out.getvalue()


def stamp_pdf(original: bytes, text: StampText, right_mm: float, top_mm: float) -> bytes:
    """A copy of ``original`` with the box laid over page 1, ``right_mm`` and
    ``top_mm`` in from its visible top right corner."""
    import pikepdf

    box = stamp_box(text)
    try:
        with pikepdf.open(io.BytesIO(original)) as target, pikepdf.open(io.BytesIO(box)) as stamp:
            if not target.pages:
                raise StampError("the PDF has no page")
            page = target.pages[0]
            visible = [float(v) for v in page.cropbox]
            x1, y1 = visible[2] - right_mm * MM, visible[3] - top_mm * MM
            x0, y0 = max(visible[0], x1 - BOX_W * MM), max(visible[1], y1 - BOX_H * MM)
            page.add_overlay(stamp.pages[0], pikepdf.Rectangle(x0, y0, x1, y1))
            out = io.BytesIO()
            target.save(out)
    except StampError:
        raise
    except Exception as exc:  # noqa: BLE001 (encrypted, damaged, odd: the caller stamps a copy of the mail instead)
        raise StampError(f"cannot stamp the PDF: {str(exc)[:200]}") from None
    return out.getvalue()


def mail_pdf(subject: str, sender: str, received: str, body: str, images: list[bytes]) -> bytes:
    """An A4 PDF of a mail that brought no PDF: who, when, the subject, its
    text and its images, one per page after the text."""
    from fpdf.enums import XPos, YPos

    pdf = new_page()
    pdf.set_top_margin(40)  # the stamp's room
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_y(40)
    for label, value, size, style in (
        ("จาก / From", sender, 12, ""),
        ("วันที่รับ / Received", received, 12, ""),
        ("เรื่อง / Subject", subject, 13, "B"),
    ):
        pdf.set_font("Sarabun", style, size)
        for line in _wrap(pdf, f"{label}: {value}", width):
            pdf.cell(width, 6.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("Sarabun", "", 12)
    for line in _wrap(pdf, body[:60000], width):
        pdf.cell(width, 6.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for data in images[:20]:
        pdf.add_page()
        try:
            pdf.image(io.BytesIO(data), x=pdf.l_margin, y=pdf.t_margin, w=width, keep_aspect_ratio=True, h=pdf.h - 60)
        except Exception:  # noqa: BLE001 (an image fpdf2 cannot read is left out, not fatal)
            pdf.cell(width, 8, "(รูปภาพที่อ่านไม่ได้ / unreadable image)")
    return bytes(pdf.output())


def body_and_images(raw: bytes) -> tuple[str, list[bytes]]:
    """The text of a stored mail (its plain part, else its HTML without tags) and its images."""
    import email
    import email.policy

    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if part is not None:
        try:
            body = str(part.get_content())
        except (LookupError, ValueError):
            body = ""
        if part.get_content_subtype() == "html":
            body = re.sub(r"<[^>]+>", " ", re.sub(r"(?is)<(script|style).*?</\1>", "", body))
    images = [p.get_payload(decode=True) for p in msg.walk() if p.get_content_maintype() == "image"]
    return body, [i for i in images if isinstance(i, bytes)]
