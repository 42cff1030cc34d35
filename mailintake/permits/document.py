"""The permit as a document (R16, R18, R19): a Thai/English PDF, protected
with a password sent in a separate email.

- The number comes from its own yearly sequence (``[permits] number_format``).
- The PDF is drawn by fpdf2 with HarfBuzz text shaping and the shipped Sarabun
  font (unshaped Thai loses its tone marks); Thai lines break at word
  boundaries (``permits.thaibreak``). A QR code carries the number, the
  SHA-256 of everything the document prints and a keyed hash of both
  (``permits.codes``); the content itself travels in the file's metadata.
- The file is encrypted AES-256 (R=6) with a per-permit password; when a
  certificate is configured it is then signed (PAdES) incrementally, since a
  signature made before encryption would not survive it. Signing needs the
  ``sign`` extra (``pip install 'mailintake[sign]'``: pyHanko and its chain).

fpdf2 (with fontTools), pikepdf and pyHanko are imported by the functions that
use them, so commands that issue no permit never load them.

Verifying a file and the public register are ``permits.register``.
"""

from __future__ import annotations

import io
import secrets
import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mailintake.base import thaitext
from mailintake.base.config import Config
from mailintake.base.data.records import Application, Permit
from mailintake.base.errors import ConfigError
from mailintake.base.rules import Service
from mailintake.permits import thaibreak
from mailintake.permits.codes import PermitError, content_hash, content_text, qr_hash, qr_payload, qr_png

FONTS = Path(__file__).with_name("fonts")


# --- drawing ------------------------------------------------------------------------------
def load_layout(cfg: Config, service_id: str) -> dict[str, Any]:
    for name in (f"{service_id}.toml", "default.toml"):
        for d in cfg.search_path("templates"):
            path = d / "permits" / name
            if path.is_file():
                with path.open("rb") as fh:
                    return tomllib.load(fh)
    raise PermitError("templates/permits/default.toml not found")


