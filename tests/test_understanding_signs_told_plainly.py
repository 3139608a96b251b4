"""Warning signs told plainly, without a symptom word, and ratings in forms the rules lacked.

An older person who no longer knows their own people (唔認得人, 认不得我们), sees people who are
not there, lost a skill overnight (突然不会自己穿衣服) or leans to one side when walking; a
drain or a wound giving more each day (越流越多, 脓更多了) whatever was said before it; a wound
burst open (爆开咗); eyes turned yellow (Teochew 目); little urine the colour of soy sauce; an
ulcer growing; "can't keep water down"; a child's "不想活了" asked about as a joke ("是开玩笑
的吧？" is a worry, not a joke); a life felt as a burden.  Each is a red flag, beside a score
too; and their look-alikes are not: a face not known in the mirror after braces came off,
eyes no longer yellow, pain said *not* to grow, a project that fell through (项目都黄了), coming
back "from your place" (你们那回来) that frames no past episode.

More of the same kind: a line slipping out (PICC管往外滑), a drug leaking under the skin, no
urine all day, an eyelid dropping, breathless lying flat, no light seen, blood coughed up on a
blood thinner ("if that matters" is no supposition), death as a way out of school, a world
better without me, a grievance that trifles with a life (拿人命开玩笑 is no joke), signs in
Wu, Hakka, Minnan and Korean, and a reply typed one character at a time ("气 短 躺 不 平").
Not red flags: shivering in a broken air conditioning, "排队排得我想死", a cartoon's
catchphrase, a classmate's fever, the writer's own fever beside a patient doing well, a worry
that "gives a headache", confusion cleared (现在清醒了), a sign echoed and answered no
("胸口疼？没有"), a fever back to 37.1, a tube expected to fall out by itself.

Ratings: a lead word and an article before the number ("Overall a 3", "that's a 5", "def a
5"); two rating words below satisfied read as the lower in either order ("不太满意，效果一般"
is a 2); "neither satisfied nor dissatisfied" is a 3; two things rated on a larger scale read as
the lower ("给老师打100分，前台60分" is a 3, but "扣的20分" is points taken off); a bare 可以的
is a 3 (docs/labels.md); Hokkien 足满意, Hakka 当满意, Henan 不中不中, 大鸭蛋; Korean ratings
and stops.  Each runs through the rules alone and the whole parser.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser
from surveys.understanding.normalize import normalize

PARSERS = {"rules": ReplyParser(recall=False), "whole": ReplyParser()}

RED_FLAGS = [
    "我爸这两天走路老往右边倒，之前好好的",
    "4分。就是外公这几天坐着身子老往一边歪",
    "外婆呢几日唔認得人，之前冇咁嘅",
    "我妈这两天认不得我了，老问我是谁",
    "奶奶昨晚老说看见有人站在床边，家里明明没人",
    "爷爷突然不会自己吃饭了，上周还好好的",
    "引流管里的液体越流越多，颜色也深了",
    "伤口渗液越渗越多，纱布一天换三次",
    "你们说没事，可今天脓更多了",
    "个刀口爆开咗，点算",
    "阿公目都黄去了，面也黄",
    "医生很好5分，就是我爸小便很少，颜色像酱油",
    "嘴里那个溃疡越来越大，吃不了东西",
    "mum can't keep anything down since yesterday",
    "孩子最近总说不想活了，是开玩笑的吧？",
    "老师挺好，4分。就是我觉得自己活着就是个负担",
    "我妈从你们那回来以后就有点糊涂，叫她都不认人了",
    "PICC管好像往外滑了一截，现在露出来4厘米",
    "化疗药漏到皮下了，手背肿起来了",
    "吐是不吐了，可是从昨天到现在一次尿都没有",
    "打完肉毒以后眼皮耷拉下来了",
    "气 短 躺 不 平 晚 上 只 能 坐 着 睡",
    "青光眼手术后那只眼睛一点光都看不到了",
    "coughing up a bit of blood since Tuesday. On blood thinners if that matters.",
    "The PICC site is red and there's some yellowish discharge",
    "孩子在本子上写“我死了就不用上课了”",
    "最近情绪很低，晚上总想要是我不在了就好了",
    "回家当天又胸痛送回来，到现在还疼着，你们这是拿人命开玩笑",
    "小囡眼乌珠也黄，奶也吃勿进",
    "细妹仔水都食毋落，一日冇屙尿",
    "阿嬤講伊心肝頭悶悶，今仔日閣較嚴重",
    "엄마 계속 토해요, 물도 못 마셔요",
    # voice input: 流农 (流脓), 发少 (发烧), 大便有学 (有血), 留雪 (流血), 指不住 (止不住)
    "伤口流农了，发少三天了",
    "肠镜做完以后大便一直有学",
    "种牙的地方一直留雪，指不住",
    "缝的线开了，能看到里面白白的东西",
    "我妈晚上老说病房里有小孩在跑，其实根本没有",
    "孩子总说'弹不好就去死'，我有点害怕",
    "Mum's breathing has gone really rattly and she barely responds",
    "he had an asthma attack during class and he's still wheezing now",
    "wound is gaping open a bit and there's yellow stuff",
    "右边脸肿得比昨天还大，眼睛都快挤没了",
]

NOT_RED_FLAGS = [
    ("牙套戴了一年半终于拆了，照镜子都不认识自己了，五星", "a face not known in the mirror"),
    ("黄疸退了，眼睛都不黄了，谢谢王主任，五分", "eyes no longer yellow"),
    ("疼痛没有加重，比前两天轻", "pain said not to grow"),
    ("装修的项目都黄了，不过看牙很顺利，5分", "a project that fell through"),
    ("从你们那回来一切都好，谢谢", "coming back frames no past episode"),
    ("0分。空调坏了一下午没人修，一屋子病人冻得发抖", "shivering in the cold"),
    ("累死了，交费排队排得我想死", "a queue, in jest"),
    ("孩子老说“想死了想死了”，是跟动画片学的口头禅", "a cartoon's catchphrase"),
    ("班上有个小朋友发烧到40度被接走了，教室消毒了吗", "a classmate's fever"),
    ("我自己这两天发烧38度9，老头子倒是恢复得挺好", "the writer's own fever"),
    ("青光眼要终身用药，想想都头痛，不过手术做得很好，5分", "a worry, not a headache"),
    ("以前 一 爬 楼 就 胸 痛 现在 放 了 支架 一点 都 不 痛 了", "spaced out, and resolved"),
    ("我爸前两天有点糊涂，医生调了药，现在清醒了，认得人了", "confusion cleared"),
    ("胸口疼？没有，一点都不疼了，放心吧", "echoed and answered no"),
    ("昨晚烧到38.2，今天早上37.1了，精神也好了", "the fever is back to normal"),
    ("医生说半年以后管子会自己掉出来，非常满意", "a tube expected to fall out"),
    ("尿都没有异常，挺好", "nothing wrong with the urine"),
    ("头发少了好多，化疗都这样吧，5分", "hair, not a fever (发少 stays)"),
    ("你们去死吧，什么破医院", "a curse, not a wish"),
    ("The swelling is gone, all good now", "gone is better here"),
]

STILL_RED_FLAGS = [
    "出血？没止住！一直在流",
    "孩子胸口疼？要不要去急诊",
    "昨晚烧到38.2，今天早上还是38了",
    "孩子冻得发抖，一直说冷，体温39度",
]

SCORES = [
    ("Overall a 3.", 3),
    ("Dad's carer here. Overall 4. Dr Chen was very kind to him.", 4),
    ("I guess that's a 5", 5),
    ("不太满意，效果一般", 2),
    ("效果一般，不太满意", 2),
    ("满意，很好", 5),
    ("좋아요", 4),
    ("괜찮아요", 3),
    ("별로예요", 2),
    ("안 좋아요", 2),
    ("최고예요!", 5),
    ("给教练打100分，给前台打60分", 3),
    ("给你们打80分，扣的20分扣在教室太冷", 4),
    ("我给80分", 4),
    ("可以的", 3),
    ("挺可以的", 4),
    ("足满意，护士足有耐心", 5),
    ("𠊎阿姆话当满意", 5),
    ("不中不中，老师老换", 2),
    ("给你们一个大鸭蛋", 1),
    ("skin looks so much better, def a 5!!", 5),
]

OPT_OUTS = ["이제 문자 보내지 마세요", "5점. 그만 보내세요", "수신거부", "엄마 돌아가셨어요",
            "잘못 보내셨어요", "不是本人"]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("text", RED_FLAGS)
def test_signs_told_plainly_are_red_flags(parser: str, text: str) -> None:
    assert PARSERS[parser].parse(text).red_flag, text


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("text", "why"), NOT_RED_FLAGS)
def test_their_look_alikes_are_not(parser: str, text: str, why: str) -> None:
    assert not PARSERS[parser].parse(text).red_flag, why


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("text", STILL_RED_FLAGS)
def test_beside_those_exclusions_a_sign_still_counts(parser: str, text: str) -> None:
    assert PARSERS[parser].parse(text).red_flag, text


REASSURED = ["你们说没事，今天", "医生说正常，可是现在", "护士说不要紧，结果今天",
             "复查说没问题，这两天",
             # SMS without punctuation: the reassurance in the same clause as the sign
             "你们说没事 今天", "医生说正常 可是现在", "说没事"]
SIGNS = ["脓", "肿", "伤口红肿", "渗液", "疼", "出血", "咳嗽"]
GROWING = ["更多了", "越来越厉害", "更严重了", "比昨天更厉害了"]


@pytest.mark.parametrize("parser", PARSERS)
def test_a_sign_growing_after_a_reassurance_stays_a_red_flag(parser: str) -> None:
    """Every reassurance × sign × growth word (196 replies): what was said before cannot
    clear a sign said to be growing now."""
    missed = [r + s + g for r in REASSURED for s in SIGNS for g in GROWING
              if not PARSERS[parser].parse(r + s + g).red_flag]
    assert missed == []


@pytest.mark.parametrize(
    ("text", "closed"),
    [("气 短 躺 不 平 晚上 得 坐 着 睡", "气短躺不平晚上得坐着睡"),
     ("5分 满意 谢谢", "5分 满意 谢谢"),  # words, not characters, spaced apart
     ("喂 打分啊 打 那个 四 四分", "喂 打分啊 打 那个 四 四分"),
     ("我 给 四 五 分", "我给四 五分")])  # two numerals keep their space: not 45
def test_a_reply_typed_one_character_at_a_time_is_closed_up(text: str, closed: str) -> None:
    assert normalize(text) == closed


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("text", "score"), SCORES)
def test_ratings_in_these_forms(parser: str, text: str, score: int) -> None:
    assert PARSERS[parser].parse(text).score == score


def test_neither_satisfied_nor_dissatisfied_is_a_3_to_the_rules() -> None:
    # (the model may still ask to confirm it: neutral phrasings are where writers disagree)
    assert PARSERS["rules"].parse("谈不上满意不满意").score == 3


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("text", OPT_OUTS)
def test_korean_stops(parser: str, text: str) -> None:
    assert PARSERS[parser].parse(text).opt_out, text


def test_a_korean_stop_keeps_the_score_beside_it() -> None:
    intent = PARSERS["whole"].parse("5점. 그만 보내세요")
    assert intent.opt_out and intent.score == 5
