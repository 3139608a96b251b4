"""Decorated copies of labelled replies, for training the model only.

People wrap what they say in things that change nothing of it: a greeting, a score, "is that
normal?", thanks.  Trained on the replies alone, the model learnt those wrappings as evidence:
a red flag it read at p 0.86 ("咳嗽咳出血丝") fell to p 0.002 once put in "在吗？… 5分，需要去
医院吗？，谢谢", because the sets hold more questions about care and more scores beside
replies that are no warning.  A copy of every reply with some wrappings, its labels changed
only where the wrapping says so (a score added where there was none, a question), teaches the
model that the wrapping is neutral.  The copies count in no threshold's figures.

The wrappings are this module's own, written apart from the safety property tests' lists so
that those tests still measure something the training did not see.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

Row = dict[str, Any]

GREETINGS = ("医生好，", "你好 ", "李护士，", "老师您好，", "在不在", "打扰一下，", "hello，",
             "家属代回：", "大夫，", "您好！", "早上好，", "主任好 ")
# (suffix, score it gives): a score is added only where the reply has none, and only a good
# one where it is no complaint (a mild remark beside a good score is no complaint, docs/labels.md)
SCORES = (("，给5分", 5), (" 4分", 4), ("。评分3", 3), ("，五星", 5), ("（5分）", 5),
          (" 打四分", 4), ("，满分", 5), (" ⭐⭐⭐⭐", 4), ("，5星", 5))
LOW_SCORES = (("，1分", 1), (" 2分", 2), ("。给个一星", 1))
QUESTIONS = ("，要紧不？", "，正常吗", "，怎么处理好", "？", "，需要复查吗？", "，咋整啊")
THANKS = ("，多谢", "，辛苦了", "🙏🙏", "～", "，谢谢你们", "!", "😊")


def decorated(rows: Sequence[Row], seed: int) -> list[Row]:
    """One decorated copy of each row of ``rows`` (one to four wrappings at once), its
    labels kept true (seeded)."""
    rng = random.Random(seed)
    out: list[Row] = []
    for r in rows:
        new = dict(r)
        kinds = rng.sample(("greeting", "score", "question", "thanks"), rng.randint(1, 4))
        head, tails = "", []
        for kind in kinds:
            if kind == "greeting":
                head = rng.choice(GREETINGS)
            elif kind == "score" and r["score"] is None and not r["opt_out"]:
                suffix, score = rng.choice(LOW_SCORES if r["complaint"] else SCORES)
                tails.append(suffix)
                new["score"] = score
            elif kind == "question" and not r["opt_out"]:
                tails.append(rng.choice(QUESTIONS))
                new["question"] = True
            elif kind == "thanks":
                tails.append(rng.choice(THANKS))
        new["text"] = head + str(r["text"]) + "".join(tails)
        out.append(new)
    return out
