"""Permits (R16, R18, R19): issue a Thai/English PDF, protect it with a password
sent in a separate email, deliver it, and let anyone verify it.

- The number comes from its own yearly sequence (``[permits] number_format``).
- The PDF is drawn by fpdf2 with HarfBuzz text shaping and the shipped Sarabun
  font (unshaped Thai loses its tone marks); Thai lines break at word
  boundaries found by PyThaiNLP. A QR code carries the number and a keyed hash.
- The file is encrypted AES-256 (R=6) with a per-permit password; when a
  certificate is configured it is then signed (PAdES) incrementally, since a
  signature made before encryption would not survive it.
- The password is kept only as a salted scrypt hash.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pikepdf

from mailintake.base import thaitext
from mailintake.base.config import Config
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.errors import UserError
from mailintake.desk import promptpay

FONTS = Path(__file__).with_name("fonts")
# No look-alikes: 0/O/o, 1/l/I, 5/S, 2/Z, 8/B.
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679"
QR_PREFIX = "MI-PERMIT"


class PermitError(UserError):
    """A permit action that cannot be done (one line)."""


# --- secrets ------------------------------------------------------------------------------
def new_password(length: int) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    _scheme, salt, digest = stored.split("$")
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(got.hex(), digest)


def permit_key(cfg: Config) -> bytes:
    """The key of the QR's keyed hash, made once and kept beside the registry."""
    path = cfg.storage_path / "permit.key"
    if not path.exists():
        cfg.storage_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def qr_hash(cfg: Config, number: str, valid_until: str) -> str:
    return hmac.new(permit_key(cfg), f"{number}|{valid_until}".encode(), hashlib.sha256).hexdigest()[:16]


def qr_payload(number: str, digest: str) -> str:
    return f"{QR_PREFIX}|{number}|{digest}"


def parse_qr(text: str) -> tuple[str, str] | None:
    parts = text.strip().split("|")
    if len(parts) == 3 and parts[0] == QR_PREFIX:
        return parts[1], parts[2]
    return None


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
    (PyThaiNLP's dictionary segmenter) and at spaces."""
    from pythainlp.tokenize import word_tokenize

    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for token in word_tokenize(paragraph, engine="newmm", keep_whitespace=True):
            candidate = line + token
            if line and pdf.get_string_width(candidate.rstrip()) > width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line = candidate
        lines.append(line.rstrip())
    return lines


def render(cfg: Config, layout: dict[str, Any], context: dict[str, Any], qr_text: str) -> bytes:
    """The permit as an unencrypted PDF."""
    import jinja2
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)
    thai_num = bool(layout.get("thai_numerals"))

    def th(text: str) -> str:
        return thaitext.thai_digits(text) if thai_num else text

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, 18)
    pdf.add_font("Sarabun", "", str(FONTS / "Sarabun-Regular.ttf"))
    pdf.add_font("Sarabun", "B", str(FONTS / "Sarabun-Bold.ttf"))
    pdf.set_text_shaping(True)
    pdf.set_title(f"{layout.get('title_en', 'Permit')} {context['permit']['number']}")
    pdf.set_creator("mailintake")
    pdf.add_page()
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
    para(str(layout.get("title_th", "ใบอนุญาต")), 22, "B", 0)
    para(str(layout.get("title_en", "Permit")), 15, "B")
    permit = context["permit"]
    para(th(f"เลขที่ {permit['number']}") + f"   No. {permit['number']}", 14, "B", 4)
    for item in layout.get("particulars", []):
        value = env.from_string(str(item.get("value", ""))).render(**context)
        para(f"{item.get('label_th', '')} / {item.get('label_en', '')}: {value}", 13, "", 1)
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
    qr = promptpay.qr_png(qr_text, box_size=6)
    size = 38
    pdf.image(io.BytesIO(qr), x=pdf.w - pdf.r_margin - size, y=y, w=size, h=size)
    pdf.set_xy(pdf.w - pdf.r_margin - size - 10, y + size)
    pdf.set_font("Sarabun", "", 9)
    pdf.cell(size + 10, 4, "สแกนเพื่อตรวจสอบ / Scan to verify", align="C")
    return bytes(pdf.output())


# --- protection ------------------------------------------------------------------------------
def protect(pdf_bytes: bytes, user_password: str, qr_text: str) -> tuple[bytes, str]:
    """AES-256 (R=6); returns the file and the owner password (never stored)."""
    owner = secrets.token_urlsafe(24)
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        # The verification data also travels in the document information, so
        # `permit verify` can read it once the file is opened.
        pdf.docinfo["/MailintakePermit"] = qr_text
        pdf.save(out, encryption=pikepdf.Encryption(user=user_password, owner=owner, R=6,
                                                     allow=pikepdf.Permissions(modify_other=False)))
    return out.getvalue(), owner


