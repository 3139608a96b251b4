"""Table tests for the safety labels' generalising rules (surveys.parser, pure).

Red flags told by implication: a body part + a change in one clause ("半边脸没知觉"), a sudden
onset ("突然看不见了"), signs alarming on their own (confusion, falls, self-harm, overdose);
and what keeps them precise: denial inside the composition, resolution, jokes, the past,
long-standing conditions, a staff member as the subject.  Opt-outs include wrong numbers and
deaths (never message the contact again) and English refusals.
"""

from __future__ import annotations

import pytest

from surveys.parser import Lexicon, ReplyParser, parse


@pytest.mark.parametrize(
    "text",
    [
        "我妈半边脸没知觉了", "走路腿发软，扶着墙才站得住", "拔牙那侧的脸鼓得老高",
        "右眼突然看不见了", "我爸左边的手拿不住筷子了", "嘴唇到现在还没知觉，已经两天了",
        "老公嘴角流口水，话都说不利索", "手指头又白又凉没感觉", "整个人软绵绵的，没一点力气",
        "眼睛红得厉害，看不见东西", "宝宝哭声很弱，手脚冰凉", "吞口水都费劲",
        "老婆说话前言不搭后语的，有点吓人", "我婆婆今天怎么叫都不太理人",
        "我爸刚才上厕所的时候一头栽下去了", "奶奶出院后这两天不太认人了",
        "刚才突然说不出话来了，过了几分钟又好了", "我不想活了", "孩子误喝了消毒水",
        "血糖测出来是2.1", "小便一整天都没有", "孩子今天特别烦躁，一直抓耳朵哭",
        "her face is drooping on one side", "I can't feel my lips, it's been two days",
        # a jump is no swelling "going down"; pinyin ends where characters begin
        "我真想从楼上跳下去了", "ya chi hai zai chu xue怎么办",
    ],
)
def test_implied_red_flags(text: str) -> None:
    assert parse(text).red_flag, parse(text).explain()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("5分 很满意", ""), ("腿没发软，走得挺稳", "denied"), ("胸口不闷了，药在按时吃，满意", ""),
        ("发热、红肿、出血这些情况都没有", "denied"),
        ("上周那次晕倒后来查了是低血糖，现在已经没事了", "resolved or improving"),
        ("疼死我了哈哈，开玩笑的，一点都不疼，五分", ""),
        ("老人家摔了一跤是去年的事了，现在挺好", "long ago"),
        ("她年纪大了听不清", "long-standing"), ("值班的护士一直在睡觉", ""),
        ("拔牙的时候麻药没打够，疼得我直冒汗", "during the treatment"),
        ("我快被孩子练琴吵晕了😂 老师教得好，5分", ""), ("排得人腿都站麻了", ""),
        ("每次看到都难受", "a feeling, not the body"), ("隔壁床家属打呼噜", ""),
        ("嘴唇还麻，医生说麻药要几个小时才过", ""), ("脸消肿了，就是还有一点点青", ""),
        ("我奶奶现在能自己走了，扶着墙能走到阳台", ""),
    ],
)
def test_look_alikes_are_not_red_flags(text: str, why: str) -> None:
    r = parse(text)
    assert not r.red_flag, r.explain()
    if why:
        assert why in {e.note for e in r.evidence if e.rule == "red_flag_denied"}


@pytest.mark.parametrize(
    ("text", "opt_out"),
    [
        ("remove my number please", True), ("I'd rather not get any more surveys", True),
        ("I don't want to be contacted again", True), ("don't bother me again", True),
        ("免打扰", True), ("別再傳訊息給我了", True), ("咪再发啦，好烦", True),
        ("以后不用再管我了", True), ("你们有完没完", True),
        ("号码已经换人了", True), ("您好，我不是王小明的家长，号码应该是登记错了", True),
        ("老太太二月份就走了，你们还一直发复查通知", True), ("患者已故", True),
        ("how do I stop the bleeding", False), ("取消预约可以吗", False),
        ("医生说不用再来复诊了", False), ("护士把我的名字喊错了三次，差点打错针", False),
        ("医生查房五分钟就走了", False),
    ],
)
def test_opt_out_classes(text: str, opt_out: bool) -> None:
    assert parse(text).opt_out is opt_out, parse(text).explain()


def test_composed_red_flags_extend_from_configuration() -> None:
    text = "手指一直发僵"  # (a stiffening the default tables do not know)
    assert not parse(text).red_flag
    lex = Lexicon.default().extended(red_flag_change=["发僵"])
    r = ReplyParser(lex).parse(text)
    assert r.red_flag
    assert any(e.note == "body part + change" for e in r.evidence)
