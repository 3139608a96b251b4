"""Table tests for red flags told in English or pinyin, swelling worse than before a treatment,
and no urine (docs/labels.md).

English: thoughts of self-harm, a fever read with its unit or told as now (also after a
supposition the nurse gave: "call if it goes above 38 — it's 38.6 now"), shivering, no urine,
and the symptom classes the Chinese tables know.  Pinyin wound signs.  Swelling or pain worse
than before the operation, also when asked whether it is normal.  No urine however it is
told.  Each class has look-alikes that must stay no red flag: medicine stopped with nothing
else, ending a membership, a fever that ended or was denied, what to do if a fever comes, a
number that is a price or a wait.  The rules alone and the whole parser are both checked,
with decorations, and the tables end to end through ``survey-bot parse --jsonl``.
"""

from __future__ import annotations

import pytest

from tests.redflag_tables import RULES, WHOLE, table_tests

NOT_RED_FLAG = [
    # English: medicine stopped, a membership ended, nothing worrying
    "I stopped the meds",
    "I stopped the meds last week, feeling fine now",
    "I'd like to end my membership please",
    "thinking about ending my subscription, too many messages",
    # English: a fever that ended, denied, or supposed
    "my fever ended yesterday",
    "the fever went away after one day, all good",
    "no fever",
    "no fever, no bleeding, thanks",
    "what should I do if a fever comes?",
    "if she gets a fever above 38 should we come in?",
    # English: numbers that are not temperatures
    "it's 39 yuan for the follow-up?",
    "the wait was 38 minutes",
    # pinyin: denied
    "mei you fa shao",
    "bu fa shao le, xie xie",
    # swelling getting smaller, normal asked about nothing worse
    "肿比之前还小了",
    "做完之后比之前好多了，不疼了",
    # urine: fine, or a look-alike
    "一点尿频都没有了",
    "尿一点都不疼了",
    "小便正常",
    # a vague sign asked about as normal stays mild
    "5分，就是出院以后特别乏，浑身没劲儿，这正常不？",
]

STILL_RED_FLAG = [
    # English: thoughts of self-harm
    "I stopped taking my pills and now I keep thinking about ending it",
    "I don't want to be here anymore",
    "sometimes I want to kill myself",
    "there's no point living like this",
    "I've been thinking of hurting myself",
    # English: a fever with its unit or told as now, shivering
    "it's 38.6 now and I'm shivering",
    "the nurse said to call if my temp went above 38 - it's 38.9 now",
    "temp 39 since last night",
    "fever of 102F and chills",
    "39.2°C this morning",
    "I'm shivering and can't get warm",
    # English: the symptom classes the Chinese tables know
    "the bleeding won't stop",
    "I can't breathe properly",
    "chest pain since this morning",
    "she fainted in the bathroom",
    "there's pus coming out of the wound",
    "the swelling is getting worse every day",
    "no urine since this morning",
    "he hasn't peed all day and his belly is swollen",
    # pinyin wound signs
    "dao kou hong zhong de li hai",
    "shang kou liu nong le",
    "hai you nong",
    "fa shao 39 du",
    "ba ya de di fang chu xue",
    # swelling or pain worse than before the operation, asked whether it is normal
    "做完疝气这两天下面肿得比做之前还大，一碰就疼，正常不正常啊",
    "刀口肿得比昨天还厉害",
    "伤口越来越肿，正常不正常",
    "疼得比手术前更厉害了，这正常吗",
    # no urine
    "老爷子从早上到现在一泡尿都没有 肚子胀",
    "从昨天下午到现在一点尿都没有",
    "一滴尿都没有",
    "憋得难受就是尿不出来",
]

(test_not_a_red_flag, test_still_a_red_flag, test_decorations_keep_them,
 test_end_to_end_through_the_cli) = table_tests(NOT_RED_FLAG, STILL_RED_FLAG)


@pytest.mark.parametrize("suffix", [" thanks", " 🙏", ". Please help.", " 5/5", " sorry to bother"])
@pytest.mark.parametrize("text", [t for t in STILL_RED_FLAG if t.isascii() or "°" in t])
def test_english_decorations_keep_them(suffix: str, text: str) -> None:
    """Politeness, emoji and a rating written in English do not take an English sign away."""
    assert RULES.parse(text + suffix).red_flag, text + suffix
    assert WHOLE.parse(text + suffix).red_flag, text + suffix
