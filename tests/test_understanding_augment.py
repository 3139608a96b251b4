"""The decorated copies the model trains on keep every label true (surveys.understanding.augment).

A copy changes only what its wrapping says: a score where the reply had none (a low one
beside a complaint), a question when a question is appended; an opt-out gets neither (its
stop must stay the point of the reply); red flags, complaints and disputes never change.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.understanding.augment import LOW_SCORES, QUESTIONS, SCORES, decorated

ROWS = st.fixed_dictionaries({
    "text": st.text(alphabet="伤口疼发烧退订满意等了很久谢谢医生 5", min_size=1, max_size=12),
    "score": st.one_of(st.none(), st.integers(1, 5)),
    "opt_out": st.booleans(), "complaint": st.booleans(), "dispute": st.booleans(),
    "red_flag": st.booleans(), "question": st.booleans()})


@settings(max_examples=300, deadline=None)
@given(st.lists(ROWS, min_size=1, max_size=20), st.integers(0, 10_000))
def test_a_copy_keeps_every_label_its_wrapping_does_not_change(rows: list[dict[str, object]],
                                                               seed: int) -> None:
    copies = decorated(rows, seed)
    assert len(copies) == len(rows)
    for r, c in zip(rows, copies, strict=True):
        assert str(r["text"]) in str(c["text"])
        for label in ("opt_out", "complaint", "dispute", "red_flag"):
            assert c[label] == r[label]
        if r["score"] is not None or r["opt_out"]:
            assert c["score"] == r["score"]
        elif c["score"] is not None:
            pool = LOW_SCORES if r["complaint"] else SCORES
            assert any(str(c["text"]).find(s) >= 0 and v == c["score"] for s, v in pool)
            assert not r["complaint"] or c["score"] <= 2
        if r["opt_out"]:
            assert c["question"] == r["question"]
        elif c["question"] != r["question"]:
            assert c["question"] and any(q in str(c["text"]) for q in QUESTIONS)


def test_the_copies_are_seeded() -> None:
    rows = [{"text": "伤口一直流血", "score": None, "opt_out": False, "complaint": False,
             "dispute": False, "red_flag": True, "question": False}] * 50
    assert decorated(rows, 7) == decorated(rows, 7)
    assert decorated(rows, 7) != decorated(rows, 8)
    assert {c["text"] for c in decorated(rows, 7)} != {"伤口一直流血"}
