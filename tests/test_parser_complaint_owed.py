"""Table tests: money owed back to the person, slow or not yet returned, is a complaint.

docs/labels.md: a complaint is something specific that went wrong, a refund among them.  A
deposit, a refund or fees to be paid back that come slowly, late or not at all ("押金退得特别
慢", "退款到现在还没到账", "迟迟不退押金") are a complaint, on the rules alone and whatever the
learned model says (it once cleared the short ones).  Look-alikes that must not be: money
already back ("押金已经退了，很快"), a plain question about when ("退款什么时候到？"), 退订 (a
stop, no money), slowness denied ("退得不慢") or money said to be back now.  Checked on the
rules alone, the whole parser, a model that says "no complaint" to everything, and
``survey-bot parse --jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from surveys.parser import ReplyParser
from surveys.understanding.decide import combine
from surveys.understanding.model import FLAGS
from tests.redflag_tables import parse_through_cli

RULES = ReplyParser(recall=False)
WHOLE = ReplyParser()

OWED = [
    "押金退得特别慢",
    "押金退得太慢了",
    "退款好慢啊",
    "退款到现在还没到账",
    "住院押金退了一个礼拜还没到账",
    "退费申请交上去一个月了还没退",
    "迟迟不退押金",
    "拖着不给退费",
    "退费各种推脱",
    "保证金一直没退回来",
    "退的钱到现在都没收到",
    "the refund is still not back",
    "deposit refund is so slow",
    # beside a score, a question or praise
    "4分，就是押金退得特别慢",
    "医生很好，押金退得太慢",
    "退款都一个月了还没到，怎么回事？",
]

# no complaint on the rules alone either
NOT_A_COMPLAINT = [
    "押金已经退了，很快",
    "退款什么时候到？",
    "押金什么时候退啊",
    "押金啥时候能退 要带啥单子",
    "退订",
    "回复TD退订",
    "押金退得不慢",
    "押金退得不太慢，谢谢",
    "不是说押金退得慢，就是想问一下流程",
    "refund came through quickly",
    "5分 押金当天就退了",
    "退款进度能帮我查一下吗",
    # solved and said so
    "上次退款的事已经处理好了，谢谢你们",
    "退款到账了，之前的不愉快就算了 4分",
]
# no money owed late (the whole parser reads no complaint; the rules' bare 退款 still counts)
NOT_OWED = [
    *NOT_A_COMPLAINT,
    "退款慢慢来，不着急",
    "之前退款很慢，现在已经到账了",
]


@pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
@pytest.mark.parametrize("text", OWED)
def test_money_owed_back_late_is_a_complaint(parser: ReplyParser, text: str) -> None:
    assert parser.parse(text).complaint, text


@pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
@pytest.mark.parametrize("text", NOT_A_COMPLAINT)
def test_look_alikes_are_no_complaint(parser: ReplyParser, text: str) -> None:
    assert not parser.parse(text).complaint, text


@pytest.mark.parametrize("text", NOT_OWED)
def test_the_whole_parser_reads_no_complaint(text: str) -> None:
    assert not WHOLE.parse(text).complaint, text


class _SaysNoComplaint:
    """A model that gives every flag and every score probability 0 (a stand-in Scorer)."""

    def __init__(self) -> None:
        self.thresholds = {"complaint": 0.3}

    def outputs(self, norm: str, features: Iterable[str], score: bool = True
                ) -> tuple[list[float], list[float] | None]:
        return [0.0] * len(FLAGS), None


@pytest.mark.parametrize("text", OWED)
def test_the_model_never_clears_it(text: str) -> None:
    """Whatever the learned tier says, the rules' money-owed complaint stands."""
    interp = RULES.parse(text)
    assert combine(interp, _SaysNoComplaint(), interp.normalized).complaint, text


@pytest.mark.parametrize("text", NOT_OWED)
def test_look_alikes_leave_no_owed_evidence(text: str) -> None:
    assert "complaint_owed" not in {e.rule for e in RULES.parse(text).evidence}, text


def test_end_to_end_through_the_cli() -> None:
    """``survey-bot parse --jsonl`` gives the labels the table promises."""
    cases = [(t, True) for t in OWED] + [(t, False) for t in NOT_OWED]
    rows = parse_through_cli([t for t, _ in cases])
    assert [r["complaint"] for r in rows] == [want for _, want in cases]
