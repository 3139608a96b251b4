"""Whether a sign told is denied, resolved or improving, mild, or only supposed.

A resolution said not to have happened ("没止住", "还没消下去", "一点没好转", "烧到现在也没
退", "止不住", "退不下去", "流个不停", "the bleeding hasn't stopped") is no resolution: the
symptom goes on, which is itself the warning (:data:`NEG_RESOLUTION_RE`).  A faint is never
resolved by coming round (:func:`fainted`).  The patterns here are shared by the exclusions of
:mod:`surveys.understanding.safety`, :mod:`.circumstance` and :mod:`.selfharm`.
"""

from __future__ import annotations

import re
from typing import Final

from surveys.understanding.compose import factor, strings, table
from surveys.understanding.text import bounds

NEG_RESOLUTION_RE: Final = re.compile(
    r"(?:没有?|未|还没有?|一直没有?|也没有?|都没有?|并没有?|一点没|一点都没|一点也没|丝毫没|毫无"
    r"|不见|无法|不)[^,，。!?；;]{0,2}?(?:止住|止血|止|退|消|好转|缓解|减轻|好|停|降|改善|恢复"
    r"|下去|见好|变小|收口|愈合)"
    r"|(?:止|退|消|降|压|好|停|下|收)不(?:住|下|了|去|来)"
    # English: "the bleeding hasn't stopped", "won't come down", "not getting any better"
    r"|(?:n't|\bnot|\bnever|\bno)(?: yet| really| at all)? (?:stop|go(?:ne|ing)? down|come down|"
    r"coming down|settl|eas|improv|(?:get(?:ting)? |any )?better|subsid|clear|ease)")


def resolution_negated(norm: str, start: int = 0, end: int | None = None) -> bool:
    """Whether ``norm[start:end]`` says a resolution has not happened."""
    return NEG_RESOLUTION_RE.search(norm, start, len(norm) if end is None else end) is not None


RF_DENY_BEFORE_RE: Final = re.compile(
    r"(?:没(?!有?用(?=$|[,，。.!?；;~\s了啊呀的])|有?效)有?|不(?![如过管仅但开住起动清下来上是])|未|无|不再|不怎么|没那么|不太|(?<!是)不是|并没有?|也没有?"
    r"|都没有?|已经不|已不|"
    r"如果|要是|万一|假如|会不会|是否|怕|担心|预防|防止|避免|以免|注意|有没有|如有|若|会)"
    r"[^,，。.!?；;]{0,3}$"
)
RF_RESOLVED_AFTER_RE: Final = re.compile(
    r"[^。.!?；;]{0,12}?(?:退了|退烧了|已退|止住|(?<!应该就)(?<!应该会)(?<!估计就)(?<![两几一]天就)好了|好多了|好很多|消了|消肿了|"
    r"减轻(?<!不减轻)(?<!没减轻)(?<!没有减轻)(?<!未减轻)(?<!无法减轻)|缓解(?<!不缓解)(?<!没缓解)(?<!没有缓解)(?<!未缓解)(?<!无法缓解)|(?<![口欲气觉神劲尿])(?<![口欲气觉神劲尿][也都])(?:没有了|没了)|"
    r"不疼了|不痛了|正常了|没事了|已经好|恢复了|不出血了|降下来了|退下去了|消下去|消退|(?<![栽倒摔跌掉滑跪躺吞咽跳坠陷凹瘪塌])下去了|退得差不多|差不多退了|不厉害|不严重|没那么|"
    r"没再|没有再|没出现|好转|稳定了|控制住|压下去|风险|几率|概率|可能性|"
    # "发烧刚退", "血就止了", "吃了药当天就下来了", "黄疸已经降到8点几了"
    r"刚退|(?:就|已经|都|早就)止(?:住)?了|(?:就|已经|都)(?:降|退)?下来了|已经降|"
    r"能忍|可以忍|"
    # English: "my fever ended", "the bleeding went away" (not "ended up worse")
    r"ended(?! up)|went away|subsided|resolved|cleared up|came down|back to normal)"
)
# Entries that count only with a body, wound or excreta word in the same sentence.
RFB_NEEDS_CONTEXT: Final = frozenset(strings(table("redflag"), "needs_context"))
RFB_CONTEXT_RE: Final = re.compile(
    r"伤口|刀口|切口|口子|缝|线|纱布|棉|牙|嘴|口腔|吐|咳|痰|尿|便|拉|手术|腿|脸|身上|皮肤|孩子|"
    r"宝宝|嗓子|喉咙|眼|黑|包|肿|疼|痛|东西|手|脚|浑身|全身|嘴唇|舌|吃|喝|说话|"
    r"他|她|妈|爸|老人|老爷子|老太太")
