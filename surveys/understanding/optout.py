"""Opt-outs: stop contacting this person (docs/labels.md).

Precise rules: a stop word, maybe 再/给我, then a way of contacting ("请别再给我打电话",
"以后不用再联系了"; "取消预约", "不用再打针" and "别再发脾气" name no contact, so they stop
nothing), pinyin typed without the IME, the carriers' stop keyword standing alone anywhere
("5分 TD"), English "stop".  Then, recall first, a stop word near anything message-like, or a
bare stop directive, unless its object is a treatment or it is asked; and last an *unsure*
opt-out, which the engine confirms before anything stops.  Never a stop: asking how to
unsubscribe ("怎么退订"), a denied intent ("我没说要退订"), a preference of time or medium
("晚上别打电话", "别发语音，打字就行").  Word tables: ``optout.toml``.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Final

from surveys.understanding.circumstance import BODY_STAFF_RE
from surveys.understanding.compose import MAX_HITS, alt, each, factor, rx_each, strings, table
from surveys.understanding.evidence import Evidence, make_ev
from surveys.understanding.text import CLAUSE_TAIL_RE, SEP_RE, clause_start, last_separator

# the word tables (optout.toml)
_WORDS: Final = table("optout")

# Opt-out = a stop word + (再/给我/这类...) + a way of contacting; "取消预约", "不用再打针" and
# "别再发脾气" have no contact word after the stop word, so they never opt anyone out.
_OPT_STOPS: Final = strings(_WORDS, "stops")
# "要不要再联系", "用不用通知" ask; they do not refuse.
_OPT_STOP_GUARD: Final = {"不要": "(?<!要不要)", "不用": "(?<!用不用)", "不需要": "(?<!需不需要)"}
_OPT_BETWEEN: Final = r"(?:再|也|都|给|跟|和|向|对|找|往|我|们|妈|爸|家|老人|这个|这种|这类|此类|" \
                      r"这些|那些|此|类|任何|接收|收到|的|你们|以后|就){0,5}"
_OPT_CONTACTS: Final = strings(_WORDS, "contacts")
_OPT_GRAMMAR: Final = "|".join((
    rx_each((re.escape(w) + _OPT_STOP_GUARD.get(w, "") for w in _OPT_STOPS),
             _OPT_BETWEEN + alt(_OPT_CONTACTS)),
    each("天天 每天 老是 总是 成天 整天 一天到晚 三天两头",
          r"(?:都|在|给我|追着)?(?:发|打电话|打来|骚扰|问|催)"
          r"(?=$|[,，。.!?！？；;~\s]|短信|消息|信息|这些)"),
    each("手机号 号码 电话号码 联系方式 我的信息 我的资料",
          r"[^。.!?；;]{0,10}(?:删|去掉|移除|注销)"),
    # pinyin typed without the IME, any spacing: "buyao zai lianxi wo le", "bie zai da le";
    # 发/打 only with an object or 了 after them ("bu yao da zhen" is an injection)
    r"b(?<![a-z]b)(?:u ?yao|ie|u ?yong|u ?xu ?yao|u ?bi) ?(?:zai ?)?(?:gei ?wo ?)?"
    r"(?:lian ?xi|lian ?luo|da ?rao|sao ?rao|hui ?fang|fa ?(?:duan ?xin|xin ?xi|xiao ?xi)"
    r"|(?:fa|da)(?= ?(?:le|lai|wo|dian ?hua|guo ?lai)\b|$|[,.!~]))",
    # the sender blocked: "这个号码我已经设置拦截了" (not "短信被拦截了": a spam filter)
    "拦截(?:(?<=设置拦截)|(?<=设了拦截)|(?<=已经拦截)|(?<=已拦截)|(?<=加入拦截)|(?<=我拦截)"
    "|(?<=给拦截)|(?<=设拦截)|(?=了?(?:你们|这个号|此号|这号|该号|名单)))",
))
# English "stop" at the end of a reply with no other English: "4分 stop", "满意 STOP"
OPT_EN_END_RE: Final = re.compile(r"[^a-z]*?(stop)[\s.!]*")
# English: "stop" opening the reply, whatever follows ("STOP please", "Stop it.").
OPT_EN_RE: Final = re.compile(
    r"(?:please |pls |plz )?stop\b(?! (?:the )?(?:bleed|pain|hurt|by|at|in|over))")
# What follows 发 (or a stop word) when it is the body or a treatment, not a message: "发烧",
# "发炎", "还发臭", "眼睛发花", "不要再发胖"; with 针 after a stop word ("不用再打针").
_BODY_AFTER: Final = "烧热炎脓抖冷麻胖育现生票表芽烫痒红紫黑白肿作病臭花脾火"
_OPT_FALSE_AFTER_RE: Final = re.compile(
    "[" + _BODY_AFTER + "针]" + r"|点滴|吊瓶|疫苗|石膏")
# Built-in opt-out intent: a "don't" word, maybe 再, maybe "给我", then a contact verb
# ("请别再给我打电话", "以后不用再联系了", "不要再给我发这些").  Lexicon entries cover the
# fixed phrases; this covers the combinations.  打/发 need an object or 了 after them so
# that "不要再发烧" or "不用再打针" never opt anyone out.
_OPT_PHRASES: Final = (
    r"(?:别|不要|不用|不必|无需|不需要|请勿|勿|甭|莫|不想|不希望|不准|禁止)再?"
    r"(?:给我|跟我|和我|向我|对我|找我|往我这|往我)?(?:们)?"
    r"(?:打电话|打来|来电|打给我|打我电话|打扰|骚扰|联系|回访|推送|通知我|发短信|发信息|发消息|"
    r"发微信|发这|发那|发啦|发了|发过来|发来|发给我|打了|打啦|call|text)"
    # "不麻烦你们打电话了"; "说过多少遍了，怎么还发"
    r"|不(?:用|必)?再?麻烦(?:你们|您们|你|您)?再?(?:打电话|打来|回访|联系|发短信|发消息|发信息)"
    # traditional usage: "請不要再傳簡訊給我"
    r"|(?:别|不要|不用|请勿|勿)再?(?:给我)?传(?:简讯|讯息|短信|消息)"
    r"|说(?:过|了)(?:多少|好几|几|无数|很多|n)[遍次回]了?[^。!?]{0,8}?还(?:在|要|是)?(?:发|打)"
)
OPT_COMPOSED_RE: Final = re.compile(factor(_OPT_PHRASES + "|" + _OPT_GRAMMAR))
# Codes compared with the raw reply: carriers' "reply N to unsubscribe" is an upper-case N,
# while a lower-case "n" stays a plain "no" (to "您是打4分吗?").
RAW_OPT_OUT: Final = frozenset(("N",))
# Someone other than us after a stop word: "不用再问医生了吧", "别再找那个护士".
_OPT_OBJECT_AFTER_RE: Final = re.compile(
    r"[再也都]{0,2}(?:问|找|麻烦|联系)?(?:一下)?(?:医生|大夫|护士|老师|别人|主任|药)")

# Opt-out: a stop word and a message-like word in one clause (either order), or a clause that
# is nothing but a stop directive ("取消掉吧", "停了吧").  Not when the stop word's object is a
# treatment or an appointment ("取消下周的复查", "不用再换药"), nor when it is asked
# ("要不要再联系", "不需要再来复诊了吧?").
OPB_STOP_RE: Final = re.compile(factor("|".join((
    "不需要", "不想要", "不想再", "不想收", "不想接", "不想答", "不想填", "不想参加", "不想被",
    "不要(?<!要不要)(?!紧)", "不用(?<!用不用)", "用不着", "不必", "无需",
    "别(?<![特区分级差告鉴识派性类辨]别)(?!人|的|处|说|客气|急|担心|忘)",
    "甭", "莫", "勿", "取消", "退订", "退掉", "移除", "移出", "删除", "删掉", "删了", "去掉",
    # (not the stool: "拉黑便"; nor a medicine or a class stopped: "药停了就复发")
    "撤掉", "撤了", "注销", "拉黑(?![便屎])", "屏蔽", "停止", "停掉", "停了(?<![药课班针骤]停了)",
    "关了", "关掉", "关闭",
    "免了", "算了", "不参加", "不参与", "不填", "不答", "拒绝", "拒收", "不接受", "不再",
    "消停", "烦死", "好烦", "太烦", "很烦", "烦不烦",
    "烦(?<!麻烦)(?<!其烦)(?<!耐烦)(?![躁恼琐请你您劳])",
    "天天问", "天天发", "老是问", "每次都问", r"退(?=$|[,，。!?！？~\s吧啦])",
    "take me off", "no more", "don't want", "do not want", "don't text", "don't message",
    "don't call", "don't email", "don't contact", "do not text", "do not message",
    "do not call", "do not contact", "stop (?:text|messag|call|send|email|contact)",
    "leave me alone", "unsubscribe", "remove me", "opt out", "not interested", "rather not",
    "remove my", "take my", "quit", "免打扰", "do not send", "don't send", "don't bother",
    "do not bother", "stop", "never (?:text|messag|call|contact)",
))))
_OPB_MESSAGE_RE: Final = re.compile(
    r"再管|跟进|跟踪|关心|问候|消息|信息|短信|通知|推送|推了|推给|问卷|调查|回访|随访|电话|来电|(?<!玩)手机|提醒|订阅|服务|名单|"
    r"联络|营销|广告|优惠|推销|"
    r"机器人|满意度|打扰|联系|发(?![" + _BODY_AFTER + r"])|问我|问了|"
    r"再问|找我|烦我|骚扰|打来|打我|收到|接收|评价|打分|这种|这些|这类|此类|任何|list|text|"
    r"message|sms|call|email|these|this|survey|contact|number|send|texting|bother|管我")
_OPB_BARE_RE: Final = re.compile(
    r"(?:请|麻烦|帮我|给我|都|就)*(?:取消|退订|退掉|停了|停掉|停止|关了|关掉|删除|删掉|"
    r"不需要|不想要|不要了|不用了|免了|算了)(?:掉|一下|了|吧|啦|呗|哦|谢谢|关了|关了|停了)*"
    # quitting: "退", "我直接退了算了" (not "烧退了")
    r"|(?:我|那|就|直接|干脆)*退(?:了算了|出|吧|啦)?")
_OPB_OBJECT_RE: Final = re.compile(
    r"预约|复查|复诊|挂号|手术|换药|打针|吃药|药|治疗|检查|来医院|回来|拆线|订单|课|交费|缴费|"
    r"担心|紧张|害怕|客气|着急|麻烦你|谢|吃|喝|碰|沾水|刷牙|运动|抽烟|喝酒|熬夜|辛苦|惦记|挂念|牵挂"
    r"|面对|受罪|遭罪|忍受|吃苦"
    r"|玩|写作业|看电视|打游戏|给孩子买|买零食"
    r"|记挂|操心|费心")
OPB_QUESTION_RE: Final = re.compile(
    r"吗|吧[?？]|么[?？]|[?？]|要不要|用不用|需不需要|能不能|可不可以")


_THIRD_PARTY_CALL_RE: Final = re.compile(r"推销|广告|诈骗|中介|快递|贷款|保险")
# "这些" after a treatment is the treatment's ("不用再面对这些了"), not our messages
_DEMONSTRATIVES: Final = frozenset(("这些", "这种", "这类", "此类", "任何"))
_RATING_AFTER_RE: Final = re.compile(
    r"[吧啦了,，。.…~\s]*(?:那|就|还是)?(?:给|打|评)(?:个|你们)?\s?[\d一二三四五两]")
_OPB_SELF: Final = frozenset(strings(_WORDS, "self_stops"))


# Annoyance counts anywhere in the reply when the reply also complains of how often we write:
# "怎么又发，烦死", "发这么多干嘛，烦" (not "每天都疼，烦死了": nothing is sent there).
_FREQ_SEND_RE: Final = re.compile(
    r"(?:又|老|总|一直|天天|每天|成天|整天|一天到晚|三天两头|这么多|那么多|频繁)"
    r"[^,，。!?]{0,3}(?:发(?![" + _BODY_AFTER + r"针])|问"
    r"|打电话|打来|推|短信|消息|信息)"
    r"|发(?:这么|那么)多|[一每]天[^,，。!?]{0,3}[条遍回]|发了?[两三四五六七八九十几好多\d]+[条遍次回]"
    r"|[两三四五六七八九十几好\d]+条")


# A preference about how or when we write, not a refusal: "晚上别打电话", "别发语音，打字就行",
# "上班时间不要打来".  A time or a medium narrows the stop word, or another way is offered.
_PREF_TIME_RE: Final = re.compile(
    r"(?:晚上|白天|早上|上午|中午|下午|夜里|半夜|周末|工作日|上班|上课(?!通知|提醒)|开会|睡觉"
    r"|[\d一二三四五六七八九十]+点)"
    r"[^,，。!?；;\s]{0,4}$")
# ... or right after it: "别太早发", "不要半夜打"
_PREF_WHEN_AFTER_RE: Final = re.compile(
    r"(?: me)? (?:during|while|before|after|until) |(?: me)? at (?:work|night)\b"
    r"|[再]?(?:太早|太晚|那么早|那么晚|这么早|这么晚|大清早|一大早|半夜|晚上|早上|上班时间)")
# ... or a later time offered: "别打了，在开会，下午三点以后再打" (not "以后也别再打")
_PREF_LATER_RE: Final = re.compile(
    r"(?:以后|之后|过后|晚点|晚些|等会儿?|一会儿?|待会儿?|回头|改天|明天|下午|晚上|中午|下班"
    r"|下(?:个)?(?:礼拜|星期|周|月)|过[两几一]天"
    r"|[\d一二三四五六七八九十]+点)[^,，。!?；;别不勿莫甭]{0,4}再(?:打|联系|发|说|call)"
    # ... or a call back promised: "别打了 我在开车 晚点回你", "晚点我打回去"
    r"|(?:晚点|晚些|等会儿?|一会儿?|待会儿?|回头|稍后)[我再]{0,2}"
    r"(?:回你|回电|回复你|打回|回过去|给你回|联系你)"
    r"|call (?:me )?(?:back )?(?:later|after|tomorrow|in the (?:afternoon|evening))")
# ... or WeChat asked for instead: "能不能发微信别打电话了", "WeChat is better"
_PREF_WECHAT_RE: Final = re.compile(
    r"(?:能不能|能否|可不可以|可以|请|麻烦|就|还是|改成?|换成?)(?:以后)?(?:只|直接)?(?:发|用|走|通过)(?:个)?"
    r"(?:微信|短信|文字)(?![^,，。!?；;]{0,3}(?:也|都)(?:别|不要|不用))"
    r"|(?:微信|短信|文字)(?:更好|比较好|更方便|方便些|方便点|好点|好些|就行|就好)"
    r"|wechat (?:is|would be|works) (?:better|fine|easier|ok)|(?:via|by|on|use|over) wechat"
    r"|wechat instead|text (?:me )?instead")
_CALL_STOP_RE: Final = re.compile(r"打|电话|call|ring|phon")
_PREF_MEDIUM_RE: Final = re.compile(r"[再给我]{0,3}(?:发|打)?(?:语音|视频|长语音)")
# a change of medium: "能不能帮我把回访改成微信，不要打电话"
_PREF_CHANGE_RE: Final = re.compile(
    r"(?:改成|换成|改用|改为|改到|换到|转到)(?:发|打)?(?:微信|短信|邮件|企业微信|文字|打字|电话)")
_PREF_OTHER_RE: Final = re.compile(
    r"加(?:我|一下)?(?:的)?(?:微信|企业微信|qq)|"
    # another way or number offered: "有事发微信", "打我家座机"
    r"有事(?:直接|就)?(?:(?:发|打|找)(?:微信|短信|电话|我)|(?:微信|短信)留言)"
    r"|打(?:我)?(?:家|家里)?(?:的)?(?:座机|固话)|"
    r"发(?:到)?我(?:自己)?(?:的)?(?:手机|号码|号|微信)上?(?:就行|就好|就可以)|"
    r"(?:打字|发短信|发微信|发消息|发信息|短信|微信|文字|白天|晚上|上午|下午|周末|工作日)"
    r"[^,，。!?；;]{0,4}(?:就行|就可以|就好|都可以|都行|可以|行)(?!吗)")


# An unsubscribe asked not to be done: "别给我退订啊", "我不想取消", "不用帮我退订".
_STOP_ACTIONS: Final = frozenset(strings(_WORDS, "stop_actions"))
_DONT_BEFORE_RE: Final = re.compile(r"(?:别|不要|不想|不用|不必|千万别)(?:给我|帮我|把我)?$")
# Negated intent: "我没说要退订啊", "我不是不想回访，是信号不好", "并不是要取消提醒".  A wrong
# opt-out silences a patient, so a stop word right after "I did not say / it is not that" is
# no stop.  The gap admits only words that keep the negation on the intent (要, 想, 说...);
# "这不是骚扰吗" is rhetorical and stays an opt-out.
_OPT_NEG_INTENT_RE: Final = re.compile(
    r"(?:没说|没有说|没讲|(?<![这那岂])不是说|并不是|(?<![这那岂要])不是|没有要|没要|并没有?"
    r"|谁说|哪有说|哪里说)"
    r"(?:过|我|们|你们|要|想|真的|是|说|就)*$")


# A plan or threat given up with 算了 (optout.toml ``withdrawn_plans``), nothing of our
# messages after it: "本来要打12345的，就算了" (but "算了，别再发了" is a stop).
_WITHDRAWN_RE: Final = re.compile(alt(strings(_WORDS, "withdrawn_plans")))
_MESSAGE_AFTER_RE: Final = re.compile(
    r"短信|消息|信息|电话|回访|随访|推送|通知|问卷|提醒|打扰|联系|别[再]?[发打]|不要[再]?[发打]")


# An unsubscribe footer quoted and turned down: "短信后面写着回T退订 我不退".
_DECLINED_AFTER_RE: Final = re.compile(
    r"[^。!?]{0,12}?(?:我|俺|但|可|就)[^,，。!?；;]{0,2}(?:不退|不会退|不想退|没退|不退订|不取消)"
    r"(?![烧热费款学])"
    r"|[^.!?]{0,24}?\bi (?:don't|do not) want to(?! (?:get|receive|hear))")


def _declined_after(norm: str, e: int) -> bool:
    """The stop word ending at ``e`` is quoted and then turned down."""
    return _DECLINED_AFTER_RE.match(norm, e) is not None


def _plan_given_up(norm: str, s: int, word: str) -> bool:
    """The 算了 at ``s`` gives up a plan or threat told before it, not our messages."""
    return word.endswith("算了") and _WITHDRAWN_RE.search(norm, 0, s) is not None and \
        _MESSAGE_AFTER_RE.search(norm, s) is None


def _taken_back(norm: str, s: int, e: int, word: str) -> str | None:
    """Why the stop word ``word`` at ``norm[s:e]`` is said and not meant (None if it is):
    the intent denied, a plan given up with 算了, or a quoted footer turned down."""
    if s and _negated_intent(norm, s, word):
        return "intent denied"
    if _plan_given_up(norm, s, word):
        return "a plan given up"
    if _declined_after(norm, e):
        return "quoted and declined"
    return None


def _negated_intent(norm: str, s: int, word: str = "") -> bool:
    """The stop word at ``s`` follows a denial of the intent: "我没说要退订", "不退订"."""
    if norm[s - 1] == "不" and not norm.startswith("要不", s - 2):
        return True  # "不退订，继续发吧", "流个不停" (but "要不退订算了": let's)
    if word in _STOP_ACTIONS and _DONT_BEFORE_RE.search(norm, max(0, s - 6), s) is not None:
        return True  # "别给我退订啊", "我不要退订"
    return _OPT_NEG_INTENT_RE.search(norm, max(0, s - 9), s) is not None


def _preference(norm: str, cs: int, s: int, e: int) -> bool:
    """The stop word at ``norm[s:e]`` (clause from ``cs``) narrows how or when we write."""
    # a later time or WeChat offered narrows only a stop of calls ("别打了，下午三点以后再打");
    # "别再发了，晚上再说" still stops the messages
    sep = SEP_RE.search(norm, e)
    calls = _CALL_STOP_RE.search(norm, s, sep.start() if sep else len(norm)) is not None
    return (_PREF_TIME_RE.search(norm, cs, s) is not None
            or _PREF_WHEN_AFTER_RE.match(norm, e) is not None
            or (calls and _PREF_LATER_RE.search(norm, e) is not None)
            or (calls and _PREF_WECHAT_RE.search(norm) is not None)
            or _PREF_MEDIUM_RE.match(norm, e) is not None
            or _PREF_OTHER_RE.search(norm) is not None
            or _PREF_CHANGE_RE.search(norm) is not None)


# Quitting or a refund done, with a complaint about our messages: "孩子早就退费了，你们这样一直
# 发有意思吗" (not "烧已经退了": a fever).
_QUIT_DONE_RE: Final = re.compile(
    r"(?:退费|退款|退学|退课|退卡|退班)了|(?<![烧热肿温])(?:早就|已经|早)退了|不学了|不上了")


def _quit_and_pestered(norm: str) -> tuple[int, int] | None:
    """Span of a quit or refund done when the reply also complains of our messages."""
    qm = _QUIT_DONE_RE.search(norm)
    if qm is None:
        return None
    fm = _FREQ_SEND_RE.search(norm)
    if fm is None or BODY_STAFF_RE.search(
            norm, clause_start(norm, fm.start()), fm.start()) is not None:
        return None
    qe = SEP_RE.search(norm, qm.end())
    if OPB_QUESTION_RE.search(norm, clause_start(norm, qm.start()),
                               qe.start() if qe else len(norm)) is not None:
        return None  # "退费了吗": asked, not done
    return qm.span()


def _opb_hit(norm: str) -> tuple[int, int] | None:
    """Span of a broad opt-out in ``norm``, or None."""
    for m in islice(OPB_STOP_RE.finditer(norm), MAX_HITS):
        s, e = m.span()
        if "烦" in m.group():
            fm = _FREQ_SEND_RE.search(norm)
            if fm is not None and BODY_STAFF_RE.search(
                    norm, clause_start(norm, fm.start()), fm.start()) is None:
                return s, e  # (not "护士又问了一遍，烦": a staff member asked)
        if _OPT_OBJECT_AFTER_RE.match(norm, e) is not None:
            continue  # "不用再问医生了吧": someone else is asked, not us
        if _taken_back(norm, s, e, m.group()):
            continue  # "我没说要退订"; "本来想投诉的，算了"; "回T退订 我不退"
        cm = last_separator(CLAUSE_TAIL_RE, norm, s)
        cs = cm.start() + 1 if cm else 0
        cem = SEP_RE.search(norm, e)
        ce = cem.start() if cem else len(norm)
        clause = norm[cs:ce]
        if m.group() in ("拉黑", "屏蔽") and _THIRD_PARTY_CALL_RE.search(norm, cs, s):
            continue  # "把那个推销电话拉黑了": someone else's calls
        if m.group() == "算了" and _RATING_AFTER_RE.match(norm, e) is not None:
            continue  # "收费处的态度……算了，给个3分": a grievance let go, then a rating
        if _OPB_BARE_RE.fullmatch(clause.strip(" ~")) or m.group() in _OPB_SELF:
            return s, e
        if m.group() == "退":
            continue  # only a bare "退" quits: "烧退了" does not
        if _preference(norm, cs, s, e):
            continue
        # English words are longer: "don't want to be contacted", "rather not get any more"
        reach = 28 if norm[s].isascii() else 10
        after = norm[e:min(ce, e + reach)]
        near = norm[max(cs, s - 12):min(ce, e + reach)]
        if _OPB_MESSAGE_RE.search(near) is None:
            continue
        om = _OPB_OBJECT_RE.search(after)
        mm = _OPB_MESSAGE_RE.search(after)
        if om is not None and (mm is None or om.start() < mm.start()) and \
                not (mm is not None and mm.start() - om.end() <= 1 and
                     mm.group() not in _DEMONSTRATIVES):
            # "取消下周的复查", "不用再换药": a treatment, not a message (but "不需要复查提醒":
            # the treatment names the message)
            continue
        if OPB_QUESTION_RE.search(clause) and not _OPB_MESSAGE_RE.search(after[:4]):
            continue  # "我不需要再来复诊了吧?": asked, not refused
        return s, e
    return None


# Unsure opt-out (recall first, confirmed by the engine before anything stops): people say "stop
# contacting me" indirectly in endless ways ("一直发一直发，求放过", "还发什么钢琴课回访",
# "以后有事我自己会联系你们").  A reply that mentions our messages, calls or follow-up (or
# addresses us) together with any stop, annoyance or refusal cue, which the precise rules left
# undecided, is an opt-out that the engine asks about once.  Not when the cue is about a
# treatment, the body or someone else ("别担心", "不用打针", "不要再发烧"), a denied intent, or
# a preference of time or medium ("白天打就行", "能不能把回访改成微信，不要打电话").
# Every alternative starts with a literal character (look-behinds after it, no [不别] or \b
# first) so that re skips to the possible first characters instead of trying each position.
UNSURE_STOP_RE: Final = re.compile(
    r"别(?<![特区分级差告鉴识派性类辨]别)(?!人|的|处|说|客气|急|担心|忘|家|院|提|扭|看|太|动|那么|这么)"
    r"|不要(?<![要用说]不要)(?!紧|钱|脸)|不用(?<![用说]不用)(?!谢|客气|担心|排|等|花|交|付|打码)"
    r"|甭(?!提|说|管|想|跟我来)"
    # (not a heart stopped, nor a class or a medicine: "心跳骤停", "书法班停了")
    r"|莫(?<!阿莫)(?!名|西|非)|勿|停(?<![骤暂班课药]停)(?!车|药|留|电|水)|够了"
    r"|烦(?<!麻烦)(?<!其烦)(?<!耐烦)|消停|有完没完|没完没了|还发|还打|还在发|骚扰|拉黑|不麻烦|放过"
    r"|轰炸|太频繁|受不了|不参与|不参加|算了|少发|少打|饶了|不需要|无需|用不着|不想再|不想收"
    r"|不想接|不想回|不再|别再|群[^,，。!?]{0,2}退|有事[我再]?(?:自己)?会?(?:联系|找|打给)(?!我)"
    r"|no more\b(?<!\wno more)|stop\b(?<!\wstop)|enough\b(?<!\wenough)")
_UNSURE_MSG_RE: Final = re.compile(
    r"短信|消息|信息|电话|来电|回访|随访|推送|通知|问卷|调查|满意度|群|提醒|打扰|联系|(?<!玩)手机"
    r"|发(?![" + _BODY_AFTER + r"])|打(?:来|给|过来|我)|找我|你们|您们"
    r"|\b(?:msgs?|texts?|calls?|messages?|sms|survey|you)\b")
# what follows a cue that makes it about something other than our messages
_UNSURE_OTHER_AFTER_RE: Final = re.compile(
    r"[再也都了]{0,2}(?:[低高" + _BODY_AFTER + r"针]|点滴|吊瓶|疫苗"
    r"|石膏|吃|喝|碰|沾|刷|运动|抽烟|喝酒|熬夜|着急|紧张|害怕|哭|疼|痛|来医院|来复查|复查"
    r"|复诊|换药|拆线|手术|治疗|检查|挂号|排队|付|交钱|担心|怕|惦记|挂念|牵挂|记挂|操心|费心|玩"
    r"|给孩子|买)")
# a preference of time or medium, not a refusal ("白天打就行", "微信联系我")
_UNSURE_PREF_RE: Final = re.compile(
    r"(?:微信|短信|文字|打字)(?:联系|沟通|说|发|通知)"
    r"|(?:白天|晚上|上午|下午|周末|工作日|[\d一二三四五六七八九十]+点)[^,，。!?]{0,3}(?:打|发|联系)")


def _unsure_opt_out(norm: str) -> tuple[int, int] | None:
    """Span of the stop cue of an unsure opt-out (see ``UNSURE_STOP_RE``), or None."""
    if _UNSURE_MSG_RE.search(norm) is None or _UNSURE_PREF_RE.search(norm) is not None:
        return None
    for m in islice(UNSURE_STOP_RE.finditer(norm), MAX_HITS):
        s, e = m.span()
        if _UNSURE_OTHER_AFTER_RE.match(norm, e) is not None or \
                _OPT_OBJECT_AFTER_RE.match(norm, e) is not None:
            continue
        cs = clause_start(norm, s)
        if m.group() == "拉黑" and _THIRD_PARTY_CALL_RE.search(norm, cs, s) is not None:
            continue
        if _taken_back(norm, s, e, m.group()):
            continue
        if m.group() == "算了" and _RATING_AFTER_RE.match(norm, e) is not None:
            continue  # a grievance let go, then a rating
        if m.group() in ("少发", "少打"):
            sm = SEP_RE.search(norm, e)
            if OPB_QUESTION_RE.search(norm, cs, sm.start() if sm else len(norm)) is not None:
                continue  # "能少发点吗": asked, not a stop
        if _preference(norm, cs, s, e):
            continue
        return s, e
    return None


# The carriers' stop keyword standing alone: "TD" in any case, a capital "T" (raw text).
_TD_TOKEN_RE: Final = re.compile(r"(?<![a-z0-9])td(?![a-z0-9])")
_T_TOKEN_RE: Final = re.compile(r"(?:^|(?<=[\s,，。.!！~、]))T(?=$|[\s,，。.!！~、])")
# Asking about stopping rather than stopping: how, what it means, what follows.
_STOP_WORD: Final = (r"(?:退订|td|回t|取消(?:订阅|推送|提醒|短信)?|不收|不再收|停止接收|退出"
                     r"|unsubscribe)")
_ASKED_STOP_RE: Final = re.compile(
    r"(?:怎么|如何|怎样|咋|怎么样|要怎么|该怎么|怎么才能|how (?:do|can|to))[^,，。!！\n]{0,8}?"
    + _STOP_WORD +
    r"|" + _STOP_WORD + r"的话[^。!！]{0,16}?(?:吗|么|[?？]|是不是|会不会)"
    r"|" + _STOP_WORD + r"[^,，。!！\s]{0,8}?(?:怎么|如何|怎样|咋弄|回复什么|回什么|是什么|什么意思"
    r"|是不是|是吗|对吗|吗|要收费|收费|要钱|还能|还会|以后还|的话回复|要回复|回复啥|啥意思)"
    # a footer quoted, asked whose it is or what it costs: "后面写着回T退订 是你们发的吗"
    r"|回复?(?:td|t)(?![a-z])[^。!！]{0,30}?(?:是你们发的|你们发的吗|是不是你们|扣话费|扣费|收费"
    r"|要钱|骗子|诈骗|什么意思|啥意思)")


# A stop already sent, and our messages still come: "回T了怎么还发", "我回了三次TD了还在发",
# "之前不是回过TD了吗？怎么还能收到" -- the stop said again, however it is asked (not "退订了
# 还会收到复查提醒吗": what a stop would do).
_STOP_SENT_RE: Final = re.compile(
    r"回(?:复)?(?:了|过)?[^,，。!?；;]{0,4}?(?:td|t)(?![a-z])|退订(?:了|过)|已经退订|早就退订"
    r"|取消(?:了|过)订阅")
_STILL_SENT_RE: Final = re.compile(
    r"(?:怎么|咋|为什么|为啥)(?:还|又)|还(?:在|是|一直)?(?:发|收到|打来|推送)|照样(?:发|收到|打)"
    r"|是摆设|不管用|没有?用")


def _stop_sent_yet_sent(norm: str) -> tuple[int, int] | None:
    """Span from a stop already sent to the complaint that messages still come, or None."""
    sm = _STOP_SENT_RE.search(norm)
    if sm is None:
        return None
    am = _STILL_SENT_RE.search(norm, sm.end())
    return (sm.start(), am.end()) if am is not None else None


def keyword_why(norm: str, s: int, e: int, text: str) -> str | None:
    """Whether an opt-out rule's hit at ``norm[s:e]`` stands: None if it does, "" if it is
    no stop at all, else why it is denied (recorded as ``opt_out_denied``)."""
    if text in ("拉黑", "屏蔽") and _THIRD_PARTY_CALL_RE.search(
            norm, clause_start(norm, s), s) is not None:
        return ""  # "把那个推销电话拉黑了": someone else's calls
    if text == "拉黑" and norm.startswith(("便", "屎"), e):
        return ""  # "拉黑便": a black stool, not a blocked number
    if _OPT_OBJECT_AFTER_RE.match(norm, e) is not None:
        return ""  # "不用再问医生了吧": someone else is asked, not us
    if text[0] == "不" and s and norm[s - 1] == text[1:2]:
        return ""  # "要不要再联系", "用不用回访": asking, not refusing
    if text[-1] in "发打" and _OPT_FALSE_AFTER_RE.match(norm, e):
        return ""  # "不要再发烧", "不用再打针": a body or a treatment, not a message
    if _preference(norm, clause_start(norm, s), s, e):
        return "a preference"
    return _taken_back(norm, s, e, text)


def settle_opt_out(raw: str, norm: str, may_opb: bool, may_unsure: bool, ev: list[Evidence],
            flags_hit: dict[str, bool], opt_spans: list[tuple[int, int]]
            ) -> tuple[list[Evidence], list[tuple[int, int]], bool]:
    """After the precise rules: the broad stop words, a quit with messages going on, the
    carriers' stop keyword, a stop asked about, and the unsure opt-out.

    Sets ``flags_hit["opt_out"]``; returns the evidence, the spans of the stops and whether
    the opt-out is unsure (each may be new lists: a stop asked about removes the stops).
    """
    n = len(norm)
    if "opt_out" not in flags_hit and may_opb and OPB_STOP_RE.search(norm) is not None:
        span = _opb_hit(norm)
        if span is not None:
            flags_hit["opt_out"] = True
            opt_spans.append(span)
            ev.append(make_ev("opt_out", span, norm[span[0]:span[1]], None, "stop word"))
    if "opt_out" not in flags_hit and ("退" in norm or "不学" in norm or "不上" in norm):
        span = _quit_and_pestered(norm)
        if span is not None:
            flags_hit["opt_out"] = True
            opt_spans.append(span)
            ev.append(make_ev("opt_out", span, norm[span[0]:span[1]], None,
                          "quit, and the messages go on"))
    if "opt_out" not in flags_hit and ("td" in norm or "T" in raw):
        # the carriers' stop keyword as a word of its own, anywhere: "5分 TD", "TD，谢谢"
        km = _TD_TOKEN_RE.search(norm)
        tspan = km.span() if km is not None else (
            (0, n) if _T_TOKEN_RE.search(raw) is not None else None)
        if tspan is not None:
            flags_hit["opt_out"] = True
            opt_spans.append(tspan)
            ev.append(make_ev("opt_out", tspan, norm[tspan[0]:tspan[1]], None, "stop keyword"))
    if flags_hit.get("opt_out") and _ASKED_STOP_RE.search(norm) is not None:
        # "怎么退订", "回复TD是退订吗": asking how (or what it means) is no stop
        am = _ASKED_STOP_RE.search(norm)
        assert am is not None
        flags_hit["opt_out"] = False
        opt_spans = []
        ev = [x for x in ev if x.rule != "opt_out"]
        ev.append(make_ev("opt_out_denied", am.span(), am.group(), None, "asked about"))
    if not flags_hit.get("opt_out") and ("退订" in norm or "回" in norm):
        span = _stop_sent_yet_sent(norm)
        if span is not None:
            flags_hit["opt_out"] = True
            opt_spans.append(span)
            ev = [x for x in ev if x.rule != "opt_out_denied"]
            ev.append(make_ev("opt_out", span, norm[span[0]:span[1]], None,
                              "a stop already sent, and the messages go on"))
    opt_out_unsure = False
    # (an unsure stop beside a red flag is a reading of the emergency: "血一直没停过")
    if "opt_out" not in flags_hit and "red_flag" not in flags_hit and may_unsure and \
            UNSURE_STOP_RE.search(norm) is not None and \
            not any(x.rule == "opt_out_denied" for x in ev):
        span = _unsure_opt_out(norm)
        if span is not None:
            flags_hit["opt_out"] = opt_out_unsure = True
            ev.append(make_ev("opt_out_unsure", span, norm[span[0]:span[1]], None,
                          "stop cue near our messages; confirm before stopping"))
    return ev, opt_spans, opt_out_unsure


def optout_hits(norm: str, hits: list[tuple[str, bool, int, int]]) -> None:
    """The composed opt-out rules' matches, as (kind, mild, start, end) in ``hits``."""
    first = OPT_COMPOSED_RE.search(norm)
    if first is not None:
        for tm in islice(OPT_COMPOSED_RE.finditer(norm, first.start()), MAX_HITS):
            hits.append(("opt_out", False, tm.start(), tm.end()))
