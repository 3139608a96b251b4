"""Table tests: ways of saying stop the rules missed, and look-alikes that are no stop.

docs/labels.md: an opt-out is a request to stop these messages or calls, a wrong number or
not the person.  A stop already sent with the messages still coming ("回T了怎么还发", "我回了
三次TD了还在发") is the stop said again, however it is asked; the number not the patient's
or nobody there a patient is a wrong number; "退退退" is a stop.  Not a stop: what a stop
would do asked about ("退订了还会收到复查提醒吗"), a medicine handed out wrongly ("药发错了",
"发错药"), the sender's own slip ("发错了 不好意思").  Checked on the rules alone, the whole
parser (an unsure opt-out counts: the engine asks) and ``survey-bot parse --jsonl``.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser
from tests.redflag_tables import parse_through_cli

RULES = ReplyParser(recall=False)
WHOLE = ReplyParser()

OPT_OUT = [
    "回T了怎么还发？？？不是说回T退订吗",
    "我回了三次TD了还在发，你们的退订是摆设吗？",
    "我之前不是回过TD了吗？怎么还能收到，是系统问题吗",
    "已经退订了为什么还发",
    "退退退！",
    "這個號碼不是病人本人的，麻煩刪除",
    "这个号码是公司的，我们没有人在你们医院看病",
]

NOT_OPT_OUT = [
    "退订了还会收到复查提醒吗？我还想收复查提醒的",
    "怎么退订？",
    "回T是退订吗",
    "就给1分吧 护士把我妈的药发错了",
    "药房发错药了，幸好我自己看了一眼",
    "发错了 不好意思 这条不是发给你们的",
    "回了短信怎么还没人联系我",
]


def _stops(parser: ReplyParser, text: str) -> bool:
    r = parser.parse(text)
    return bool(r.opt_out or r.opt_out_unsure)


@pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
@pytest.mark.parametrize("text", OPT_OUT)
def test_opt_out(parser: ReplyParser, text: str) -> None:
    assert _stops(parser, text), text


@pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
@pytest.mark.parametrize("text", NOT_OPT_OUT)
def test_not_an_opt_out(parser: ReplyParser, text: str) -> None:
    assert not _stops(parser, text), text


@pytest.mark.parametrize("extra", ["", " 5分", "，谢谢", "😠", "3分 "])
@pytest.mark.parametrize("text", OPT_OUT)
def test_a_score_or_politeness_keeps_the_stop(extra: str, text: str) -> None:
    assert RULES.parse(text + extra).opt_out, text + extra
    assert RULES.parse(extra + text).opt_out, extra + text


def test_the_stop_said_again_leaves_evidence() -> None:
    notes = {e.note for e in RULES.parse(OPT_OUT[0]).evidence if e.rule == "opt_out"}
    assert "a stop already sent, and the messages go on" in notes


def test_end_to_end_through_the_cli() -> None:
    """``survey-bot parse --jsonl`` gives the opt-outs the table promises."""
    cases = [(t, True) for t in OPT_OUT] + [(t, False) for t in NOT_OPT_OUT]
    rows = parse_through_cli([t for t, _ in cases])
    assert [bool(r["opt_out"] or r.get("opt_out_unsure")) for r in rows] == \
        [want for _, want in cases]
