"""Table tests for the reply parser (surveys.parser): pure functions, odd inputs included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surveys.parser import Interpretation, Lexicon, ReplyParser, parse

DATA_DIR = Path(__file__).parent / "data"
# The quality bars hold on the sets the rules were written or tuned against (heldout4.jsonl
# was written fresh, measured, then tuned on for the structural rules; heldout5's misses and
# heldout6 shaped the recall-first safety rules).  heldout2, heldout3 and heldout7 are
# deliberately left out: they were written later as fresh estimates, and
# ``python bench/parser.py`` reports them for unseen replies.
BARRED = ("replies.jsonl", "heldout.jsonl", "heldout4.jsonl", "heldout5.jsonl",
          "heldout6.jsonl")
MIN_ROWS = {"replies.jsonl": 320, "heldout.jsonl": 250, "heldout2.jsonl": 120,
            "heldout3.jsonl": 90, "heldout4.jsonl": 240, "heldout5.jsonl": 120,
            "heldout6.jsonl": 200, "heldout7.jsonl": 120, "heldout8.jsonl": 300}


def rules(r: Interpretation) -> set[str]:
    return {e.rule for e in r.evidence}


@pytest.mark.parametrize(
    ("text", "score", "rule"),
    [
        ("5⭐", 5, "digit"),
        ("评分：4", 4, "digit"),
        ("满意度5分", 5, "digit"),
        ("5分满分的话给4分", 4, "digit"),
        ("I'd give it a 4", 4, "digit"),
        ("Four", 4, "digit"),
        ("五五五", 5, "chinese_numeral"),
        ("我给五份", 5, "chinese_numeral"),  # voice input: 份 for 分
        ("满以", 4, "likert"),  # homophone typos are repaired in normalisation
        ("不满易", 2, "likert"),
        ("很慢意", 5, "likert"),
        ("唔满意", 2, "likert"),  # Cantonese 唔 = 不
        ("还算可以", 3, "likert"),
        ("凑活吧", 3, "likert"),
        ("麻麻地啦", 3, "likert"),
        ("老好了", 5, "likert"),
        ("杠杠的", 5, "likert"),
        ("没什么不满意的", 4, "likert"),
        ("feichang bu manyi", 1, "likert"),
        ("💯", 5, "likert"),
        ("5", 5, "digit"),
        ("  3  ", 3, "digit"),
        ("５", 5, "fullwidth_digit"),
        ("４分", 4, "fullwidth_digit"),
        ("⑤", 5, "digit"),
        ("给5分吧", 5, "digit"),
        ("五分", 5, "chinese_numeral"),
        ("两分", 2, "chinese_numeral"),
        ("伍", 5, "chinese_numeral"),
        ("打个四分吧", 4, "chinese_numeral"),
        ("三颗星", 3, "chinese_numeral"),
        ("⭐⭐⭐⭐", 4, "star_emoji"),
        ("★★★☆☆", 3, "star_emoji"),
        ("⭐️⭐️⭐️⭐️⭐️", 5, "star_emoji"),
        ("👍", 5, "thumbs"),
        ("👍🏻", 5, "thumbs"),
        ("👎", 1, "thumbs"),
        ("[强]", 5, "wechat_emoji"),
        ("[弱]", 1, "wechat_emoji"),
        ("/:strong", 5, "wechat_emoji"),
        ("4/5", 4, "fraction"),
        ("55", 5, "digit"),
        ("非常满意", 5, "likert"),
        ("十分满意", 5, "likert"),
        ("满意", 4, "likert"),
        ("比较满意", 4, "likert"),
        ("挺满意的", 4, "likert"),
        ("还行", 3, "likert"),
        ("一般", 3, "likert"),
        ("还可以吧", 3, "likert"),
        ("不太满意", 2, "likert"),
        ("不是很满意", 2, "likert"),
        ("不满意", 2, "likert"),
        ("没有很满意", 2, "likert_negated"),
        ("谈不上满意", 2, "likert_negated"),
        ("非常不满意", 1, "likert"),
        ("很差", 1, "likert"),
        ("满意是满意就是排队太久", 4, "likert"),
        ("滿意", 4, "likert"),
        ("非常滿意，謝謝醫生", 5, "likert"),
        ("very satisfied", 5, "likert"),
        ("good", 4, "likert"),
        ("terrible", 1, "likert"),
        ("manyi", 4, "likert"),
        ("wu fen", 5, "likert"),
        ("满分", 5, "likert"),
        ("3岁孩子给5分", 5, "not_a_score:age"),
        ("第3次来了，4分", 4, "not_a_score:ordinal"),
        ("满意，护士小张特别好", 4, "likert"),  # an overall verdict outranks praise of one nurse
        ("不满意[弱]", 2, "wechat_emoji"),  # the word is more specific than the emoji
        ("不对，是4分", 4, "digit"),
    ],
)
def test_scores(text: str, score: int, rule: str) -> None:
    r = parse(text)
    assert (r.score, r.needs_confirmation) == (score, False)
    assert r.candidate == score
    assert rule in rules(r)
    assert 0.6 <= r.confidence <= 1


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("等了2个小时", "not_a_score:duration"),
        ("等了40分钟才叫号", "not_a_score:duration"),
        ("一天吃3次药", "not_a_score:count"),
        ("每天吃2片", "not_a_score:dose"),
        ("下午3点", "not_a_score:time"),
        ("3:30到", "not_a_score:time"),
        ("13812345678", "not_a_score:phone"),
        ("36牙还有点酸", "not_a_score:tooth"),
        ("左下6补完了", "not_a_score:tooth"),
        ('[语音] 5"', "not_a_score:voice_length"),
        ("[语音] 5″", "not_a_score:voice_length"),
        ("孩子考了90分", "not_a_score:exam"),
        ("上周5来的", "not_a_score:weekday"),
        ("2楼", "not_a_score:place"),
        ("花了3000块", "not_a_score:money"),
        ("订单号123456", "not_a_score:number"),
        ("体温38度", "not_a_score:temperature"),
        ("3/15复诊", "not_a_score:date"),
    ],
)
def test_numbers_that_are_not_scores(text: str, rule: str) -> None:
    r = parse(text)
    assert r.score is None
    assert r.out_of_range is None
    assert not r.needs_confirmation
    assert rule in rules(r)


@pytest.mark.parametrize(
    ("text", "candidate"),
    [
        ("4.5", 4),  # decimals: propose the lower whole score, never inflate
        ("4.5分", 4),
        ("3-4", 3),
        ("3-4分", 3),
        ("4~5", 4),
        ("3或4", 3),
        ("4到5分吧", 4),
        ("三四分", 3),
        ("三到四分", 3),
        ("555", 5),  # also slang for crying: ask
        ("非常满意，1分", 1),  # contradiction: some think 1 is best; confirm the number
        ("3、4分吧", 3),
    ],
)
def test_needs_confirmation(text: str, candidate: int) -> None:
    r = parse(text)
    assert r.score is None
    assert r.needs_confirmation
    assert r.candidate == candidate
    assert r.confidence < 0.6


@pytest.mark.parametrize(
    ("text", "value"),
    [("6分", 6), ("7", 7), ("99分", 99)],
)
def test_out_of_range(text: str, value: int) -> None:
    r = parse(text)
    assert (r.score, r.out_of_range, r.needs_confirmation) == (None, value, False)


@pytest.mark.parametrize(
    ("text", "score"),
    [("10", 5), ("100分", 5), ("一百分", 5), ("10分！", 5), ("10分制打8分", 4),
     ("十分制的话6分吧", 3), ("按十分打8分", 4), ("10分制：6", 3), ("课程挺好，我给80分", 4),
     ("六十分吧，及格", 3), ("满分100分给40分", 2), ("0分", 1), ("零分", 1), ("负分", 1),
     ("零蛋", 1)],
)
def test_the_top_of_a_larger_scale_is_read_on_five(text: str, score: int) -> None:
    r = parse(text)
    assert (r.score, r.out_of_range, r.needs_confirmation) == (score, None, False)


@pytest.mark.parametrize(
    ("text", "candidate"),
    [("满分10分的话给9分", 4), ("10分制的话打7分吧", 3), ("90分", 4), ("满分100给90", 4),
     ("百分制打70分", 3)],
)
def test_a_larger_scale_between_two_scores_is_confirmed_with_the_lower(
        text: str, candidate: int) -> None:
    r = parse(text)
    assert (r.score, r.candidate, r.needs_confirmation) == (None, candidate, True)


@pytest.mark.parametrize("text", ["孩子数学考了80分", "等了40分钟", "百分制的话95"])
def test_a_larger_number_that_rates_nothing_is_no_score(text: str) -> None:
    assert parse(text).score is None


@pytest.mark.parametrize(
    ("text", "score"),
    [("医生5 护士3", 3), ("医生5分，护士3分", 3), ("5 3 5 4", 3),
     ("整体3分，医生5分，挂号流程1分", 3), ("医生服务5分，护士4分，总体5分", 5),
     ("老师态度5分 教学4分 沟通4分 孩子进步3分，总体4分吧", 4),
     ("态度⭐⭐⭐⭐⭐ 教学⭐⭐⭐⭐ 沟通⭐⭐⭐", 3)],
)
def test_ratings_of_several_things_give_the_overall_else_the_lowest(text: str,
                                                                     score: int) -> None:
    r = parse(text)
    assert (r.score, r.needs_confirmation) == (score, False)


# flags: o=opt_out c=complaint r=red_flag q=question w=wrong_number d=deceased
@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("TD", "o"), ("td", "o"), ("ＴＤ", "o"), ("T", "o"), ("退订", "o"), ("别再发了", "o"),
        ("不要再联系我", "o"), ("unsubscribe", "o"), ("STOP", "o"), ("请不要再给我发信息", "o"),
        ("能不能别发了", "o"), ("再发我就投诉你们", "oc"), ("5分，以后别发了", "o"),
        ("护士态度不好", "c"), ("医生态度非常差", "c"), ("投诉", "c"), ("收费太乱了", "c"),
        ("不太贵", ""), ("没有投诉的意思", ""), ("13812345678", ""),
        ("满意是满意就是排队太久", ""), ("3分，停车太难了", "c"), ("等了2个小时", "c"),
        ("拔牙后一直出血", "r"), ("发烧39度", "r"), ("体温38.8", "r"), ("伤口化脓了", "r"),
        ("疼得睡不着", "r"), ("呼吸困难", "r"), ("嘴里一直有血，止不住", "r"),
        ("发燒了怎麼辦", "rq"), ("越来越疼", "r"),
        ("已经不出血了", ""), ("没有发烧", ""), ("不疼了", ""), ("不怎么疼了", ""),
        ("烧已经退了", ""), ("昨天发烧39度，今天已经退了", ""), ("有一点点疼，能忍", ""),
        ("疼得不厉害", ""), ("万一发烧怎么办", "q"),
        # opt-out intent composed from 别/不要/不用 + 再 + a contact verb, and its look-alikes
        ("请别再给我打电话", "o"), ("以后不用再联系了", "o"), ("不要再给我发了", "o"),
        ("回访就不必了", "o"), ("请停止发送", "o"), ("唔好再发啦", "o"),
        ("不要再发烧就好了", ""), ("医生说不用再回来复查了", ""), ("取消预约怎么弄", "q"),
        ("不需要再复诊了吗", "q"),
        # question cues
        ("医生周几坐诊", "q"), ("发票怎么开", "q"), ("老师电话多少", "q"),
        ("这个药饭前吃还是饭后吃", "q"), ("复诊挂什么号", "q"), ("报告出来了没", "q"),
        ("多少有点疼", ""), ("没有什么不舒服", ""), ("还是很疼", "r"),
        # complaints named in other words; a softened one next to a good score is feedback
        ("护士扎针扎了三次都没扎进去", "c"), ("厕所太脏了", "c"), ("医生根本不听我说话", "c"),
        ("要找你们领导反映", "c"), ("护士很粗心，药给错了", "c"), ("rude nurse, long wait", "c"),
        ("很满意 就是收费有点贵", ""), ("止痛药吃了也不管用", "r"),
        # red flags in other words, and resolved ones
        ("嘴巴张不开了，疼", "r"), ("舌头肿了说话都不清楚", "r"), ("孩子吐了三次", "r"),
        ("缝的线崩开了", "r"), ("呼吸有点困难", "r"), ("烧还没退", "r"), ("满嘴都是血", "r"),
        ("吃了消炎药全身起红疹", "r"), ("疹子已经消下去了", ""), ("没有胸闷气短", ""),
        ("你们是哪个医院?", "q"), ("复诊要预约吗", "q"), ("什么时候拆线", "q"), ("？", "q"),
        # wrong number and deceased are opt-outs too: never message the contact again
        ("打错了", "ow"), ("我不是病人", "ow"), ("不认识这个人", "ow"), ("你发错了", "ow"),
        ("我不是病人，我是她女儿，她挺满意的", ""), ("差点打错针", ""),
        ("病人已经去世了", "od"), ("老人走了", "od"), ("我父亲上周过世了", "od"),
        ("老人家已经走了，别再发了", "od"),
    ],
)
def test_flags(text: str, flags: str) -> None:
    r = parse(text)
    got = "".join(c for c, on in zip(
        "ocrqwd", (r.opt_out, r.complaint, r.red_flag, r.question, r.wrong_number, r.deceased),
        strict=True) if on)
    assert got == flags


# Structural rules: a symptom with persistence/severity/inability, a sign at a wound site, a
# child with a worrying sign; a stop word with a way of contacting; a grievance target with a
# negative evaluation, or an event that only goes wrong.  Look-alikes on the right.
@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("牙龈到现在还在往外渗血", "r"), ("烧了三天了，退烧药压不住", "r"), ("脸肿得像包子", "r"),
        ("刀口有点发烫，流黄水", "r"), ("孩子昨晚抽了两次", "r"), ("宝宝精神很差", "r"),
        ("他说话含糊不清", "r"), ("吐了一整天，水都喝不进", "r"), ("大便里带血", "r"),
        ("血糖测出来二十几", "r"), ("老人摔了一跤", "r"), ("伤口周围一圈乌青", "r"),
        ("拔牙后一直没出血", ""), ("伤口没发红也不烫", ""), ("孩子没有再抽过", ""),
        ("胸闷后来没再出现", ""), ("吐了两次，现在好了", ""), ("孩子吐槽练琴太累", ""),
        ("请停止回访", "o"), ("取消短信提醒", "o"), ("别给我爸打电话了", "o"),
        ("拒绝接收此类消息", "o"), ("天天发，烦不烦", "o"), ("Stop it", "o"),
        ("STOP please", "o"), ("opt me out", "o"), ("把我的号码从系统里删掉", "o"),
        ("取消明天的预约", ""), ("不用再打针了", ""), ("医生让我别再发脾气", ""),
        ("要不要再联系医生", "q"), ("stop by tomorrow", ""),
        ("挂号费收了两次", "c"), ("按了铃半天没人来", "c"), ("押金退得特别慢", "c"),
        ("空调坏了也没人修", "c"), ("老师上课一直看手机", "c"), ("学费涨了也不提前通知", "c"),
        ("琴房隔音太差", "c"), ("医生讲得太快", "c"), ("检查费收得太离谱", "c"),
        ("说好的退款到现在没退", "c"), ("退费拖了两个月", "c"),
        ("收费很合理", ""), ("老师教得很细心，不慢", ""), ("医生说话很温柔", ""),
        ("护士长人很好", ""), ("医生慢慢解释给我听", ""),
        ("下周三医生在不在", "q"), ("可以刷牙不", "q"), ("报告出来没有", "q"),
        ("琴谱要自己买还是机构发", "q"), ("术后要注意啥", "q"), ("Is the clinic open", "q"),
        ("没啥问题", ""), ("不错不错", ""), ("孩子一直吐，吃什么吐什么", "r"),
    ],
)
def test_structural_rules(text: str, flags: str) -> None:
    r = parse(text)
    got = "".join(c for c, on in zip(
        "ocrq", (r.opt_out, r.complaint, r.red_flag, r.question), strict=True) if on)
    assert got == flags


# Recall first for the safety labels: any current symptom, sign or clinical event is a red flag
# unless it is denied (also over a list), resolved or improving, mild and expected,
# hypothetical or asked in general, about the treatment itself or the anaesthetic.  Any
# "don't want these messages" is an opt-out unless its object is a treatment or it is asked.
@pytest.mark.parametrize(
    ("text", "flags", "why"),
    [
        # implied red flags: no symptom name, only what the person sees
        ("棉花换了两团还是红的", "r", ""), ("漱口吐出来都是红的", "r", ""),
        ("耳朵后面鼓起来一个包", "r", ""), ("爷爷一直说胡话", "r", ""),
        ("右手右脚使不上劲", "r", ""), ("孩子脸色发白，哭个不停", "r", ""),
        ("刚才眼前一黑，坐在地上了", "r", ""), ("憋了一上午尿不出来", "r", ""),
        ("咳出来的痰带血丝", "r", ""), ("kid's temperature is 40", "r", ""),
        ("三天了吃不下东西", "r", ""), ("量了体温38.6", "r", ""),
        ("she keeps throwing up", "r", ""), ("伤口周围一圈发硬发烫", "r", ""),
        ("疼", "r", ""), ("腿肿", "r", ""),
        # ... and what explains a mention away (the evidence says why)
        ("发烧、出血、红肿都没有", "", "denied"), ("没红没肿也不疼", "", "denied"),
        ("no swelling, no pain", "", "denied"), ("嘴里一点血都没有了", "", ""),
        ("有一点点疼但好多了", "", ""), ("稍微有点肿，正常的", "", ""),
        ("肿是有一点，不碍事", "", "mild"), ("伤口红了", "r", ""),
        ("舌头还麻，麻醉还没过", "", "the anaesthetic"),
        ("拔的时候有点疼，现在没感觉", "", ""), ("换药那会儿疼了一下", "", "during the treatment"),
        ("要是出血的话怎么办", "q", ""), ("多少度算发烧", "q", ""),
        ("如果伤口红了要来吗", "q", "hypothetical or asked in general"),
        ("昨天拉了两次，今天正常了", "", "resolved or improving"),
        ("pain is much better today", "", "resolved or improving"),
        ("心疼孩子", "", ""), ("血压正常", "", ""), ("抽血很顺利", "", ""),
        # opt-outs in any wording, and their look-alikes
        ("不需要满意度调查", "o", ""), ("从通知里移除", "o", ""), ("取消掉", "o", ""),
        ("please don't text me again", "o", ""), ("以后别来信息了", "o", ""),
        ("回访就免了吧", "o", ""), ("把我从名单里去掉", "o", ""), ("停掉吧", "o", ""),
        ("take me off this list", "o", ""), ("别再问我了", "o", ""),
        ("取消下周的复查", "", ""), ("不用再换药了", "", ""), ("不用谢，通知收到了", "", ""),
        ("要不要再联系一下医生", "q", ""), ("不要紧，谢谢提醒", "", ""),
    ],
)
def test_recall_first_safety_labels(text: str, flags: str, why: str) -> None:
    r = parse(text)
    got = "".join(c for c, on in zip(
        "ocrq", (r.opt_out, r.complaint, r.red_flag, r.question), strict=True) if on)
    assert got == flags
    if why:
        assert why in {e.note for e in r.evidence if e.rule == "red_flag_denied"}


@pytest.mark.parametrize(
    ("text", "score", "candidate"),
    [("5分满分给3分", 3, 3), ("5分满分", 5, 5), ("超级棒", 5, 5), ("差强人意", 3, 3),
     ("给4分，扣一分是因为停车难", 4, 4), ("扣1分，4分", 4, 4), ("5颗星⭐️", 5, 5),
     ("四分半", None, 4), ("4分半", None, 4)],
)
def test_score_forms(text: str, score: int | None, candidate: int) -> None:
    r = parse(text)
    assert (r.score, r.candidate) == (score, candidate)


def test_denied_red_flag_leaves_evidence() -> None:
    r = parse("没有发烧")
    assert not r.red_flag
    assert "red_flag_denied" in rules(r)


def test_deceased_and_wrong_number_have_no_score() -> None:
    assert parse("老人3月5号走了").score is None
    assert parse("打错了，5").score is None


@pytest.mark.parametrize(
    ("text", "affirmative", "negative"),
    [
        ("是", True, False), ("对的", True, False), ("嗯嗯", True, False), ("好的", True, False),
        ("yes", True, False), ("没错", True, False), ("[OK]", True, False),
        ("对，5分", True, False), ("不是", False, True), ("不对", False, True),
        ("no", False, True), ("错了", False, True), ("5", False, False), ("满意", False, False),
    ],
)
def test_yes_no(text: str, affirmative: bool, negative: bool) -> None:
    r = parse(text)
    assert (r.affirmative, r.negative) == (affirmative, negative)


@pytest.mark.parametrize(
    ("text", "comment"),
    [
        ("2 护士态度不好", "护士态度不好"),
        ("给3分吧，等太久了", "等太久了"),
        ("5分", ""),
        ("满意", ""),
        ("非常满意！", ""),
        ("⭐⭐⭐⭐⭐", ""),
        ("[强][强]", ""),
        ('[语音] 5"', ""),
        ("满意是满意就是排队太久", "满意是满意就是排队太久"),
        ("5分 谢谢医生护士", "谢谢医生护士"),
        ("", ""),
    ],
)
def test_comment(text: str, comment: str) -> None:
    assert parse(text).comment == comment


@pytest.mark.parametrize(
    ("text", "score", "normalized"),
    [
        ("5\u200b", 5, "5"),                       # zero width
        ("\u202e5\u202c分", 5, "5分"),             # bidi override
        ("\u2067满意\u2069", 4, "满意"),           # bidi isolate
        ("\ufeff满意", 4, "满意"),                 # BOM
        ("<p>5分</p>", 5, "5分"),                  # HTML
        ("非常满意&nbsp;", 5, "非常满意"),         # entity
        ("&lt;5分&gt;", 5, "<5分>"),
        ("", None, ""),
        ("   ", None, ""),
        ("。。。", None, "。。。"),
        ("😊😊", None, "😊😊"),
        ("[语音]", None, "[语音]"),
        ("[图片]", None, "[图片]"),
        ("VERY SATISFIED", 5, "very satisfied"),
    ],
)
def test_odd_inputs(text: str, score: int | None, normalized: str) -> None:
    r = parse(text)
    assert r.score == score
    assert r.normalized == normalized


@pytest.mark.parametrize(
    ("text", "score", "red_flag"),
    [
        ("非常满意" + "！" * 5000, 5, False),
        ("医生很好" * 2000 + "5分", 5, False),
        ("我想说一下我的情况，" * 800 + "就是拔牙后一直出血", None, True),
        ("5" * 10000, None, False),
        ("\u200b" * 10000, None, False),
    ],
)
def test_very_long_text_is_bounded(text: str, score: int | None, red_flag: bool) -> None:
    r = parse(text)
    assert (r.score, r.red_flag) == (score, red_flag)
    assert len(r.normalized) <= 700


def test_lexicon_extension_adds_words() -> None:
    assert not parse("医生爱甩锅").complaint
    lex = Lexicon.default().extended(complaint=["爱甩锅"], red_flag=["牙齿松动*厉害"])
    p = ReplyParser(lex)
    assert p.parse("医生爱甩锅").complaint
    assert p.parse("牙齿松动得很厉害").red_flag
    assert "乱收费啊" in Lexicon.default().extended(complaint=["乱收费啊"]).complaint
    assert parse("医生爱甩锅", lex).complaint


def test_lexicon_extension_new_word_counts() -> None:
    lex = Lexicon.default().extended(complaint=["乱收费啊"])
    r = ReplyParser(lex).parse("乱收费啊")
    assert r.complaint
    assert any(e.rule == "complaint" and e.text == "乱收费啊" for e in r.evidence)


def test_lexicon_unknown_list_raises() -> None:
    with pytest.raises(ValueError, match="allowed lists: complaint, red_flag"):
        Lexicon.default().extended(complaints=["x"])


def test_lexicon_anchored_entry() -> None:
    lex = Lexicon.default().extended(opt_out=["^quit$"])
    p = ReplyParser(lex)
    assert p.parse("QUIT").opt_out
    assert not p.parse("I will not quit").opt_out


def test_to_dict_key_order_and_json() -> None:
    d = parse("2 护士态度不好").to_dict()
    assert list(d)[:6] == ["score", "opt_out", "complaint", "dispute", "red_flag", "question"]
    assert d["score"] == 2
    assert d["complaint"] is True
    back = json.loads(json.dumps(d, ensure_ascii=False))
    assert back["evidence"][0]["rule"] == "digit"
    assert back["evidence"][0]["span"] == [0, 1]


def test_evidence_spans_point_into_normalized() -> None:
    r = parse("<b>非常滿意</b>，给５分")
    for e in r.evidence:
        assert r.normalized[e.span[0]:e.span[1]] == e.text


def test_explain_mentions_rules_and_spans() -> None:
    text = parse("2 护士态度不好").explain()
    assert "score: 2" in text
    assert "complaint" in text
    assert "[0:1] digit '2' -> 2" in text


def test_fast_path_matches_full_path() -> None:
    p = ReplyParser()
    for text in ("5", "满意", "非常满意", "五分", "好的", "td", "👍"):
        assert p.parse(text) == p._parse(text, text)


def _dataset(name: str) -> list[dict[str, object]]:
    with (DATA_DIR / name).open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for row in rows:
        # Older sets marked wrong-number and deceased replies by a note only; they are
        # opt-outs too (the label convention of bench/parser.py).
        note = str(row.get("note") or "")
        if "wrong number" in note or "deceased" in note:
            row["opt_out"] = True
    return rows


@pytest.mark.parametrize("name", sorted(MIN_ROWS))
def test_dataset_is_big_and_well_formed(name: str) -> None:
    rows = _dataset(name)
    assert len(rows) >= MIN_ROWS[name]
    for row in rows:
        assert isinstance(row["text"], str)
        assert row["score"] is None or row["score"] in (1, 2, 3, 4, 5)
        for flag in ("opt_out", "complaint", "red_flag", "question"):
            assert isinstance(row[flag], bool)


@pytest.mark.parametrize("name", BARRED)
def test_dataset_quality_bars(name: str) -> None:
    rows = _dataset(name)
    parser = ReplyParser()
    results = [(row, parser.parse(str(row["text"]))) for row in rows]
    score_acc = sum(r.score == row["score"] for row, r in results) / len(rows)
    assert score_acc >= 0.97
    for flag in ("red_flag", "opt_out"):
        positives = [(row, r) for row, r in results if row[flag]]
        recall = sum(bool(getattr(r, flag)) for _, r in positives) / len(positives)
        assert recall >= 0.95, flag
    # (complaint: 0.8, the product bar; these sets predate the label convention of
    # docs/labels.md, which marks more replies as complaints)
    for flag, bar in (("complaint", 0.8), ("question", 0.9), ("red_flag", 0.95),
                      ("opt_out", 0.95)):
        flagged = [(row, r) for row, r in results if getattr(r, flag)]
        precision = sum(bool(row[flag]) for row, _ in flagged) / len(flagged)
        assert precision >= bar, flag
