"""A conversation with the real parser and engine, reply by reply, for the engine tests."""

from __future__ import annotations

from typing import Any

from bot.config import TextsConfig
from surveys import engine
from surveys.definition import default_surveys
from surveys.parser import parse

SURVEY = default_surveys()["general"]
TEXTS = TextsConfig().model_dump()
CTX = engine.Context(values={"contact_name": "张三", "org_name": "示例医院", "department": "口腔科",
                             "org_phone": "110", "visit_date": "11月20日"})
# A stop said unsurely: the engine asks before it stops.
UNSURE_STOP = "一直发一直发，手机都被你们轰炸了，求放过"


def talk(*replies: str, status: str = "asking") -> list[engine.Step]:
    """Feed the replies in turn, starting at the first (score) question."""
    state: dict[str, Any] = {"survey": "general", "index": 0, "answers": {}, "failed": 0,
                             "confirm": None, "status": status}
    steps = []
    for text in replies:
        step = engine.reply(SURVEY, TEXTS, CTX, state, parse(text), text)
        steps.append(step)
        state = step.state
    return steps
