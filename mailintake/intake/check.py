"""Check each attachment: its type by content (R6), not by name; the resolution
of images and scanned PDFs (R7); encryption and damage. Every problem has a
code and a Thai and English sentence (``templates/problems.toml``).

The checks read headers and PDF structure only; nothing is rendered. PDFs and
images are decoded in a bounded worker process (``intake.sandbox``): which
files go there, and the TNEF rule, are ``check_attachments``'s decisions.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import magic
import pikepdf
from PIL import Image

from mailintake.base.config import Checks, Limits
from mailintake.base.rules import KNOWN_TYPES
from mailintake.base.store import Store
from mailintake.base.wording import Problem, Wording, whole_dpi
from mailintake.intake.parse import Attachment

# A4 at 600 dpi is 35 Mpx; allow twice that, and make Pillow's bomb warning an error.
Image.MAX_IMAGE_PIXELS = 2 * 4961 * 7016
warnings.simplefilter("error", Image.DecompressionBombWarning)

# Kinds whose decoders (pikepdf, Pillow) run in the sandboxed worker.
SANDBOXED = ("pdf", "jpeg", "png", "tiff")

_MIME_KIND = {
    "application/pdf": "pdf",
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/tiff": "tiff",
    "text/plain": "txt",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}


@dataclass(frozen=True)
class FileCheck:
    name: str
    size: int
    declared_type: str
    content_type: str
    kind: str | None
    accepted: bool
    dpi: float | None
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def problem(self) -> str | None:
        return self.problems[0].code if self.problems else None


def sniff(data: bytes) -> tuple[str, str | None]:
    """(MIME type, kind) from the bytes alone."""
    if not data:
        return "application/x-empty", None
    mime = magic.from_buffer(data[:262144], mime=True) or "application/octet-stream"
    if mime in ("application/zip", "application/octet-stream") and data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if "word/document.xml" in zf.namelist():
                    return _MIME_KIND_REVERSE["docx"], "docx"
        except zipfile.BadZipFile:
            pass
    if (
        mime in ("application/CDFV2", "application/x-ole-storage", "application/vnd.ms-office")
        and b"W\x00o\x00r\x00d\x00D\x00o\x00c" in data[: 1 << 20]
    ):
        return "application/msword", "doc"
    if mime.startswith("text/") and mime != "text/plain" and mime not in ("text/html", "text/xml", "text/rtf"):
        mime = "text/plain"
    return mime, _MIME_KIND.get(mime)


_MIME_KIND_REVERSE = {v: k for k, v in _MIME_KIND.items()}


def _extension_kind(name: str) -> str | None:
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    for kind, (_label, exts) in KNOWN_TYPES.items():
        if ext in exts:
            return kind
    return None


def _label(kind: str | None, mime: str) -> str:
    return KNOWN_TYPES[kind][0] if kind in KNOWN_TYPES else mime


def jpeg_resolution(data: bytes, cfg: Checks) -> tuple[float, dict[str, Any]]:
    """Effective dpi of an image: its density tag when that is at least the
    minimum, else its pixels over an A4 page in the same orientation."""
    with Image.open(io.BytesIO(data)) as img:
        w, h = img.size
        tag = img.info.get("dpi")
    tag_dpi = float(min(tag)) if tag and min(tag) > 1 else None
    long_px, short_px = max(w, h), min(w, h)
    page_long, page_short = max(cfg.page_width_in, cfg.page_height_in), min(cfg.page_width_in, cfg.page_height_in)
    pixel_dpi = min(long_px / page_long, short_px / page_short)
    floor = cfg.min_dpi * (1 - cfg.dpi_tolerance_percent / 100)
    effective = tag_dpi if tag_dpi is not None and tag_dpi >= floor else pixel_dpi
    return effective, {"pixels": [w, h], "density_tag": tag_dpi, "pixel_dpi": round(pixel_dpi, 1)}


def _mul(m: list[float], n: list[float]) -> list[float]:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return [a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2, e * a2 + f * c2 + e2, e * b2 + f * d2 + f2]


# A content stream walk stops after this many operations for the whole PDF
# (a page of text has some thousands); the pages not reached have no dpi.
MAX_OPERATIONS = 500_000


class _PageWalker:
    """Walks one page's content stream, tracking the transformation matrix, and
    records the dpi of every image placed over at least ``min_cover`` of it.

    A form XObject is walked once per page for each distinct scale it is placed
    at (the dpi does not depend on where it is placed): forms that draw each
    other in a fan, each several times, cost one walk each, not one per path."""

    def __init__(self, page_area: float, min_cover: float, max_depth: int, operations: int):
        self.page_area, self.min_cover, self.max_depth = page_area, min_cover, max_depth
        self.operations = operations  # left for the whole PDF
        self.found: list[float] = []
        self.walked: set[tuple[Any, ...]] = set()

    def measure(self, w_px: int, h_px: int, m: list[float]) -> None:
        w_pt, h_pt = math.hypot(m[0], m[1]), math.hypot(m[2], m[3])
        if w_px <= 0 or h_px <= 0 or w_pt <= 0 or h_pt <= 0:
            return
        if (w_pt * h_pt) / self.page_area < self.min_cover:
            return
        self.found.append(min(w_px / (w_pt / 72.0), h_px / (h_pt / 72.0)))

    def walk(self, obj: Any, resources: Any, ctm: list[float], depth: int) -> None:
        stack: list[list[float]] = []
        cur = ctm
        for instr in pikepdf.parse_content_stream(obj):
            self.operations -= 1
            if self.operations < 0:
                return
            if isinstance(instr, pikepdf.ContentStreamInlineImage):
                iimg = instr.iimage
                self.measure(
                    int(iimg.obj.get("/W", iimg.obj.get("/Width", 0))), int(iimg.obj.get("/H", iimg.obj.get("/Height", 0))), cur
                )
                continue
            o, operands = str(instr.operator), instr.operands
            if o == "q":
                stack.append(cur)
            elif o == "Q":
                cur = stack.pop() if stack else ctm
            elif o == "cm" and len(operands) == 6:
                cur = _mul([float(x) for x in operands], cur)
            elif o == "Do" and operands:
                self.draw(resources, operands[0], cur, depth)

    def draw(self, resources: Any, name: Any, cur: list[float], depth: int) -> None:
        xobjs = resources.get("/XObject") if resources is not None else None
        xobj = xobjs.get(name) if xobjs is not None else None
        if xobj is None:
            return
        subtype = xobj.get("/Subtype")
        if subtype == "/Image":
            self.measure(int(xobj.get("/Width", 0)), int(xobj.get("/Height", 0)), cur)
        elif subtype == "/Form" and depth < self.max_depth:
            m = _mul([float(x) for x in xobj.get("/Matrix", [1, 0, 0, 1, 0, 0])], cur)
            key = (xobj.objgen, *(round(v, 3) for v in m[:4]))
            if key in self.walked:
                return
            self.walked.add(key)
            self.walk(xobj, xobj.get("/Resources", resources), m, depth + 1)


def pdf_image_dpis(pdf: pikepdf.Pdf, *, min_cover: float = 0.3, max_depth: int = 8) -> list[dict[str, Any]]:
    """For each page, the lowest dpi of the images that cover at least
    ``min_cover`` of it: pixels over placed size, found by walking the content
    stream (no rendering)."""
    pages = []
    operations = MAX_OPERATIONS
    for number, page in enumerate(pdf.pages, start=1):
        box = [float(x) for x in page.mediabox]
        walker = _PageWalker(abs((box[2] - box[0]) * (box[3] - box[1])) or 1.0, min_cover, max_depth, operations)
        walker.walk(page.obj, page.obj.get("/Resources"), [1, 0, 0, 1, 0, 0], 0)
        operations = walker.operations
        pages.append({"page": number, "dpi": round(min(walker.found), 1) if walker.found else None})
        if operations < 0:
            break
    return pages


def zip_problem(data: bytes, limits: Limits) -> str | None:
    """A ZIP (DOCX) that would expand past the limits, judged from its directory
    before anything is decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"damaged ZIP: {exc}"
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if len(infos) > limits.zip_max_entries:
        return f"{len(infos)} entries, over the limit of {limits.zip_max_entries}"
    if total > limits.zip_max_total_bytes:
        return f"expands to {total // (1024 * 1024)} MB, over the limit"
    if total / packed > limits.zip_max_ratio:
        return f"compression ratio {total / packed:.0f}:1, over the limit of {limits.zip_max_ratio:g}:1"
    return None


