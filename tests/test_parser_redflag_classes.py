"""Table tests for classes of red flag and rating that were read wrong (docs/labels.md).

Red flags: a low-grade fever not said to go on, a minor sign asked about as normal, a fever
back to a normal temperature, someone else's symptom (a room-mate, the patient's sibling, a
companion who "is not the patient"), praise of the staff before the patient's own sign, and
the signs of an eye after surgery (sight lost or blurred, flashes, a dark shadow), a child
(drowsy, not feeding, fitting, breathing fast), an elderly patient and a wound.  Every
exclusion has look-alikes beside it that must stay red flags.  Ratings: dialect and slang
words, litotes, English lukewarm ratings and a smirk of sarcasm beside a grievance.  The rules
alone and the whole parser are both checked, and one table end to end through
``survey-bot parse --jsonl``.
"""

from __future__ import annotations

import pytest

from tests.redflag_tables import RULES, WHOLE, table_tests

NOT_RED_FLAG = [
    # a low-grade fever, not said to go on
    "4 疫苗打完有点低烧37.6 正常吗",
    "低烧37.5要吃退烧药吗？医生说38.5以上才吃",
    "打完针有点低热，37度4，要紧吗",
    # a minor sign asked about as normal, nothing severe beside it
    "满意！术后第7天有点口臭，正常吗",
    "5分，胆囊切了以后吃点油的就拉肚子，这个正常吗",
    "牙套戴着有点胀，这个正常吧",
    # a fever back to normal
    "4分。昨晚烧到39.5，今早退到37.2了，药挺管用",
    "孩子昨天烧到39度，吃了药退到36.8了",
    # someone else's
    "5分 我们屋那个阿姨回家就发烧了 又回去住了 我妈倒是啥事没有",
    "我老伴儿腰疼得直不起来 他不是病人 是陪护累的 病人挺好",
]

STILL_RED_FLAG = [
    # a low-grade fever that goes on, or a high one asked about
    "第3天了，还是37度8，低烧不退",
    "医生不错给4分，但是我现在还在发低烧",
    "一直低烧好几天了，正常吗",
    "发烧38.5，正常吗",
    # a sign asked about, but severe, worse or of blood
    "好像比昨天还疼，这个要紧吗",
    "伤口一直疼，疼得睡不着，正常吗",
    "做完手术以后尿是红的，跟洗肉水一个颜色，这正常吗",
    "拔牙的地方一直出血，正常吗",
    # a fever that went down and not to normal
    "烧到39.5，吃了药退到38.6",
    # the patient's own: "我家那个老头", "那个病人" told of oneself
    "我家那个老头今天开始发烧咳黄痰喘的厉害",
    "我是昨天拔牙的那个病人，到现在还在流血，流了一晚上了",
    # praise of the staff, then the patient's own sign
    "医生都很好 5分 但是今天早上起来右眼突然看不清了 像蒙了一层黑布",
    "护士很好，不过我现在伤口一直在渗血",
    # the eye: sight, flashes, shadow
    "上次说的闪光 一直没消失 今天更多了 还多了个黑影",
    "閃光+黑影 今天越來越多 要馬上去醫院嗎",
    "我爸术后眼睛一直疼 你们说正常 现在看不见了",
    "做完手术视力一下子下降了很多",
    "眼睛红肿流脓，怕光睁不开",
    "my vision is blurry since this morning and I see flashes",
    # a child
    "宝宝今天一直嗜睡，奶都不吃",
    "孩子刚才抽搐了一次，现在呼吸很急",
    "baby is floppy and lethargic",
    # the elderly
    "我妈今天喘不上气，说话也上气不接下气",
    "老爷子有点神志不清，不认人了",
    # a wound
    "刀口化脓了，还在渗液",
    "伤口周围溃烂了",
]

(test_not_a_red_flag, test_still_a_red_flag, test_decorations_keep_them,
 test_end_to_end_through_the_cli) = table_tests(NOT_RED_FLAG, STILL_RED_FLAG)


RATINGS = [
    ("交关满意", 5), ("有够满意", 5), ("贼好", 5), ("杠杠的", 5),
    ("不差", 4), ("挺好的没毛病", 4), ("8/10", 4), ("靠谱", 4),
    ("还中", 3), ("勉勉强强", 3), ("说不上满意也说不上不满意", 3), ("fine i guess", 3),
    ("still ok", 3), ("meh", 3), ("6/10", 3),
    ("拉胯", 2), ("稀烂", 1), ("not satisfied at all", 1),
    # a smirk beside a grievance
    ("真是太满意了呢🙂 预约9点 11点半才叫到号", 1),
    ("太棒了呢🙂 一学期换四个老师", 1),
    ("呵呵满意满意太满意了饭是冷的药是错的", 1),
]


@pytest.mark.parametrize(("text", "score"), RATINGS)
def test_ratings(text: str, score: int) -> None:
    assert RULES.parse(text).score == score, text
    assert WHOLE.parse(text).score == score, text


@pytest.mark.parametrize("text", ["满意呢", "非常满意🙂", "太满意了，谢谢医生"])
def test_plain_praise_is_no_sarcasm(text: str) -> None:
    assert WHOLE.parse(text).score in (4, 5), text
