"""Urgent signs told in everyday words are red flags; their look-alikes are not.

An overdose told as it happens, voices heard now, a wound opening written with a typo, a
newborn drying out or turning yellow, someone found collapsed, a glucose meter past its
range or a very high blood pressure (also as voice input writes it).  Look-alikes stay off:
a dose as prescribed, noise and daydreams, a wound healing, a question about a jaundice
value, idioms of dying, thoughts past and over, another person's symptoms.  Every case runs
on the rules alone and on the whole parser.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser

RULES = ReplyParser(recall=False)
WHOLE = ReplyParser()
PARSERS = {"rules": RULES, "whole": WHOLE}

OVERDOSE = [
    '刚刚吃了三十片安眠药',
    '我刚才一下吞了20片药',
    '他把一整瓶降压药都吃了',
    '一口气把一瓶药都吃了',
    '妈妈把一盒安眠药全吃了',
    '刚喝了农药',
    '我爸喝了半瓶农药',
    '吃了几十片止痛药',
    '把所有的药都吞了',
    '她刚刚吞了一把药片',
    '我一口气把剩下的药全吃掉了',
    '把一整板安定都吃了',
    'I just took all my pills',
    'he swallowed a whole bottle of sleeping pills',
    'I think I overdosed',
    '吃了十几片安眠药现在很困',
]
NOT_OVERDOSE = [
    '医生让一次吃两片药',
    '每天吃2片降压药',
    '今天吃了1片止痛药好多了',
    '去药店买了一瓶药',
    '这瓶药都吃了一个月了',
    '一盒药能吃几天',
    '药都按时吃了',
    '所有的药都按医嘱吃着',
    '说明书上写一次吃一片',
    '孩子吃药很乖',
    '药吃完了要不要再开',
    '上次开的药还剩半瓶',
    'I took my pills on time',
    'took all my pills as prescribed, thank you',
    '药房的药都拿齐了',
]

VOICES = [
    '三天没睡了，脑子里一直有人说话',
    '脑子里老有人跟我说话',
    '耳边一直有人在说话',
    '耳朵里总有声音叫我',
    '脑袋里有人骂我，晚上不敢睡',
    '总觉得有人要害我',
    '他说有人在监视他',
    '她说有人想害她，不敢出门',
    '脑海里有个声音让我去死',
    '耳边有人喊我名字，可是屋里没人',
    'I keep hearing voices',
    "there's someone talking in my head",
    '好几天没合眼了，脑子里有人在说话',
    '我妈说耳朵里有人在讲话，一整夜没睡',
    '脑子里老有人命令我做事',
]
NOT_VOICES = [
    '隔壁床说话太吵睡不着',
    '电话里有人说话听不清',
    '脑子里全是明天要交的作业',
    '耳边好像有蚊子在叫',
    '我在脑子里把复查时间记下了',
    '医生说话很耐心',
    '病房里有人说话声音大',
    '老师说话声音太小听不清',
    '晚上走廊里有人说话，影响休息',
    '我常常在脑子里过一遍明天的事',
    'I heard the nurse talking to my mum',
    'the voice message was hard to hear',
    '心里头有人惦记挺好的',
    '隔壁的人聊天聊到半夜',
    '孩子说想听老师讲故事',
]

WOUND_TYPO = [
    '伤口列开了',
    '刀口好像列开了一点',
    '伤口裂口了',
    '伤口崩开了',
    '伤口绷开了',
    '缝线的地方咧开了',
    '切口烈开了',
    '伤口有点裂开',
    '刀口崩了',
    '拆线后伤口又列开了',
    '伤口那里张开了一条缝',
    '伤口豁开了',
    '刀口开口了，能看到里面',
    '创口列开了还在渗血',
    '剖腹产的刀口列开了',
]
NOT_WOUND_TYPO = [
    '伤口没有裂开',
    '伤口长得很好',
    '伤口已经愈合了',
    '刀口干干净净的',
    '伤口不红不肿',
    '拆线了，伤口挺好',
    '孩子笑得嘴都咧开了',
    '医生把注意事项列了一张单子',
    '列车上信号不好',
    '伤口结痂了，痒痒的正常吧',
    '缝针的地方没事了',
    '手术很顺利',
    '伤口不渗了',
    '伤口的线拆了，很顺利',
    '伤口恢复得不错，谢谢医生',
]

NEWBORN = [
    '一天只有两片尿不湿是湿的',
    '今天尿不湿就一片是湿的',
    '宝宝哭没有眼泪',
    '宝宝嘴唇很干，哭起来没眼泪',
    '囟门凹陷下去了',
    '宝宝囟门有点凹',
    '大便是白色的',
    '宝宝大便陶土色',
    '拉的便便灰白灰白的',
    '黄疸一点没退',
    '出院后又黄了',
    '从脸黄到肚子了',
    '黄到脚心了',
    '黄蛋一点没退',
    '黄疸越来越重',
    '宝宝的黄蛋还没退，脸和身上都黄',
    '孩子尿很少，一天就两片尿布',
]
NOT_NEWBORN = [
    '黄疸多少需要复查',
    '宝宝黄疸值到多少要来医院',
    '黄疸已经退了',
    '黄疸退得差不多了，谢谢护士',
    '宝宝大便黄色的，正常',
    '大便里有白色的奶瓣',
    '尿不湿一天换七八片',
    '宝宝哭得很大声，眼泪汪汪的',
    '宝宝今天尿了六七次',
    '宝宝吃奶很好',
    '黄疸值是多少算正常？',
    '纸尿裤哪个牌子好',
    '孩子皮肤白白的很可爱',
    '宝宝睡得好吃得好',
    '黄疸已经降到8了',
]

COLLAPSE = [
    '我爸倒在地上叫不醒',
    '邻居说他昏倒了叫不醒',
    '隔壁邻居打电话说我妈晕倒在地没反应',
    '老人早上晕倒了，喊不醒',
    '他刚才昏过去了叫不应',
    '奶奶摔倒在地上没有反应',
    '我老公突然倒地不省人事',
    '外公晕过去了怎么叫都叫不醒',
    '她倒下以后一直没意识',
    '同事发现他倒在地上，叫不醒',
    '我妈昏倒在厕所里叫不醒',
    '病人晕倒了，拍不醒',
    '他突然栽倒，叫不应',
    '老太太倒在地上，没反应了',
    'my dad collapsed and we can’t wake him',
]
NOT_COLLAPSE = [
    '孩子早上睡懒觉叫不醒',
    '闹钟都叫不醒我',
    '周末睡得太香叫不醒',
    '邻居家老人前几天晕倒了',
    '去年晕倒过一次，现在好了',
    '闹钟响了三遍都叫不醒他',
    '差点晕倒，坐一会就好了',
    '我没有晕倒',
    '护士说晕倒的话马上回来',
    '我妈晕倒那次是去年，现在好了',
    '他睡觉很沉，打雷都吵不醒',
    '谢谢大夫，老人没事了',
    '以前晕倒过，后来查是低血糖，已经好了',
    '老伴一切都好',
    '周末孩子睡懒觉怎么都叫不醒',
]

SUGAR_PRESSURE = [
    '血糖仪显示HI，人很困',
    '血糖测不出来，一直想睡',
    '血糖三十几，昏昏沉沉的',
    '血糖32了，人没精神',
    '血糖爆表了，迷迷糊糊的',
    '雪压190了头疼',
    '雪压185，头痛得厉害',
    '血压180多，头很疼',
    '血压195/110，头胀痛',
    '血压200了，头晕眼花',
    '量了血压190，头痛',
    '学压190头疼',
    '测血糖显示high，叫他不太应',
    '血糖测了两次都是HI',
    'blood sugar meter says HI and he is very drowsy',
]
NOT_SUGAR_PRESSURE = [
    '血糖6.5，挺稳定的',
    '血压130/80，正常',
    '血压控制得很好',
    '血糖仪在哪买',
    '血压高的话要复查吗',
    '雪下得很大，明天还要去复查吗',
    '血压计怎么用',
    '血糖降下来了，谢谢医生',
    '血压正常了，头也不疼了',
    '血压现在120/80了',
    '血糖仪说明书看不懂',
    '空腹血糖多少算正常',
    '血压药吃完了',
    'hi 医生你好',
    '血糖试纸还有吗',
]

NOT_RED_FLAG = [
    '黄疸多少需要复查',
    '排队排到想死的心都有了',
    '等了三个小时，想死的心都有了',
    '疼死我了哈哈哈',
    '笑死我了',
    '以前有过轻生的念头，吃药三个月后已经没有了',
    '之前有过不想活的想法，现在已经没有了',
    '我自己有点发烧，孩子挺好',
    '我自己感冒了，宝宝挺好',
    '邻居家小孩烧得很厉害',
    '矫正第一周牙齿酸痛，正常吧',
    '刚戴牙套有点酸痛，正常吗',
    '宝宝黄疸值多少要照蓝光',
    '哈哈哈哈累死我了',
    '同事家孩子吐得厉害，我们家的没事',
]
STILL_RED_FLAG = [
    '孩子发烧39度，一直不退',
    '宝宝黄疸越来越黄',
    '伤口一直流血',
    '疼死了，一直在流血',
    '我想死，最近一直这么想',
    '最近又有轻生的念头',
    '孩子挺好，我老婆在发高烧一直不退',
    '吃了20片安眠药',
    '矫正后牙齿疼得睡不着',
    '血压190，头疼',
    '宝宝大便白色的',
    '我妈晕倒了，叫不醒',
    '呼吸很困难',
    '胸口疼得厉害',
    '宝宝抽搐了',
]

POSITIVES = OVERDOSE + VOICES + WOUND_TYPO + NEWBORN + COLLAPSE + SUGAR_PRESSURE + STILL_RED_FLAG
NEGATIVES = (NOT_OVERDOSE + NOT_VOICES + NOT_WOUND_TYPO + NOT_NEWBORN + NOT_COLLAPSE
             + NOT_SUGAR_PRESSURE + NOT_RED_FLAG)


def test_each_class_has_enough_cases() -> None:
    for table in (OVERDOSE, VOICES, WOUND_TYPO, NEWBORN, COLLAPSE, SUGAR_PRESSURE,
                  STILL_RED_FLAG, NOT_OVERDOSE, NOT_VOICES, NOT_WOUND_TYPO, NOT_NEWBORN,
                  NOT_COLLAPSE, NOT_SUGAR_PRESSURE, NOT_RED_FLAG):
        assert len(table) >= 15


@pytest.mark.parametrize("who", sorted(PARSERS))
@pytest.mark.parametrize("text", POSITIVES)
def test_an_urgent_sign_now_is_a_red_flag(text: str, who: str) -> None:
    r = PARSERS[who].parse(text)
    assert r.red_flag, r.explain()


@pytest.mark.parametrize("who", sorted(PARSERS))
@pytest.mark.parametrize("text", NEGATIVES)
def test_a_look_alike_is_no_red_flag(text: str, who: str) -> None:
    r = PARSERS[who].parse(text)
    assert not r.red_flag, r.explain()


# Fingers or toes numb, cold or blue under a cast or splint: the circulation may be cut off,
# urgent however lightly it is said or asked about.
CAST_SIGNS = [
    "石膏太紧 脚趾有点发麻发凉 要不要去拆开，要紧吗？",
    "石膏太紧，脚趾有点发麻，这正常吗？",
    "脚趾发紫了，是不是石膏打太紧了",
    "打了石膏的那只手，手指冰凉冰凉的",
    "夹板绑得紧，指尖发白",
    "支具戴上以后脚趾麻木",
    "石膏里面脚指头没知觉了",
]
CAST_FINE = [
    "打了石膏以后脚趾没发麻，挺好的，5分",
    "石膏拆了，手指还有点麻，慢慢恢复吧",
    "夹板固定得很好，手指活动正常，5分",
    "石膏挺轻的，脚趾能动，不麻",
]


@pytest.mark.parametrize("who", ["rules", "whole"])
@pytest.mark.parametrize("text", CAST_SIGNS)
def test_numb_or_cold_fingers_under_a_cast_are_a_red_flag(text: str, who: str) -> None:
    parser = ReplyParser(recall=False) if who == "rules" else ReplyParser()
    assert parser.parse(text).red_flag, text


@pytest.mark.parametrize("who", ["rules", "whole"])
@pytest.mark.parametrize("text", CAST_FINE)
def test_a_cast_without_those_signs_is_no_red_flag(text: str, who: str) -> None:
    parser = ReplyParser(recall=False) if who == "rules" else ReplyParser()
    assert not parser.parse(text).red_flag, text
