"""Fields of what Aliyun pushes to us (SMS receipts and replies, voice receipts): each one
bounded text, ids in ASCII digits, times in China time. A bad field is a ValueError saying which.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

CHINA: Final = ZoneInfo("Asia/Shanghai")  # Aliyun's times are China time
ASCII_DIGITS: Final = re.compile(r"[0-9]{1,18}")
# Controls other than tab and newline, and surrogates: no database stores them as text.
UNSTORABLE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def field_text(item: Mapping[str, Any], key: str, limits: Mapping[str, int]) -> str:
    """A pushed field as bounded text (``limits[key]``, else 255 characters); numbers become
    their digits; anything else is refused."""
    v = item.get(key)
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise ValueError(f"'{key}' must be text")
    text = str(v).strip()
    limit = limits.get(key, 255)
    if len(text) > limit:
        raise ValueError(f"'{key}' is longer than {limit} characters")
    if UNSTORABLE.search(text):
        raise ValueError(f"'{key}' contains control characters or invalid Unicode")
    return text


def china_time(text: str) -> datetime | None:
    """``2026-11-16 09:00:05`` in China time (None when it is not one)."""
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError:
        return None