def sign(cfg: Config, encrypted: bytes, owner_password: str) -> bytes:
    """PAdES signature added incrementally to the encrypted file."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter

    assert cfg.permits.sign_pkcs12 is not None
    signer = signers.SimpleSigner.load_pkcs12(str(cfg.permits.sign_pkcs12),
                                              passphrase=cfg.permits.sign_password.encode() or None)
    if signer is None:
        raise PermitError(f"cannot load the signing certificate {cfg.permits.sign_pkcs12}")
    writer = IncrementalPdfFileWriter(io.BytesIO(encrypted))
    writer.encrypt(owner_password)
    meta = signers.PdfSignatureMetadata(field_name="PermitSignature", subfilter=SigSeedSubFilter.PADES,
                                        reason="Permit issued by " + cfg.agency.name_en)
    out = signers.sign_pdf(writer, meta, signer=signer, new_field_spec=SigFieldSpec("PermitSignature"))
    return bytes(out.getvalue())


# --- the register ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Issued:
    number: str
    pdf: bytes
    password: str


def mask_name(name: str) -> str:
    """Show the first letters of each word only (PDPA)."""
    out = []
    for word in name.split():
        keep = 2 if len(word) > 3 else 1
        out.append(word[:keep] + "*" * max(len(word) - keep, 2))
    return " ".join(out) or "***"


def status_of(reg: Registry, number: str, now: datetime) -> dict[str, Any]:
    row = reg.one("SELECT * FROM permits WHERE number = ?", (number.strip().upper(),))
    if row is None:
        return {"number": number.strip().upper(), "status": "unknown"}
    if row["status"] == "revoked":
        state = "revoked"
    elif datetime.fromisoformat(row["valid_until"]) < now:
        state = "expired"
    else:
        state = "valid"
    return {"number": row["number"], "status": state, "service": row["service"], "holder": mask_name(row["holder_name"]),
            "issued_at": row["issued_at"], "valid_from": row["valid_from"], "valid_until": row["valid_until"],
            "revoked_at": row["revoked_at"], "revoke_reason": row["revoke_reason"] if state == "revoked" else None,
            "delivered_at": row["delivered_at"], "signed": bool(row["signed"]), "transaction_id": row["transaction_id"]}


def derived_password(reg: Registry, store_get: Any, tid: str) -> str:
    """The 13-digit ID the applicant wrote in the application."""
    from mailintake.intake.parse import parse

    for m in reg.all("SELECT sha256 FROM messages WHERE transaction_id = ? AND kind IN ('application', 'reply') ORDER BY id",
                     (tid,)):
        found = re.search(r"(?<!\d)\d{13}(?!\d)", parse(store_get(m["sha256"])).body_text)
        if found:
            return found.group()
    raise PermitError("password_policy is derived, but the application has no 13-digit ID to derive it from")


def make_permit(cfg: Config, reg: Registry, *, app: dict[str, Any], service: Any, number: str, issued: datetime,
                valid_from: datetime, valid_until: datetime, approver_name: str, approver_position: str,
                password: str) -> tuple[bytes, str, bool]:
    """Render, encrypt and (when configured) sign; returns (pdf, qr hash, signed)."""
    layout = load_layout(cfg, service.id)
    digest = qr_hash(cfg, number, to_iso(valid_until) or "")
    qr_text = qr_payload(number, digest)
    thai_num = bool(layout.get("thai_numerals"))
    permit = {
        "number": number,
        "valid_from_th": thaitext.thai_date(valid_from, with_time=False, with_weekday=False, digits=thai_num),
        "valid_until_th": thaitext.thai_date(valid_until, with_time=False, with_weekday=False, digits=thai_num),
        "valid_from_en": thaitext.english_date(valid_from, with_time=False),
        "valid_until_en": thaitext.english_date(valid_until, with_time=False),
        "issued_th": thaitext.thai_date(issued, with_time=False, digits=thai_num),
        "issued_en": thaitext.english_date(issued, with_time=False),
    }
    context = {"app": app, "service": service, "holder_name": app["applicant_name"] or app["applicant_email"],
               "permit": permit, "agency": cfg.agency, "approver_name": approver_name,
               "approver_position": approver_position}
    plain = render(cfg, layout, context, qr_text)
    encrypted, owner = protect(plain, password, qr_text)
    signed = cfg.permits.sign_pkcs12 is not None
    if signed:
        encrypted = sign(cfg, encrypted, owner)
    return encrypted, digest, signed


def valid_until_default(cfg: Config, issued: datetime) -> datetime:
    return (issued + timedelta(days=cfg.permits.valid_days)).replace(hour=23, minute=59, second=59, microsecond=0)


def verify_file(cfg: Config, reg: Registry, data: bytes, password: str | None, now: datetime) -> dict[str, Any]:
    """Check a permit file: the register (by the file's hash, or by the number
    inside), the keyed hash, and the signature when there is one."""
    result: dict[str, Any] = {"register": None, "hash_ok": None, "signature": None, "status": "unknown"}
    sha = hashlib.sha256(data).hexdigest()
    row = reg.one("SELECT number FROM permits WHERE pdf_sha256 = ?", (sha,))
    result["file_matches_register"] = row is not None
    inside = None
    if password is not None:
        try:
            with pikepdf.open(io.BytesIO(data), password=password) as pdf:
                inside = str(pdf.docinfo.get("/MailintakePermit", ""))
        except pikepdf.PasswordError:
            raise PermitError("wrong password for this file") from None
        except pikepdf.PdfError as exc:
            raise PermitError(f"not a readable PDF: {exc}") from None
    parsed = parse_qr(inside) if inside else None
    number = parsed[0] if parsed else (row["number"] if row else None)
    if number is None:
        result["reason"] = "the file is not in the register; give --password to read the permit number inside"
        return result
    state = status_of(reg, number, now)
    result.update({"number": number, "status": state["status"], "register": state})
    if parsed is not None and state["status"] != "unknown":
        result["hash_ok"] = hmac.compare_digest(parsed[1], qr_hash(cfg, number, state["valid_until"]))
    if password is not None:
        result["signature"] = _signature_status(cfg, data, password)
    return result


def _signature_status(cfg: Config, data: bytes, password: str) -> dict[str, Any] | None:
    """The signature's integrity, and whether the signer is the agency's own
    certificate (the one in ``[permits] sign_pkcs12``)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(data))
    reader.decrypt(password)
    if not reader.embedded_signatures:
        return None
    roots = []
    if cfg.permits.sign_pkcs12 is not None:
        from pyhanko.sign import signers

        own = signers.SimpleSigner.load_pkcs12(str(cfg.permits.sign_pkcs12),
                                               passphrase=cfg.permits.sign_password.encode() or None)
        if own is not None and own.signing_cert is not None:
            roots.append(own.signing_cert)
    sig = reader.embedded_signatures[0]
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=roots, allow_fetching=False))
    return {"intact": bool(status.intact), "valid": bool(status.valid), "trusted": bool(status.trusted),
            "coverage": status.coverage.name if status.coverage else None, "signer": sig.signer_cert.subject.human_friendly}