def _has_macros(data: bytes, kind: str | None) -> bool:
    if kind == "docx":
        with contextlib.suppress(zipfile.BadZipFile, OSError, ValueError), zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n.lower() for n in zf.namelist()]
            return any(n.endswith("vbaproject.bin") or "vbadata" in n for n in names)
        return False
    if kind == "doc":
        return any(
            marker in data
            for marker in (b"_\x00V\x00B\x00A\x00_\x00P\x00R\x00O\x00J\x00E\x00C\x00T", b"M\x00a\x00c\x00r\x00o\x00s")
        )
    return False


def _text_readable(data: bytes) -> bool:
    """Valid UTF-8, or Thai in TIS-620 / windows-874."""
    for codec in ("utf-8", "tis_620"):
        try:
            data.decode(codec)
            return True
        except UnicodeDecodeError:
            continue
    return False


def check_file(data: bytes, name: str, declared: str, cfg: Checks, wording: Wording, limits: Limits | None = None) -> FileCheck:
    """Check one attachment. Never raises on bad content."""
    allowed_label = ", ".join(KNOWN_TYPES[k][0] for k in cfg.allowed_types)
    problems: list[Problem] = []
    details: dict[str, Any] = {}
    dpi: float | None = None
    mime, kind = sniff(data)
    if not data:
        problems.append(wording.problem("empty", name=name))
        return FileCheck(name, 0, declared, mime, None, False, None, tuple(problems))

    if limits is not None and len(data) > limits.max_attachment_bytes:
        problems.append(wording.problem("too_large", name=name))
        return FileCheck(name, len(data), declared, mime, kind, False, None, tuple(problems))
    if kind not in cfg.allowed_types:
        problems.append(wording.problem("type_not_allowed", name=name, detected=_label(kind, mime), allowed=allowed_label))
    by_name = _extension_kind(name)
    if kind is not None and by_name is not None and by_name != kind:
        problems.append(wording.problem("name_mismatch", name=name, detected=_label(kind, mime), expected=_label(by_name, "")))

    if kind == "jpeg" and (b"%PDF-" in data or data.find(b"PK\x03\x04") > 0):
        # A polyglot: two parsers would read it as different things.
        problems.append(wording.problem("polyglot", name=name))
        return FileCheck(name, len(data), declared, mime, kind, False, None, tuple(problems), {"polyglot": True})
    if kind == "docx" and limits is not None:
        bomb = zip_problem(data, limits)
        if bomb:
            problems.append(wording.problem("unreadable", name=name))
            return FileCheck(name, len(data), declared, mime, kind, False, None, tuple(problems), {"error": bomb})
    if _has_macros(data, kind):
        problems.append(wording.problem("macro", name=name))
    if kind == "txt" and not _text_readable(data):
        problems.append(wording.problem("encoding", name=name))
    try:
        if kind == "jpeg":
            # The end-of-image marker, allowing the padding some cameras add.
            if data[-4096:].rstrip(b"\x00\r\n")[-2:] != b"\xff\xd9":
                problems.append(wording.problem("truncated", name=name))
            dpi, details = jpeg_resolution(data, cfg)
        elif kind == "pdf":
            dpi, details = _pdf(data)
        elif kind in ("png", "tiff"):
            dpi, details = jpeg_resolution(data, cfg)
    except pikepdf.PasswordError:
        problems.append(wording.problem("encrypted", name=name))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        problems.append(wording.problem("unreadable", name=name))
        details["error"] = "image larger than the decompression limit"
    except Exception as exc:  # noqa: BLE001 - damaged files of every kind raise differently
        problems.append(wording.problem("unreadable", name=name))
        details["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"

    if details.pop("encrypted", False):
        problems.append(wording.problem("encrypted", name=name))
    if dpi is not None:
        dpi = round(dpi, 1)
        if dpi < cfg.min_dpi * (1 - cfg.dpi_tolerance_percent / 100):
            problems.append(wording.problem("low_resolution", name=name, dpi=whole_dpi(dpi), min_dpi=cfg.min_dpi))
    return FileCheck(name, len(data), declared, mime, kind, not problems, dpi, tuple(problems), details)


def _pdf(data: bytes) -> tuple[float | None, dict[str, Any]]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        if pdf.is_encrypted:
            # Opened with an empty user password: still ask for an open copy,
            # since printing and copying may be restricted.
            return None, {"encrypted": True}
        count = len(pdf.pages)
        pages = pdf_image_dpis(pdf)
    scanned = [p["dpi"] for p in pages if p["dpi"] is not None]
    details: dict[str, Any] = {"pages": count, "page_dpi": [p["dpi"] for p in pages]}
    if len(pages) < count:
        details["walk"] = f"stopped after {MAX_OPERATIONS} operations, at page {len(pages)}"
    return (min(scanned) if scanned else None), details


def unreadable(data: bytes, name: str, declared: str, wording: Wording, why: str) -> FileCheck:
    """A file the checks could not finish (out of time or memory), refused with the reason."""
    mime, kind = sniff(data)
    return FileCheck(
        name, len(data), declared, mime, kind, False, None, (wording.problem("unreadable", name=name),), {"error": why}
    )


def is_tnef(name: str, declared: str) -> bool:
    """Outlook's winmail.dat (TNEF): the files inside cannot be opened by the office."""
    return name.lower() == "winmail.dat" or declared == "application/ms-tnef"


def as_tnef(fc: FileCheck, wording: Wording) -> FileCheck:
    return FileCheck(
        fc.name,
        fc.size,
        fc.declared_type,
        "application/ms-tnef",
        "tnef",
        False,
        None,
        (wording.problem("tnef", name=fc.name),),
        fc.details,
    )


# A file checked in the sandboxed worker: (data, name, declared type) -> its check.
Sandboxed = Callable[[bytes, str, str], FileCheck]


def check_attachments(
    attachments: Iterable[Attachment], store: Store, checks: Checks, limits: Limits, wording: Wording, sandboxed: Sandboxed
) -> list[tuple[str, FileCheck]]:
    """Keep and check every attachment: (its digest in the store, its check).

    PDFs and images no larger than the attachment limit go to ``sandboxed``
    (their decoders run in the bounded worker); the rest are checked here.
    Outlook's winmail.dat is refused whatever it holds."""
    out = []
    for att in attachments:
        digest = store.put(att.data, durable=False)
        _mime, kind = sniff(att.data[:262144])
        if kind in SANDBOXED and len(att.data) <= limits.max_attachment_bytes:
            fc = sandboxed(att.data, att.name, att.declared_type)
        else:
            fc = check_file(att.data, att.name, att.declared_type, checks, wording, limits)
        out.append((digest, as_tnef(fc, wording) if is_tnef(att.name, att.declared_type) else fc))
    return out
