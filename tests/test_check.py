"""Check: type by content (R6), resolution of photos and scanned PDFs (R7),
encrypted and damaged files, each problem with Thai and English wording."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from mailintake.base.config import load
from mailintake.base.wording import Wording
from mailintake.intake.check import FileCheck, check_file, sniff
from samples.make_samples import docx, jpeg, scanned_pdf

ROOT = Path(__file__).parent.parent
CFG = load(None, environ={}).checks
WORDING = Wording(ROOT / "templates" / "problems.toml")


def check(data: bytes, name: str) -> FileCheck:
    return check_file(data, name, "application/octet-stream", CFG, WORDING)


def test_a4_scan_at_300_dpi_is_accepted() -> None:
    fc = check(jpeg(2480, 3508, 300), "scan.jpg")
    assert fc.accepted and fc.kind == "jpeg" and fc.content_type == "image/jpeg"
    assert fc.dpi == 300


def test_phone_photo_tagged_72_dpi_is_judged_by_its_pixels() -> None:
    big = check(jpeg(4032, 3024, 72), "IMG_0001.jpg")
    assert big.accepted and 340 <= (big.dpi or 0) <= 350
    small = check(jpeg(1280, 960, 72), "IMG_0002.jpg")
    assert not small.accepted and small.problem == "low_resolution"
    assert small.dpi is not None and 100 <= small.dpi <= 120
    assert "dpi" in small.problems[0].th and "below the required 300 dpi" in small.problems[0].en


def test_jpeg_without_density_tag_is_judged_by_pixels() -> None:
    fc = check(jpeg(2480, 3508, None), "scan.jpg")
    assert fc.details["density_tag"] is None
    assert fc.accepted


def test_small_scan_of_an_id_card_at_300_dpi_is_accepted_by_its_tag() -> None:
    fc = check(jpeg(1011, 638, 300), "idcard.jpg")  # 85.6 x 54 mm at 300 dpi
    assert fc.accepted and fc.dpi == 300


def test_scanned_pdf_is_judged_page_by_page() -> None:
    good = check(scanned_pdf(2480, 3508, pages=2), "form.pdf")
    assert good.accepted and good.details["page_dpi"] == [pytest.approx(300, abs=1)] * 2
    poor = check(scanned_pdf(1240, 1754), "form.pdf")
    assert not poor.accepted and poor.problem == "low_resolution" and poor.dpi == pytest.approx(150, abs=1)


def test_born_digital_pdf_has_no_dpi_and_passes() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    buf = io.BytesIO()
    pdf.save(buf)
    fc = check(buf.getvalue(), "letter.pdf")
    assert fc.accepted and fc.dpi is None


def test_encrypted_pdf_asks_for_an_open_copy() -> None:
    src = io.BytesIO(scanned_pdf(2480, 3508))
    out = io.BytesIO()
    with pikepdf.open(src) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="owner", R=6))
    fc = check(out.getvalue(), "locked.pdf")
    assert not fc.accepted and fc.problem == "encrypted"
    assert "without a password" in fc.problems[0].en and "รหัสผ่าน" in fc.problems[0].th


def test_type_is_decided_by_content_not_name() -> None:
    exe = check(b"MZ\x90\x00\x03" + b"\x00" * 500, "form.pdf")
    assert not exe.accepted and exe.problem == "type_not_allowed"
    png = io.BytesIO()
    Image.new("L", (2480, 3508), 255).save(png, "PNG")
    fake = check(png.getvalue(), "photo.jpg")
    assert not fake.accepted and {p.code for p in fake.problems} == {"type_not_allowed", "name_mismatch"}
    assert fake.content_type == "image/png"


def test_a_jpeg_named_pdf_is_a_mismatch() -> None:
    fc = check(jpeg(2480, 3508, 300), "form.pdf")
    assert not fc.accepted and fc.problem == "name_mismatch"
    assert "PDF" in fc.problems[0].en and "JPEG" in fc.problems[0].en


def test_docx_doc_and_txt_are_accepted() -> None:
    assert check(docx("สวัสดี"), "letter.docx").kind == "docx"
    assert check("สวัสดีครับ ข้อความ".encode(), "note.txt").accepted
    assert sniff(docx("x"))[1] == "docx"


def test_truncated_and_damaged_files_are_reported() -> None:
    data = jpeg(2480, 3508, 300)
    assert check(data[: len(data) // 2], "cut.jpg").problem == "truncated"
    assert check(b"%PDF-1.4\n garbage", "bad.pdf").problem == "unreadable"
    assert check(b"", "empty.pdf").problem == "empty"
