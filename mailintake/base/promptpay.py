"""PromptPay QR (Thai QR Payment, EMVCo merchant-presented mode) with an amount.

The payload is a list of tag-length-value fields ending in a CRC-16/CCITT-FALSE
checksum; banking apps read the PromptPay ID (phone, national or tax ID, or
e-wallet) and the amount from it; ``permits.codes.qr_png`` draws the image.
This module imports nothing of the project: the config checks a PromptPay ID with ``target``.
"""

from __future__ import annotations

import re

AID = "A000000677010111"  # PromptPay merchant-presented application ID


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as EMVCo specifies."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def target(promptpay_id: str) -> tuple[str, str]:
    """(sub-tag, value) for a PromptPay ID: a mobile number, a 13-digit national
    or tax ID, or a 15-digit e-wallet ID."""
    digits = re.sub(r"\D", "", promptpay_id)
    if len(digits) == 10 and digits.startswith("0"):
        return "01", "0066" + digits[1:]
    if len(digits) == 13:
        return "02", digits
    if len(digits) == 15:
        return "03", digits
    raise ValueError(f"not a PromptPay ID (mobile number, 13-digit ID or 15-digit e-wallet): {promptpay_id!r}")


def payload(promptpay_id: str, amount: float | None = None) -> str:
    sub, value = target(promptpay_id)
    fields = [
        _tlv("00", "01"),
        _tlv("01", "12" if amount else "11"),  # 12: one-time (with amount), 11: reusable
        _tlv("29", _tlv("00", AID) + _tlv(sub, value)),
        _tlv("53", "764"),  # Thai baht
    ]
    if amount:
        fields.append(_tlv("54", f"{amount:.2f}"))
    fields.append(_tlv("58", "TH"))
    body = "".join(fields) + "6304"
    return body + f"{crc16(body.encode('ascii')):04X}"