# Still red flags when the context word is itself a non-body use ("一直哭" etc. need none).
RFB_CONTEXT_EXTRA: Final = {
    "眼前": re.compile(r"眼前[^,，。!?；;]{0,2}(?:一?黑|发黑|发花)"),
    "脸色": re.compile(r"脸色[^,，。!?；;]{0,3}(?:白|青|黄|灰|紫|差|难看)"),
    "胃口": re.compile(r"(?:没|一点)[^,，。!?；;]{0,2}胃口|胃口[^,，。!?；;]{0,2}(?:没|差)"),
    "意识": re.compile(r"意识[^,，。!?；;]{0,3}(?:不清|模糊|不好|没|差)"),
    "停不下来": re.compile(r"(?:哭|吐|拉|咳|抖|抽)[^,，。!?；;]{0,4}停不下来"),
}
# Minor symptoms a softener makes expected ("有点肿", "稍微有点酸"); fever, blood, breathing
# and consciousness words are never softened away.
RFB_MINOR: Final = frozenset("疼痛肿胀酸痒麻咳红烫")
# Discomfort a softener makes mild as well ("有点恶心", "有点难受").
SOFTENABLE: Final = frozenset(("不舒服", "难受", "恶心", "反胃"))
# Dizziness is mild only when softened *and* asked about as normal ("有点晕，要紧不"); fainting
# never is.
ASKED_NORMAL_RE: Final = re.compile(
    r"正常(?:的)?[吗吧么嘛]|正不正常|要紧[吗不么]|要不要紧|没事吧|是不是[^,，。!?；;]{0,6}的[吗吧]?")
RFB_SOFT_BEFORE_RE: Final = re.compile(
    r"(?:有点儿?|有一点点?|一点点|一丁点|一点儿|稍微|稍稍|稍|微微|轻微|略微?|有些|些许|还有点|偶尔)"
    r"[^,，。!?；;]{0,3}$")
RFB_SOFT_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;]{0,4}?(?:是有一点|还是有一点|有一点|有点|一点点|一点)(?![^,，。!?；;]{0,3}"
    r"(?:厉害|严重|大|多))|[^。!?；;]{0,14}?(?:正常(?!的?[吗吧么]|不)|能忍|可以忍|可以接受|"
    r"能接受|不要紧|没关系|没大碍|不碍事"
    # the expected course, as staff told it: "医生说电切后一个月内都会有", "护士说第三天都这样"
    r"|(?:医生|大夫|护士|队医)说[^。!?；;]{0,12}?(?:都会有|都这样|都是这样|就是这样))")
RFB_DENY_BEFORE_RE: Final = re.compile(
    r"(?:没(?!有?用(?=$|[,，。.!?；;~\s了啊呀的])|有?效)有?|不(?![过停断止到行知了好见开住起动清下来上是])|(?<!是)不是|未|无(?![力法])|不再|并没有?"
    r"|从没有?|"
    r"从来没有?|毫无|no more|no|not|never|without|n't|(?<![a-z])(?:mei(?: ?you)?|bu)(?![a-z]))"
    r"[^,，。.!?；;]{0,4}$|(?:消|止|退)$"
    r"|(?:没有?|无|未|不)(?:[^,，。.!?；;]{1,4}[、和或及与跟/])+[^,，。.!?；;]{0,2}$")
RFB_DENY_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;]{0,6}?(?:这些|等)?(?:都|也)?(?:没有?|没出现过?|没出过?|没再出现|不再)"
    r"(?:了|过|呢)?(?=$|[,，。.!?！？；;~\s])"
    # a list closed by "这些(情况)都没有": "发热、红肿、出血这些情况都没有"
    r"|[^。!?；;]{0,20}?(?:这些|这几样|这几个|等)(?:情况|症状|问题|现象)?(?:都|也)?"
    r"(?:没有?|没出现|没发生|不存在)")