def _wrap(pdf: Any, text: str, width: float) -> list[str]:
    """Break text into lines no wider than ``width``, at Thai word boundaries
    (``thaibreak``: dictionary maximal matching) and at spaces."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for token in thaibreak.break_units(paragraph):
            candidate = line + token
            if line and pdf.get_string_width(candidate.rstrip()) > width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line = candidate
        lines.append(line.rstrip())
    return lines


def new_page(orientation: str = "P") -> Any:
    """An A4 page with the permit's margins and the Sarabun font, shaped
    (HarfBuzz): what ``render`` draws on and line breaks are measured on
    (``orientation`` "L": landscape, for the registry book)."""
    from fpdf import FPDF

    pdf = FPDF(orientation=orientation, format="A4", unit="mm")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, 18)
    pdf.add_font("Sarabun", "", str(FONTS / "Sarabun-Regular.ttf"))
    pdf.add_font("Sarabun", "B", str(FONTS / "Sarabun-Bold.ttf"))
    pdf.set_text_shaping(True)
    pdf.add_page()
    return pdf


def letterhead(cfg: Config, title: str) -> tuple[Any, Callable[..., None]]:
    """A new page headed by the agency (names, address, telephone, mailbox),
    and ``para(text, size, style="", gap=1.5)`` writing wrapped, shaped Thai
    across the page: the start of every document the office issues (the permit,
    the e-receipt)."""
    from fpdf.enums import XPos, YPos

    pdf = new_page()
    pdf.set_title(title)
    pdf.set_creator("mailintake")
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def para(text: str, size: float, style: str = "", gap: float = 1.5) -> None:
        pdf.set_font("Sarabun", style, size)
        for line in _wrap(pdf, text, width):
            pdf.cell(width, size * 0.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    agency = cfg.agency
    para(agency.name_th, 18, "B", 0)
    para(agency.name_en, 13, "B", 0)
    if agency.address_th or agency.address_en:
        para(" ".join(x for x in (agency.address_th, agency.address_en) if x), 11, "", 0)
    para(f"โทรศัพท์ / Tel. {agency.phone}   อีเมล / Email {agency.mailbox_address}", 11)
    pdf.ln(4)
    return pdf, para


def render(cfg: Config, layout: dict[str, Any], context: dict[str, Any], qr_text: str) -> bytes:
    """The permit as an unencrypted PDF."""

    thai_num = bool(layout.get("thai_numerals"))

    def th(text: str) -> str:
        return thaitext.thai_digits(text) if thai_num else text

    pdf, para = letterhead(cfg, f"{layout.get('title_en', 'Permit')} {context['permit']['number']}")
    para(str(layout.get("title_th", "ใบอนุญาต")), 22, "B", 0)
    para(str(layout.get("title_en", "Permit")), 15, "B")
    permit = context["permit"]
    para(th(f"เลขที่ {permit['number']}") + f"   No. {permit['number']}", 14, "B", 4)
    for label_th, label_en, value in context["printed"]:
        para(f"{label_th} / {label_en}: {value}", 13, "", 1)
    pdf.ln(2)
    para(th(f"มีผลตั้งแต่ {permit['valid_from_th']} ถึง {permit['valid_until_th']}"), 13, "", 0)
    para(f"Valid from {permit['valid_from_en']} until {permit['valid_until_en']}", 13)
    para(th(f"ออกให้ ณ {permit['issued_th']}"), 13, "", 0)
    para(f"Issued on {permit['issued_en']}", 13, "", 4)
    if layout.get("conditions_th"):
        para(th(str(layout["conditions_th"])), 11, "", 0)
    if layout.get("conditions_en"):
        para(str(layout["conditions_en"]), 11, "", 4)
    y = pdf.get_y() + 4
    pdf.set_xy(20, y)
    para("(ลงชื่อ / Signed)", 12, "", 1)
    para(context["approver_name"], 13, "B", 0)
    para(context["approver_position"] or "ผู้อนุญาต / Authorized officer", 12, "", 0)
    qr = qr_png(qr_text, box_size=6)
    size = 38
    pdf.image(io.BytesIO(qr), x=pdf.w - pdf.r_margin - size, y=y, w=size, h=size)
    pdf.set_xy(pdf.w - pdf.r_margin - size - 10, y + size)
    pdf.set_font("Sarabun", "", 9)
    pdf.cell(size + 10, 4, "สแกนเพื่อตรวจสอบ / Scan to verify", align="C")
    return bytes(pdf.output())


# --- protection ------------------------------------------------------------------------------
def protect(pdf_bytes: bytes, user_password: str, qr_text: str, content: str = "") -> tuple[bytes, str]:
    """AES-256 (R=6); returns the file and the owner password (never stored)."""
    import pikepdf

    owner = secrets.token_urlsafe(24)
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        # The verification data also travels in the document information, so
        # `permit verify` can read it once the file is opened.
        pdf.docinfo["/MailintakePermit"] = qr_text
        if content:
            pdf.docinfo["/MailintakeContent"] = content  # what the QR's content hash covers
        pdf.save(
            out,
            encryption=pikepdf.Encryption(user=user_password, owner=owner, R=6, allow=pikepdf.Permissions(modify_other=False)),
        )
    return out.getvalue(), owner


def sign(cfg: Config, encrypted: bytes, owner_password: str) -> bytes:
    """PAdES signature added incrementally to the encrypted file."""
    require_signing(cfg)
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter

    assert cfg.permits.sign_pkcs12 is not None
    signer = signers.SimpleSigner.load_pkcs12(str(cfg.permits.sign_pkcs12), passphrase=cfg.permits.sign_password.encode() or None)
    if signer is None:
        raise PermitError(f"cannot load the signing certificate {cfg.permits.sign_pkcs12}")
    writer = IncrementalPdfFileWriter(io.BytesIO(encrypted))
    writer.encrypt(owner_password)
    meta = signers.PdfSignatureMetadata(
        field_name="PermitSignature", subfilter=SigSeedSubFilter.PADES, reason="Permit issued by " + cfg.agency.name_en
    )
    out = signers.sign_pdf(writer, meta, signer=signer, new_field_spec=SigFieldSpec("PermitSignature"))
    return bytes(out.getvalue())


def signing_installed() -> bool:
    """Whether the ``sign`` extra (pyHanko) can be imported here."""
    try:
        import pyhanko.sign  # noqa: F401
    except ImportError:
        return False
    return True


def is_signed(data: bytes, password: str) -> bool:
    """Whether the file carries a filled signature field: what can be said of
    a signature without the ``sign`` extra (read with pikepdf)."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data), password=password) as pdf:
        form = pdf.Root.get("/AcroForm")
        fields: Any = form.get("/Fields", []) if form is not None else []
        return any(f.get("/FT") == "/Sig" and f.get("/V") is not None for f in fields)


