"""Table tests: a sign told for another purpose than to say the patient feels it now.

docs/labels.md: a red flag is a worrying sign happening *now*.  A sign told as the
circumstance of a grievance about the service (how long they waited, that nobody helped, that
the patient was sent home, that the treatment did not work, a threat to take it further) with
nothing saying it goes on now; the patient's sibling named inside a child-sign phrase; a
member of staff rolling their eyes; death wished in jest; an instruction of what to do *if* a
sign comes; and the expected effect of a medicine are not red flags.  Every exclusion has
look-alikes that must stay red flags: the sign said to go on now, politeness, emoji and a
trailing score.  Checked on the rules alone, the whole parser and ``survey-bot parse --jsonl``.
"""

from __future__ import annotations

from tests.redflag_tables import RULES, table_tests

NOT_RED_FLAG = [
    # the circumstance of a grievance about the service, nothing said to go on now
    "在门诊等了三个小时才叫到号，我妈发着烧坐在走廊里，服务太差了",
    "排队排了两个钟头 老人家饿得头晕 一个工作人员都没有",
    "我爸在你们病房摔了一跤 半天都没人扶",
    "手术第二天就让出院，伤口还疼着呢",
    "拔了颗牙肿得老高 你们还说是我自己的问题 我要去卫健委投诉",
    "理疗做完肩膀还是疼 白花了八百块",
    # the patient's sibling named inside a child's sign
    "宝宝的姐姐昨天也开始发烧了，能约同一个医生吗",
    # a member of staff's gesture
    "挂号的那个阿姨态度很差，问一句就翻白眼",
    # death wished in jest
    "等报告等到想死哈哈哈 医生人很好",
    "不想活了😂 体检又胖了三斤",
    # an instruction of what to do if a sign comes
    "护士交代说出血多就回医院，目前都挺好的",
    "医生说烧到39度就来急诊，现在一切正常",
    # the expected effect of a medicine
    "医生说吃了补铁的药大便会发黑，现在确实有点黑，不要紧吧",
    "拔牙的地方口水里带一点点血丝，别的都挺好",
]

STILL_RED_FLAG = [
    # a grievance, and the sign goes on now
    "在门诊等了三个小时没人管，我妈现在还在发烧，39度",
    "排队排了两个钟头 老人家现在头晕得站不住",
    "我爸在你们病房摔了一跤 没人扶 今天腿肿得动不了",
    "就让出院了，到现在伤口一直在流脓",
    "根管做完一直疼，越来越厉害，我要投诉",
    "伤口感染了你们不认账 现在还在往外流脓 我要找律师",
    "等了两个小时也没人管，孩子一直吐，怎么办",
    # self-harm and breathing are never a grievance's circumstance
    "你们这态度，我真不想活了",
    "急诊等了三个小时 我爸喘不上气 没人管",
    # the patient's own child, and a sibling who is the patient
    "孩子今天发烧39度，他哥哥倒是好好的",
    "我是哥哥，我也开始发烧了，39度",
    # a child's eyes rolling up
    "宝宝刚才突然翻白眼，叫了半天才有反应",
    # death wished seriously
    "最近总是想死，药都攒起来了",
    "我儿子说想死，哈哈不是开玩笑的，他真的这样说",
    # a sign now, not an instruction
    "医生说是伤口感染了，现在还在发烧",
    "烧到39度了，要不要回医院",
    # black stool with no medicine to explain it, blood in saliva that goes on
    "大便发黑，像柏油一样",
    "口水里一直有血丝，越来越多",
]

(test_not_a_red_flag, test_still_a_red_flag, test_decorations_keep_them,
 test_end_to_end_through_the_cli) = table_tests(NOT_RED_FLAG, STILL_RED_FLAG)


def test_the_exclusions_leave_evidence() -> None:
    """Each exclusion is recorded, so staff can see why a sign was not escalated."""
    notes = {e.note for t in NOT_RED_FLAG for e in RULES.parse(t).evidence
             if e.rule == "red_flag_denied"}
    for note in ("told as a grievance's circumstance", "about someone else",
                 "a gesture of the staff", "said in jest",
                 "the expected effect of a medicine"):
        assert note in notes, note