# The question echoed, then answered no: "胸口疼？没有，一点都不疼了" (across the "？").
ECHO_DENIED_RE: Final = re.compile(
    r"[^,，。!?；;]{0,4}?\s?[?？]\s?(?:(?:没有|没)(?![^,，。!?；;]{0,3}(?:止|停|退|好|消|减|缓|[吗么]))"
    r"|不是|no\b|nope)")
# Symptoms whose negation ("不怎么疼", "已经不肿") means better; "不怎么应", "已经不能动" do not.
_SYM: Final = r"(?:疼|痛|肿|烧|吐|晕|咳|痒|麻|胀|酸|出血|流血|渗|拉|闷|喘|难受|红)"
# Better, resolved or expected to pass, within 22 characters after a mention (same sentence).
# Every alternative starts with a literal so that re's first-character filter applies: a search
# over the window is several times cheaper than a lazy ".{0,22}?" before the alternation.
_RFB_BETTER_RE: Final = re.compile(factor("|".join((
    "好多了", "好些了", "好点了", "好一些", "好很多", "又好好的",
    # "歇着也不缓解" is no relief
    "减轻(?<!不减轻)(?<!没减轻)(?<!没有减轻)(?<!未减轻)(?<!无法减轻)",
    "缓解(?<!不缓解)(?<!没缓解)(?<!没有缓解)(?<!未缓解)(?<!无法缓解)",
    "消了", "消下去", "消退", "退了",
    "退下去", "不怎么" + _SYM, "没事了", "没事啦", "好转", "变淡", "变小", "变浅",
    "一天比一天(?:轻|小|好|少)", "慢慢(?:好|消|退|小)", "能吃能睡", "基本好了", "就好了",
    "就停了", "就退了", "就止住", "就没了", "就没事", "长好", "好了", "没了(?<!挤没了)", "没有了",
    "止住",
    "已经停", "停了", "已经干了", "结痂了", "收口了", "愈合了",
    # confusion cleared: "现在清醒了，认得人了"
    "清醒了", "清醒过来", "认得人了", "认人了",
    # (asked: "护士说是正常的？" is a question, not a resolution)
    "止血了", "正常(?<!是不是正常)(?<!算不算正常)(?<!正不正常)(?!的?[吗吧么?？])",
    # back to normal: "今早退到37.2了"
    r"退到3(?:[56]|7(?:\.[0-2]|度[0-2]?))(?![\d.])",
    "没事(?![吗吧么])", "没什么事",
    "会(?:好|消|退|恢复)(?![吗么])", "能(?<!不能)(?<!不太能)(?<!才能)(?:吃|喝|睡)", "吃饭了",
    "消得",
    "差不多好", "已经不" + _SYM, "已不" + _SYM, "不" + _SYM + r"[^,，。!?；;]?了",
    r"3(?<![\d.]3)[56](?:\.\d)?(?![\d.])", "降下来", "不疼了", "不痛了", "不肿了", "不烧了",
    # ("has gone rattly" is worse: gone right before a word in -y or worse is a change)
    "不吐了", "不出血了", "不流血了", "better",
    r"gone(?! (?:really |very |a bit |quite |so )?(?:\w+y\b|worse|bad|blue|grey|gray|pale|cold))",
    "stopped", "settled", "fine now",
    "all good", "went down", "improv", "easing", "eased"))))


# Better than before, told as a comparison: "比前两天轻", "轻多了".
_COMPARED_BETTER_RE: Final = re.compile(
    r"比[^,，。!?；;]{0,5}(?:轻|好|小)|(?:轻|小)(?:多了|很多|了很多|了一些|些了|点了)")
# Less of it, for what is bad in itself (bleeding, discharge, cough, pain, vomiting): "渗血但是
# 少多了", "比昨天少很多" -- not for what must not lessen (urine, feeding).
_LESS_RE: Final = re.compile(
    r"[^。!?；;]{0,12}?(?:少多了|少很多|少了很多|少了一些|少些了|少一些了|也少了|比[^,，。!?；;]{0,5}少)")
_LESS_WORDS_RE: Final = re.compile(r"血|渗|脓|咳|吐|疼|痛")


