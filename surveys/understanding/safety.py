"""Safety: what the rules hold exact about red flags, shared by the rules and the model.

A resolution said not to have happened ("没止住", "还没消下去", "一点没好转", "烧到现在也没
退", "止不住", "退不下去", "流个不停") is no resolution: the symptom goes on, which is itself
the warning.  The rules read it so (``surveys.parser``), and the learned model may never
clear a red flag in a reply that says it (``surveys.understanding.decide``).
"""

from __future__ import annotations

import re
from typing import Final

NEG_RESOLUTION_RE: Final = re.compile(
    r"(?:没有?|未|还没有?|一直没有?|也没有?|都没有?|并没有?|一点没|一点都没|一点也没|丝毫没|毫无"
    r"|不见|无法|不)[^,，。!?；;]{0,2}?(?:止住|止血|止|退|消|好转|缓解|减轻|好|停|降|改善|恢复"
    r"|下去|见好|变小|收口|愈合)"
    r"|(?:止|退|消|降|压|好|停|下|收)不(?:住|下|了|去|来)")


def resolution_negated(norm: str, start: int = 0, end: int | None = None) -> bool:
    """Whether ``norm[start:end]`` says a resolution has not happened."""
    return NEG_RESOLUTION_RE.search(norm, start, len(norm) if end is None else end) is not None
