"""Masking of names and phone numbers for staff screens and logs."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[^0-9]")  # ASCII: "\D" would keep "٣" or "²" as digits
# Full-width digits (typed with a Chinese input method) are the ASCII ones.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def mask_name(name: str | None) -> str:
    """"张三" → "张*", "欧阳娜娜" → "欧***", "Li Lei" → "L*****"."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str | None) -> str:
    """"13800001111" → "138****1111"; short numbers keep only the last two digits."""
    if not phone:
        return ""
    digits = _DIGITS.sub("", phone)
    if len(digits) >= 11:
        digits = digits[-11:]
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) > 2:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * len(digits)


def normalise_phone(raw: str) -> str | None:
    """Mainland numbers to 11 digits (drops +86 / 0086 / spaces / dashes); None if not a number."""
    digits = _DIGITS.sub("", (raw or "").translate(_FULL_WIDTH))
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if re.fullmatch(r"1[3-9][0-9]{9}", digits):
        return digits
    if re.fullmatch(r"0[0-9]{9,11}", digits):  # landline with area code
        return digits
    return None