# "正常吗", "正常不正常" ask whether it is normal, "不正常" says it is not; none says anything
# is better (the better-words' own look-arounds do not survive their factoring into one
# pattern)
_ASKED_NORMAL_AT_RE: Final = re.compile(r"正常(?:[吗吧么嘛]|不正常)|(?<=不)正常")
# "正常不？" asks too; beside a sign already told as severe or worse (a precise rule's hit:
# "肿得比做之前还大，正常不") it says nothing is better, beside a vague one ("没劲，正常不")
# it stays the mild sign asked about as expected.
_ASKED_NORMAL_STRICT_RE: Final = re.compile(r"正常(?:[吗吧么嘛]|不)|(?<=不)正常")


# Said right before a better-word, these make it no recovery of the sign: the other side is
# fine ("右边小腿肿起来了 又胀又疼 左边没事"), someone says it is nothing ("他说没事"), or
# something else is gone ("胃口也没了": RF_RESOLVED_AFTER_RE keeps the same words off its 没了).
_NOT_ITS_RECOVERY_RE: Final = re.compile(
    r"(?:另一(?:边|侧|只|条)?|[左右](?:边|侧)?|[这那](?:边|侧))的?"
    r"(?:小腿|大腿|腿|手臂|胳膊|手|眼睛|眼|脚|耳朵|耳)?$"
    r"|(?:他|她|老人|我爸|我妈|自己)(?:说|觉得)$|(?:胃口|食欲|力气|劲|精神|知觉|尿)[也都]?$")
# A recovery only hoped for ("痛得直不起腰，过两天应该就好了"), up to the better-word's first
# character (which may be the 就 itself); "应该没事" alone is the person's own judgement.
_HOPED_RE: Final = re.compile(r"(?:(?:应该|估计|大概|希望)[就会]|过[两几一]天就?)$")


# Consciousness lost: a faint is a warning however soon they came round ("晕过去了 十几秒就
# 醒了 现在说没事"), so nothing after it reads as its resolution.
_FAINTED_RE: Final = re.compile(
    r"(?:晕|昏)(?:过去|倒|厥)|不省人事|人事不省|失去(?:了)?意识|没了意识|passed out|fainted"
    r"|blacked out|collapsed")


# ... unless told as past: "晕倒过一次那是住院前的事", "上个月晕倒过一次"
_FAINT_PAST_RE: Final = re.compile(
    r"(?:晕|昏)(?:倒|过去)过|上个?月|上个?礼拜|上个?星期|上周|去年|前年|以前|之前|住院前"
    r"|[一两三四五六七八九十几\d]+(?:个月|年|周)前")


# ... nor a near faint: "差点晕倒，坐一会就好了"
_NEARLY_RE: Final = re.compile(r"差点儿?|差一点|险些|差些|几乎|快要?")


def fainted(norm: str, s: int, e: int) -> bool:
    """Whether the mention at ``norm[s:e]`` (or the word it starts) is a loss of consciousness
    told as recent."""
    if _FAINTED_RE.search(norm, s, min(len(norm), e + 3)) is None or \
            _NEARLY_RE.search(norm, max(0, s - 4), s) is not None:
        return False
    _, ss, se = bounds(norm, s, e)
    return _FAINT_PAST_RE.search(norm, ss, se) is None


def better_after(norm: str, e: int, se: int, strict: bool = False) -> bool:
    """A sign of improvement within 22 characters after ``e``, before the sentence end ``se``
    (a negated one is none: see NEG_RESOLUTION_RE); ``strict``: for a precise rule's hit."""
    end = min(se, e + 30)
    if NEG_RESOLUTION_RE.search(norm, e, max(end, se)) is not None:
        return False
    asked = _ASKED_NORMAL_STRICT_RE if strict else _ASKED_NORMAL_AT_RE
    return any(not asked.match(norm, m.start()) and
               _NOT_ITS_RECOVERY_RE.search(norm, max(e, m.start() - 4), m.start()) is None and
               _HOPED_RE.search(norm, max(e, m.start() - 4), m.start()) is None and
               _HOPED_RE.search(norm, max(e, m.start() - 3), m.start() + 1) is None
               for m in _RFB_BETTER_RE.finditer(norm, e, end)) or \
        _COMPARED_BETTER_RE.search(norm, e, end) is not None or \
        (_LESS_WORDS_RE.search(norm, max(0, e - 3), e) is not None
         and _LESS_RE.match(norm, e, end) is not None)


RFB_HYPO_SENT_RE: Final = re.compile(
    r"如果|要是|万一|假如|假使|会不会|会否|是否|多少度|多少算|算不算|什么情况|哪些情况|啥情况|"
    r"什么时候需要|需不需要|if (?!(?:that|it|this) (?:matters|helps))|in case|what if"
    r"|what temperature|counts? as|when should"
    r"|is it normal")
