"""Self-harm told obliquely is a red flag; a death told by the family is read as deceased.

Both are read by the rules (redflag.toml ``self_harm`` with ``selfharm.self_harm_why``; the
lexicon's ``deceased`` and ``contact.py``) and neither may be cleared by the learned model:
every case runs through the rules alone and the whole parser.  Their look-alikes -- idioms
and hyperbole, a story or someone else's words, thoughts past and over, a question about the
service, a kitchen knife, a rooftop restaurant; a patient who left hospital or went out, a
near miss, a pet, someone not at home -- stay off.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from surveys.parser import ReplyParser
from surveys.understanding.decide import combine

RULES = ReplyParser(recall=False)
WHOLE = ReplyParser()
PARSERS = {"rules": RULES, "whole": WHOLE}

# Self-harm or suicidal intent, said outright or by implication, now or recently.
SELF_HARM = [
    '想结束这一切',
    '我真的想结束这一切了',
    '药我已经攒好了',
    '这几个月我把药都攒起来了',
    '安眠药攒了一瓶',
    '活着还有什么意思',
    '活着有什么意思呢',
    '活着真的没意义',
    '我写好了遗书',
    '给家里人留了信',
    '我给孩子们都留了信',
    '信都写好了，放在抽屉里',
    '我把东西都送人了',
    '把自己的东西都分给别人了',
    '现在站在楼顶上',
    '我在天台上吹风，不想下去了',
    '站在天台边上',
    '刀就在手边',
    '刀就放在枕头边',
    '又划了几道',
    '手腕上又有新的伤口',
    '昨晚又割了自己',
    '又用刀片划手了',
    '不想再醒来了',
    '睡着了就不想再醒过来',
    '我消失了大家会更好',
    '要是我不在了大家都轻松',
    '没有我他们会过得更好',
    "I don't see the point anymore",
    "I've said my goodbyes",
    'i have said goodbye to everyone',
    "there's no point anymore",
    'i just want it all to stop',
    'everyone would be better off without me',
    '我不想活了',
    '产后每天都想从窗户跳下去',
    '孩子说想死，已经好几天了',
    '她说活着太累了不想再撑了',
    '我已经跟大家告别了',
    '我跟家人都告别了，别再联系我',
    '我想去一个没有痛苦的地方永远睡下去',
    '老想着一了百了',
    '感觉自己是个累赘，不如消失',
    '想从桥上跳下去',
    '宝宝一直哭，我真想一起死了算了',
    '最近老想着怎么死',
    '撑不下去了，想离开这个世界',
    '我只想永远睡过去',
    '去年想过自杀，最近又开始想了',
    '以前想过结束一切，这几天又想了',
    '刀片就藏在抽屉里，随时可以用',
    '我把药攒了一个月了',
    '宝宝睡了，我真想一睡不醒',
]

# Idioms, hyperbole, stories, others' words, past and over, a question, ordinary things.
NOT_SELF_HARM = [
    '累死了',
    '笑死我了',
    '烦死了',
    '想死你们了',
    '热死了，空调能开大点吗',
    '饿死了，什么时候能吃饭',
    '医生人太好了，笑死我了',
    '排队排到想死',
    '作业多到想死😂',
    '困死了',
    '电影里主角写好了遗书，看哭了',
    '书里说活着还有什么意思，挺有哲理的',
    '我朋友说他不想活了是开玩笑的',
    '去年有过这种想法，现在好多了',
    '以前想过轻生，现在已经走出来了，谢谢你们',
    '那段时间想结束一切，现在都过去了，很感激',
    '你们的心理咨询是怎么收费的',
    '请问自杀干预热线是多少，我帮朋友问的',
    '请问心理科周几有号',
    '切菜的时候划了一道口子，不深',
    '刚剪了头发，挺满意',
    '今天切菜切到手了，贴了创可贴',
    '理发师把刘海剪太短了',
    '搬家以后把旧衣服都送人了',
    '孩子的小衣服都送给亲戚了',
    '把旧书都送人了，家里清爽多了',
    '在楼顶餐厅吃饭，景色很好',
    '天台餐厅环境不错',
    '楼顶花园挺漂亮的',
    '刀口恢复得很好',
    '给医生写了感谢信',
    '已经给护士留了言',
    '药我已经拿好了',
    '药已经吃完了',
    '结束治疗了，感觉很好',
    '疗程结束了，谢谢',
    '今天是最后一次复诊，再见啦',
    "I don't see the point of the second survey",
    "I've said my thanks to the nurses",
    'see you next time, goodbye',
    'the point is the waiting was long',
    '想早点结束这个疗程',
    '希望疫情早点结束',
    '活着真好，谢谢医生',
    '这次活动很有意义',
    '这种日子什么时候是个头啊，排队太久了',
    '我已经走出来了，现在每天都很开心',
    '周末只想睡懒觉，不想醒来',
    '孩子在楼顶花园玩得很开心',
    '搬家了，东西都送人了，新家很好',
]

# A death told by the family.
DEATH = [
    '老人已经走了',
    '我妈上个月走了',
    '人不在了',
    '他已经不在了',
    '临终前一直念叨你们医院的好',
    '死亡证明都开了',
    '办完后事了',
    'she passed away',
    'he passed',
    'he passed last week',
    '我爸前天走了，不用再打了',
    '奶奶上周走了',
    '我老伴已经不在了',
    '人已经没了',
    '老爷子昨天夜里走的',
    '我母亲已于本月初离世',
    '患者已经去世',
    '我父亲上个月过世了',
    '人走了，别再发了',
    '他走了三个月了',
    '我爸没了',
    '老人家走了，谢谢你们的照顾',
    '我妈妈已经不在了，请不要再打了',
    '临终时很安详',
    '死亡证明已经开了',
    '后事都办完了',
    '刚办完丧事',
    '我婆婆已经走了',
    '病人已经去世了',
    '我外婆前几天走了',
    'my mother passed away last month',
    'dad passed last week',
    'she passed on sunday',
    'he died in march',
    '我丈夫上个星期走了',
    '我爷爷临终前还在说你们好',
    '老人家没熬过去',
    '我妈走了快一年了',
    '人早就不在了',
    '孩子没保住',
    '老人家昨天夜里走的',
    'grandma passed peacefully on sunday',
]

# Left hospital or went out, nearly died, a pet, not at home, passed an exam.
NOT_DEATH = [
    '出院临走前医生又检查了一遍，5分',
    '临走前护士交代要多喝水，很贴心',
    '麻烦你们临走前把发票给我',
    '出院走了',
    '已经走了回家了',
    '早就出院走了',
    '差点走了',
    '差点就没了',
    '差一点就没了，多亏了医生',
    '狗走了',
    '我家的猫上个月走了',
    '走了好多路，腿有点酸',
    '今天走了一万步',
    '不在家',
    '人不在本地',
    '他不在',
    '他现在不在家，晚点再打',
    '人不在，出差去了',
    '走了以后还挺好',
    '从那家公司走了以后还挺好',
    '他走了吗？',
    '医生走了吗',
    '护士刚走了',
    '我们已经走了',
    '他已经走了，去上学了',
    '老人走了两步就喘',
    '他的药没了',
    '钱没了',
    '老人在医院走的路不多',
    '我妈不在这边住',
    '人不在国内',
    '他不在线',
    'she passed the exam',
    'he passed his driving test',
    'passed by the clinic yesterday',
    'the pain has passed',
    '我爸刚走，回老家了',
    '孩子走了，去奶奶家了',
    '人走了，下次再来',
    '我妈上个月走了趟北京',
    '他走了好几家医院',
    '病人已经转走了',
    '临终关怀的服务怎么收费',
    '我爸刚走，去买菜了',
    '他走了，明天再来复查',
    'she passed by the front desk',
]


@pytest.mark.parametrize("who", sorted(PARSERS))
@pytest.mark.parametrize("text", SELF_HARM)
def test_self_harm_told_obliquely_is_a_red_flag(text: str, who: str) -> None:
    r = PARSERS[who].parse(text)
    assert r.red_flag, r.explain()
    assert not r.deceased, r.explain()


@pytest.mark.parametrize("who", sorted(PARSERS))
@pytest.mark.parametrize("text", NOT_SELF_HARM)
def test_idioms_stories_and_past_thoughts_are_no_red_flag(text: str, who: str) -> None:
    r = PARSERS[who].parse(text)
    assert not r.red_flag, r.explain()


@pytest.mark.parametrize("who", sorted(PARSERS))
@pytest.mark.parametrize("text", DEATH)
def test_a_death_told_by_the_family_is_deceased_and_stops(text: str, who: str) -> None:
    r = PARSERS[who].parse(text)
    assert r.deceased, r.explain()
    assert r.opt_out and not r.opt_out_unsure, r.explain()


@pytest.mark.parametrize("who", sorted(PARSERS))
@pytest.mark.parametrize("text", NOT_DEATH)
def test_leaving_a_near_miss_a_pet_or_absence_is_no_death(text: str, who: str) -> None:
    r = PARSERS[who].parse(text)
    assert not r.deceased, r.explain()


class _SureItIsNothing:
    """A model certain that no flag is raised."""

    def __init__(self) -> None:
        self.thresholds = {"red_flag": 0.5, "opt_out": 0.5, "opt_out_drop": 0.9}

    def outputs(self, norm: str, features: Iterable[str], score: bool = True
                ) -> tuple[list[float], list[float] | None]:
        return [0.0] * 5, ([1.0] + [0.0] * 5 if score else None)


@pytest.mark.parametrize("text", SELF_HARM[:10] + DEATH[:10])
def test_the_model_cannot_clear_a_red_flag_or_a_death_the_rules_raised(text: str) -> None:
    r = RULES.parse(text)
    d = combine(r, _SureItIsNothing(), r.normalized)
    assert d.red_flag == r.red_flag
    assert d.opt_out == r.opt_out


# The treatment's own words are in nearly every reply after a procedure; they never make a
# self-harm phrase ordinary (an early version cleared "手术很成功，可我觉得活着没意思").
TREATMENT_CONTEXT = ["手术很成功，可", "做完手术以后", "伤口恢复得不错，但是", "拔牙后", "这个周末",
                     "复查结果挺好，", "谢谢医生，5分。"]
SAID = ["我觉得活着没意思", "药我都攒好了", "我不想再醒来了", "我把东西都送人了", "我真的不想活了",
        "想结束这一切", "信都写好了"]


@pytest.mark.parametrize("who", sorted(PARSERS))
@pytest.mark.parametrize("context", TREATMENT_CONTEXT)
@pytest.mark.parametrize("said", SAID)
def test_the_treatments_words_never_make_self_harm_ordinary(said: str, context: str,
                                                            who: str) -> None:
    text = context + said
    assert PARSERS[who].parse(text).red_flag, text
