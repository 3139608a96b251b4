"""Table tests: words and reports that look like a sign now and are not, and their look-alikes.

docs/labels.md: a red flag is the patient's worrying sign *now*.  Not one: a sign said to be
over ("发烧刚退", "血就止了", "当天就下来了", "黄疸已经降到8点几了"); a relative who *also* has
it or should *also* come to be seen; a halo round lights after eye surgery (光晕) and 白内障
misheard by voice input (白内胀); 不得了 after praise ("喜欢得不得了": extremely); blocking a
number (拉黑); the emergency department in a story about the service; a curtain not drawn
for privacy (连个帘子都不拉); a small sign asked about as
expected ("一小块红红的，不疼不痒，要紧吗", "有点哑，这个多久能好"...).  Their look-alikes
stay red flags, with politeness, emoji and a trailing score.
"""

from __future__ import annotations

from tests.redflag_tables import RULES, table_tests

NOT_RED_FLAG = [
    # over
    "发烧刚退 下周能打疫苗吗",
    "纱布咬了一个小时血就止了",
    "38度5 吃了药当天就下来了",
    "宝宝黄疸已经降到8点几了 医生说不用再照蓝光了",
    # someone else
    "我妹妹前几天也发烧了，是感冒",
    "我老伴最近眼睛疼得厉害，看东西也模糊，能不能也来你们这看看？",
    # other words
    "还行吧，晚上看路灯有光晕，医生说几个月会适应的",
    "白内胀手术后第三天，眼睛还有点蒙蒙的，是正常的吗",
    "娃娃喜欢得不得了，天天在屋头跳",
    "别再打了！！一天三个电话 我要拉黑了",
    "当着一屋子人，连个帘子都不拉，老人家自尊心很受伤",
    # small, asked about as expected
    "术后眼白上有一小块红红的，不疼不痒，要紧吗",
    # the emergency department in a story about the service
    "急诊把我妈晾在走廊6个小时，看你们怎么解释",
    "手术那天等了挺久的，不过也理解前面有急诊",
    "在你们那看过一次急诊 以后也不会再去了",
]

STILL_RED_FLAG = [
    # not over
    "发烧一直没退 39度",
    "血到现在也没止住",
    "烧退了又烧起来了，39度5",
    "黄疸越来越黄，宝宝不吃奶",
    # the patient, not a relative who also has it
    "我妹妹做完手术现在一直发烧39度",
    "我老伴眼睛疼得厉害，看东西也模糊",
    # the real signs beside the look-alike words
    "看路灯有光晕，今天突然头晕得站不住",
    "白内障手术后眼睛疼得厉害，看不清东西",
    "孩子疼得不得了，一直哭",
    "拉的大便是黑的，像柏油一样",
    "眼前像拉了个帘子挡住了一块",
    # big, or asked with a severe word
    "眼白上一大片红，越来越红，疼得厉害，要紧吗",
    # on the way to the emergency department now
    "我爸回家就大出血 现在在急诊",
]

(test_not_a_red_flag, test_still_a_red_flag, test_decorations_keep_them,
 test_end_to_end_through_the_cli) = table_tests(NOT_RED_FLAG, STILL_RED_FLAG)


def test_the_exclusions_leave_evidence() -> None:
    """Each exclusion is recorded, so staff can see why a sign was not escalated."""
    notes = {e.note for t in NOT_RED_FLAG for e in RULES.parse(t).evidence
             if e.rule == "red_flag_denied"}
    for note in ("about someone else", "another word", "resolved or improving"):
        assert note in notes, note