# A dash ends a supposition's reach: "call if my temp went above 38 — it's 38.6 now".
_HYPO_BREAK_RE: Final = re.compile(r"—|–|--| - ")


def hypothetical(norm: str, ss: int, se: int, s: int) -> bool:
    """Whether a supposition or a general question of the sentence ``norm[ss:se]`` covers the
    mention at ``s``: one does unless a dash stands between the mention and each of them."""
    marks = list(RFB_HYPO_SENT_RE.finditer(norm, ss, se))
    if not marks:
        return False
    if _HYPO_BREAK_RE.search(norm, ss, se) is None:
        return True
    return any(_HYPO_BREAK_RE.search(norm, min(m.start(), s), max(m.end(), s)) is None
               for m in marks)


RFB_HYPO_CLAUSE_RE: Final = re.compile(
    r"怕|担心|预防|防止|避免|以免|注意|小心|提醒|交代|(?<!一)会(?!儿)")
RFB_HYPO_AFTER_RE: Final = re.compile(r"[^,，。!?；;]{0,6}?的话")
RFB_PROCEDURE_RE: Final = re.compile(
    r"(?:打针|扎针|麻药|拔牙?|抽血|拆线|缝针|缝合|洗牙|补牙|刮|钻|上药|换药|注射|做|治疗|检查|种|"
    r"打|扎|拆|拔完|做完|打完|弄|复位|插|剖|取卵|穿刺|探头)[^,，。!?；;]{0,4}(?:的时候|那会儿?|那一下"
    r"|那阵子?|时候|当时|时(?<!小时))"
    r"|当时|治疗中|术中|手术台上|during")
RFB_ANAESTHESIA_RE: Final = re.compile(r"麻药|麻醉|打麻|anaesthe|anesthe|numbing")
# A later time after the treatment cue: "拔完牙的时候还好，晚上疼得睡不着" is not "during".
NOW_RE: Final = re.compile(
    r"现在|晚上|夜里|半夜|回家|回来|后来|到现在|今天|昨天|还在|一直|之后|以后"
    r"|\bnow\b|still|tonight|today|since")
# Long-standing, not new: "她年纪大了听不清", "本来就看不清".
CHRONIC_RE: Final = re.compile(
    r"年纪大|岁数大|年龄大|老毛病|本来就|一直都这样|从小就|以前就|天生"
    # unchanged by the treatment, not new: "腰还是跟以前一样疼"
    r"|跟以前一样|和以前一样|跟之前一样|和之前一样|跟原来一样|和原来一样|老样子")
PAST_RE: Final = re.compile(r"去年|前年|上个月|上上个月|几年前|很久以前|小时候|好几年|年前")
# "不是开玩笑" says the opposite, and a joke asked about ("是开玩笑的吧？") is a worry
JOKE_RE: Final = re.compile(
    r"开玩笑(?<!不是开玩笑)(?<!没开玩笑)(?<!没有开玩笑)(?<!是不是开玩笑)(?<!会不会开玩笑)"
    # 拿人命开玩笑, 拿我们的健康开玩笑: "to trifle with", a grievance, not a joke
    r"(?<!拿.开玩笑)(?<!拿..开玩笑)(?<!拿...开玩笑)(?<!拿....开玩笑)(?<!拿.....开玩笑)"
    r"(?![^,，。!?；;]{0,2}[吧吗么嘛?？])|开个玩笑|逗你|骗你的|just kidding|jk\b")
# Feelings rather than the body: "每次看到都难受", "心里不舒服".
FEELING_RE: Final = re.compile(
    r"(?:心里|心情|看到|看着|听到|听着|听了|想到|想起|看见|看一次|一想到)[^,，。!?；;]{0,4}$")
# Stroke-like signs stay red flags even when they passed ("突然说不出话, 过了几分钟又好了"):
# a transient attack is a warning of the next one.
NO_RESOLVE_RE: Final = re.compile(
    r"(?:突然|忽然|一下子)[^,，。!?；;]{0,6}(?:说不出|说不清|看不见|看不清|动不了|没知觉|"
    r"没感觉|使不上劲|抬不起|嘴歪|脸歪|口齿不清|半边)")
