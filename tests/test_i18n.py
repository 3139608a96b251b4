"""Staff-facing wording: escalation reasons read in the page's language."""

from __future__ import annotations

import pytest

from handlers.i18n import reason_text


@pytest.mark.parametrize(("reason", "lang", "expected"), [
    ("complaint words in the reply; overall=2", "zh", "回复中有投诉内容；overall 评2分"),
    ("complaint words in the reply; overall=2", "en", "complaint words in the reply; overall=2"),
    ("reported a worrying symptom", "zh", "描述了令人担心的症状"),
    ("no usable answer after 3 attempts", "zh", "连续3次无法识别回复"),
    ("something new", "zh", "something new"),
    ("", "zh", ""),
])
def test_reason_text(reason: str, lang: str, expected: str) -> None:
    assert reason_text(reason, lang) == expected