def require_signing(cfg: Config) -> None:
    """A configured signing certificate without the ``sign`` extra is a
    configuration error in one line, before anything is drawn or stored."""
    if cfg.permits.sign_pkcs12 is not None and not signing_installed():
        where = cfg.source.name if cfg.source is not None else "config.toml"
        raise ConfigError(
            f"{where}: [permits] sign_pkcs12 is set but permit signing is not installed: "
            "pip install 'mailintake[sign]', or empty sign_pkcs12 to issue unsigned permits"
        )


# --- the permit ------------------------------------------------------------------------------
def printed_particulars(layout: dict[str, Any], context: dict[str, Any]) -> list[list[str]]:
    """The layout's particulars as the document prints them: label (Thai,
    English) and value rendered in Jinja2's immutable sandbox."""
    import jinja2
    import jinja2.sandbox

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(autoescape=False, undefined=jinja2.StrictUndefined)
    return [
        [
            str(item.get("label_th", "")),
            str(item.get("label_en", "")),
            env.from_string(str(item.get("value", ""))).render(**context),
        ]
        for item in layout.get("particulars", [])
    ]


def permit_content(cfg: Config, permit: Permit, printed: list[list[str]]) -> dict[str, Any]:
    """Every field the document prints, as the QR's content hash covers it."""
    return {
        "v": 2,
        "agency": cfg.agency.name_en,
        "number": permit.number,
        "service": permit.service,
        "holder": permit.holder_name,
        "particulars": printed,
        "issued_at": permit.issued_at,
        "valid_from": permit.valid_from,
        "valid_until": permit.valid_until,
        "approver_name": permit.approver_name,
        "approver_position": permit.approver_position,
    }


def make_permit(
    cfg: Config, *, app: Application, service: Service, permit: Permit, password: str
) -> tuple[bytes, str, bool, str]:
    """Render, encrypt and (when configured) sign ``permit``; returns (pdf, qr
    hash, signed, SHA-256 of its content)."""
    require_signing(cfg)
    layout = load_layout(cfg, service.id)
    thai_num = bool(layout.get("thai_numerals"))
    issued, valid_from, valid_until = (
        datetime.fromisoformat(t) for t in (permit.issued_at, permit.valid_from, permit.valid_until)
    )
    dates = {
        "number": permit.number,
        "valid_from_th": thaitext.thai_date(valid_from, with_time=False, with_weekday=False, digits=thai_num),
        "valid_until_th": thaitext.thai_date(valid_until, with_time=False, with_weekday=False, digits=thai_num),
        "valid_from_en": thaitext.english_date(valid_from, with_time=False),
        "valid_until_en": thaitext.english_date(valid_until, with_time=False),
        "issued_th": thaitext.thai_date(issued, with_time=False, digits=thai_num),
        "issued_en": thaitext.english_date(issued, with_time=False),
    }
    context: dict[str, Any] = {
        "app": app,
        "service": service,
        "holder_name": app.applicant_name or app.applicant_email,
        "permit": dates,
        "agency": cfg.agency,
        "approver_name": permit.approver_name,
        "approver_position": permit.approver_position,
    }
    context["printed"] = printed_particulars(layout, context)
    content = permit_content(cfg, permit, context["printed"])
    content_sha256 = content_hash(content)
    digest = qr_hash(cfg, permit.number, content_sha256)
    qr_text = qr_payload(permit.number, content_sha256, digest)
    plain = render(cfg, layout, context, qr_text)
    encrypted, owner = protect(plain, password, qr_text, content_text(content))
    signed = cfg.permits.sign_pkcs12 is not None
    if signed:
        encrypted = sign(cfg, encrypted, owner)
    return encrypted, digest, signed, content_sha256


def valid_until_default(cfg: Config, issued: datetime) -> datetime:
    return (issued + timedelta(days=cfg.permits.valid_days)).replace(hour=23, minute=59, second=59, microsecond=0)