def publish(reg: Registry, out: Path, now: datetime, agency: Any) -> list[Path]:
    """A static bilingual register for the agency's website: number, service,
    dates and status; the holder's name only masked."""
    rows = [status_of(reg, r["number"], now) for r in reg.all("SELECT number FROM permits ORDER BY issued_at, number")]
    public = [{k: r[k] for k in ("number", "service", "status", "issued_at", "valid_from", "valid_until", "holder")}
              for r in rows]
    out.mkdir(parents=True, exist_ok=True)
    (out / "permits.json").write_text(json.dumps({"agency": agency.name_en, "generated_at": to_iso(now),
                                                  "permits": public}, ensure_ascii=False, indent=2), encoding="utf-8")
    from html import escape

    body = "\n".join(
        f"<tr><td>{escape(p['number'])}</td><td>{escape(p['service'])}</td><td>{escape(p['holder'])}</td>"
        f"<td>{escape(p['issued_at'][:10])}</td><td>{escape(p['valid_until'][:10])}</td><td>{escape(p['status'])}</td></tr>"
        for p in public)
    html = f"""<!DOCTYPE html>
<html lang="th"><head><meta charset="utf-8"><title>ทะเบียนใบอนุญาต / Permit register - {escape(agency.name_en)}</title></head>
<body style="font-family: Sarabun, Tahoma, sans-serif">
<h1>ทะเบียนใบอนุญาต {escape(agency.name_th)}</h1>
<h2>Permit register, {escape(agency.name_en)}</h2>
<p>ข้อมูล ณ / As of {escape(to_iso(now) or '')}. ตรวจสอบใบอนุญาตทางอีเมล: ส่งหัวเรื่อง "ตรวจสอบใบอนุญาต เลขที่" ไปที่
{escape(agency.mailbox_address)} / To verify by email, send the subject "VERIFY number" to {escape(agency.mailbox_address)}.</p>
<table border="1" cellpadding="4">
<tr><th>เลขที่ / Number</th><th>บริการ / Service</th><th>ผู้ได้รับอนุญาต / Holder</th><th>วันที่ออก / Issued</th>
<th>ใช้ได้ถึง / Valid until</th><th>สถานะ / Status</th></tr>
{body}
</table></body></html>
"""
    (out / "index.html").write_text(html, encoding="utf-8")
    return [out / "index.html", out / "permits.json"]
