"""The permit register as the public and the holder see it (R18): a permit's
status by its number, the verification of a permit file, and the static
register published on the agency's website. Holders' names are only shown masked.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from mailintake.base.config import Agency, Config
from mailintake.base.data import permits as register
from mailintake.base.data.db import Registry, to_iso
from mailintake.base.data.records import Permit
from mailintake.permits import document
from mailintake.permits.codes import PermitError, QrData, content_hash, parse_qr, qr_hash, qr_hash_v1


def mask_name(name: str) -> str:
    """Show the first letters of each word only (PDPA)."""
    out = []
    for word in name.split():
        keep = 2 if len(word) > 3 else 1
        out.append(word[:keep] + "*" * max(len(word) - keep, 2))
    return " ".join(out) or "***"


def state_of(permit: Permit, now: datetime) -> str:
    """valid, expired or revoked."""
    if permit.status == "revoked":
        return "revoked"
    return "expired" if datetime.fromisoformat(permit.valid_until) < now else "valid"


def public_status(permit: Permit, now: datetime) -> dict[str, Any]:
    """What anyone may know of ``permit`` (the JSON of ``permit status``)."""
    state = state_of(permit, now)
    return {
        "number": permit.number,
        "status": state,
        "service": permit.service,
        "holder": mask_name(permit.holder_name),
        "issued_at": permit.issued_at,
        "valid_from": permit.valid_from,
        "valid_until": permit.valid_until,
        "revoked_at": permit.revoked_at,
        "revoke_reason": permit.revoke_reason if state == "revoked" else None,
        "delivered_at": permit.delivered_at,
        "signed": bool(permit.signed),
        "transaction_id": permit.transaction_id,
    }


def status_of(reg: Registry, number: str, now: datetime) -> dict[str, Any]:
    """The public status of the permit numbered ``number``; ``unknown`` when the register has none."""
    permit = register.get(reg, number)
    if permit is None:
        return {"number": number.strip().upper(), "status": "unknown"}
    return public_status(permit, now)


# --- verifying a file ----------------------------------------------------------------------
def verify_file(cfg: Config, reg: Registry, data: bytes, password: str | None, now: datetime) -> dict[str, Any]:
    """Check a permit file: the register (by the file's hash, or by the number
    inside), the keyed hash, the content the QR covers (version 2: the content
    in the file hashes to the QR's, which is the one the register issued), and
    the signature when there is one."""
    result: dict[str, Any] = {"register": None, "hash_ok": None, "content_ok": None, "signature": None, "status": "unknown"}
    known = register.by_file(reg, hashlib.sha256(data).hexdigest())
    result["file_matches_register"] = known is not None
    inside, content = None, None
    if password is not None:
        import pikepdf

        try:
            with pikepdf.open(io.BytesIO(data), password=password) as pdf:
                inside = str(pdf.docinfo.get("/MailintakePermit", ""))
                content = str(pdf.docinfo.get("/MailintakeContent", "")) or None
        except pikepdf.PasswordError:
            raise PermitError("wrong password for this file") from None
        except pikepdf.PdfError as exc:
            raise PermitError(f"not a readable PDF: {exc}") from None
    parsed = parse_qr(inside) if inside else None
    number = parsed.number if parsed else (known.number if known else None)
    if number is None:
        result["reason"] = "the file is not in the register; give --password to read the permit number inside"
        return result
    state = status_of(reg, number, now)
    result.update({"number": number, "status": state["status"], "register": state})
    if parsed is not None and state["status"] != "unknown":
        _check_codes(cfg, reg, parsed, content, state, result)
    if password is not None:
        if document.signing_installed():
            result["signature"] = _signature_status(cfg, data, password)
        elif document.is_signed(data, password):
            raise PermitError("this file is signed: checking its signature needs pip install 'mailintake[sign]'")
    return result


def _check_codes(
    cfg: Config, reg: Registry, qr: QrData, content: str | None, state: dict[str, Any], result: dict[str, Any]
) -> None:
    """The QR's keyed hash and, for a version 2 QR, the content it covers."""
    result["qr_version"] = qr.version
    if qr.version == 1 or qr.content_sha256 is None:
        result["hash_ok"] = hmac.compare_digest(qr.digest, qr_hash_v1(cfg, qr.number, state["valid_until"]))
        return
    result["hash_ok"] = hmac.compare_digest(qr.digest, qr_hash(cfg, qr.number, qr.content_sha256))
    issued = register.get(reg, qr.number)
    try:
        fields = json.loads(content) if content else None
    except ValueError:
        fields = None
    result["content"] = fields
    result["content_ok"] = (
        isinstance(fields, dict)
        and hmac.compare_digest(content_hash(fields), qr.content_sha256)
        and issued is not None
        and issued.content_sha256 == qr.content_sha256
    )


def verdict(result: dict[str, Any]) -> tuple[str, bool]:
    """The one-line summary of a ``verify_file`` result that ``permit verify``
    prints, and whether the file passed: a valid permit, the keyed hash not
    wrong, and a signature (when there is one) intact, valid and the agency's."""
    sig = result["signature"]
    line = (
        f"permit {result.get('number') or '?'}: {result['status']}; file in register: "
        f"{'yes' if result['file_matches_register'] else 'no'}; keyed hash: "
        f"{'-' if result['hash_ok'] is None else ('ok' if result['hash_ok'] else 'WRONG')}; content: "
        f"{'-' if result.get('content_ok') is None else ('as issued' if result['content_ok'] else 'ALTERED')}; signature: "
        + (
            "none"
            if not sig
            else (
                "valid, by the agency's certificate"
                if sig["valid"] and sig["intact"] and sig["trusted"]
                else ("valid, but not by the agency's certificate" if sig["intact"] else "BROKEN")
            )
        )
    )
    sig_bad = sig is not None and not (sig["intact"] and sig["valid"] and sig["trusted"])
    passed = not (result["status"] != "valid" or result["hash_ok"] is False or result.get("content_ok") is False or sig_bad)
    return line, passed


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

        own = signers.SimpleSigner.load_pkcs12(
            str(cfg.permits.sign_pkcs12), passphrase=cfg.permits.sign_password.encode() or None
        )
        if own is not None and own.signing_cert is not None:
            roots.append(own.signing_cert)
    sig = reader.embedded_signatures[0]
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=roots, allow_fetching=False))
    return {
        "intact": bool(status.intact),
        "valid": bool(status.valid),
        "trusted": bool(status.trusted),
        "coverage": status.coverage.name if status.coverage else None,
        "signer": sig.signer_cert.subject.human_friendly,
    }


# --- the published register ----------------------------------------------------------------
def publish(reg: Registry, out: Path, now: datetime, agency: Agency) -> list[Path]:
    """A static bilingual register for the agency's website: number, service,
    dates and status as they stood at ``now``; the holder's name only masked."""
    rows = [public_status(p, now) for p in register.list_permits(reg, as_of=now)]
    public = [
        {k: r[k] for k in ("number", "service", "status", "issued_at", "valid_from", "valid_until", "holder")} for r in rows
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "permits.json").write_text(
        json.dumps({"agency": agency.name_en, "generated_at": to_iso(now), "permits": public}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    body = "\n".join(
        f"<tr><td>{escape(p['number'])}</td><td>{escape(p['service'])}</td><td>{escape(p['holder'])}</td>"
        f"<td>{escape(p['issued_at'][:10])}</td><td>{escape(p['valid_until'][:10])}</td><td>{escape(p['status'])}</td></tr>"
        for p in public
    )
    html = f"""<!DOCTYPE html>
<html lang="th"><head><meta charset="utf-8"><title>ทะเบียนใบอนุญาต / Permit register - {escape(agency.name_en)}</title></head>
<body style="font-family: Sarabun, Tahoma, sans-serif">
<h1>ทะเบียนใบอนุญาต {escape(agency.name_th)}</h1>
<h2>Permit register, {escape(agency.name_en)}</h2>
<p>ข้อมูล ณ / As of {escape(to_iso(now) or "")}. ตรวจสอบใบอนุญาตทางอีเมล: ส่งหัวเรื่อง "ตรวจสอบใบอนุญาต เลขที่" ไปที่
{escape(agency.mailbox_address)} / To verify by email, send the subject "VERIFY number" to {escape(agency.mailbox_address)}.</p>
<table border="1" cellpadding="4">
<tr><th>เลขที่ / Number</th><th>บริการ / Service</th><th>ผู้ได้รับอนุญาต / Holder</th><th>วันที่ออก / Issued</th>
<th>ใช้ได้ถึง / Valid until</th><th>สถานะ / Status</th></tr>
{body}
</table></body></html>
"""
    (out / "index.html").write_text(html, encoding="utf-8")
    # The register is public on purpose: a web server running as another user
    # serves it, whatever the private umask mailintake runs under.
    out.chmod(0o755)
    written = [out / "index.html", out / "permits.json"]
    for path in written:
        path.chmod(0o644)
    return written
