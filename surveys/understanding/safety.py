"""Safety: when a symptom mentioned is *not* a red flag now, and what is held exact.

A resolution said not to have happened ("没止住", "还没消下去", "一点没好转", "烧到现在也没
退", "止不住", "退不下去", "流个不停") is no resolution: the symptom goes on, which is itself
the warning.  The rules read it so, and the learned model may never clear a red flag in a
reply that says it (``surveys.understanding.decide``).

Otherwise a mention is explained away (recorded as ``red_flag_denied`` evidence) when it is
denied ("没有发烧", also over a list: "发烧、出血都没有"), resolved or improving ("烧已经退
了"), hypothetical or asked in general ("万一发烧怎么办", "多少度算发烧"), mild and expected
("有点肿"), during the treatment ("打针的时候有点疼"), the anaesthetic ("麻药还没过"), long
ago or long-standing, said in jest, about a staff member or someone else, or has another
cause (:func:`other_cause`).  The rules that find mentions are ``surveys.understanding.redflag``.
"""

from __future__ import annotations

import re
from typing import Final

from surveys.understanding.compose import factor, strings, table
from surveys.understanding.text import SEP_RE, bounds

NEG_RESOLUTION_RE: Final = re.compile(
    r"(?:没有?|未|还没有?|一直没有?|也没有?|都没有?|并没有?|一点没|一点都没|一点也没|丝毫没|毫无"
    r"|不见|无法|不)[^,，。!?；;]{0,2}?(?:止住|止血|止|退|消|好转|缓解|减轻|好|停|降|改善|恢复"
    r"|下去|见好|变小|收口|愈合)"
    r"|(?:止|退|消|降|压|好|停|下|收)不(?:住|下|了|去|来)")


def resolution_negated(norm: str, start: int = 0, end: int | None = None) -> bool:
    """Whether ``norm[start:end]`` says a resolution has not happened."""
    return NEG_RESOLUTION_RE.search(norm, start, len(norm) if end is None else end) is not None

RF_DENY_BEFORE_RE: Final = re.compile(
    r"(?:没有?|不(?![过管仅但开住起动清下来上是])|未|无|不再|不怎么|没那么|不太|(?<!是)不是|并没有?|也没有?"
    r"|都没有?|已经不|已不|"
    r"如果|要是|万一|假如|会不会|是否|怕|担心|预防|防止|避免|以免|注意|有没有|如有|若|会)"
    r"[^,，。.!?；;]{0,3}$"
)
RF_RESOLVED_AFTER_RE: Final = re.compile(
    r"[^。.!?；;]{0,12}?(?:退了|退烧了|已退|止住|好了|好多了|好很多|消了|消肿了|"
    r"减轻(?<!不减轻)(?<!没减轻)(?<!没有减轻)(?<!未减轻)(?<!无法减轻)|缓解(?<!不缓解)(?<!没缓解)(?<!没有缓解)(?<!未缓解)(?<!无法缓解)|没有了|没了|"
    r"不疼了|不痛了|正常了|没事了|已经好|恢复了|不出血了|降下来了|退下去了|消下去|消退|(?<![栽倒摔跌掉滑跪躺吞咽跳坠陷凹瘪塌])下去了|退得差不多|差不多退了|不厉害|不严重|没那么|"
    r"没再|没有再|没出现|好转|稳定了|控制住|压下去|风险|几率|概率|可能性|"
    # "发烧刚退", "血就止了", "吃了药当天就下来了", "黄疸已经降到8点几了"
    r"刚退|(?:就|已经|都|早就)止(?:住)?了|(?:就|已经|都)(?:降|退)?下来了|已经降|"
    r"能忍|可以忍|"
    # English: "my fever ended", "the bleeding went away" (not "ended up worse")
    r"ended(?! up)|went away|subsided|resolved|cleared up|came down|back to normal)"
)
# Entries that count only with a body, wound or excreta word in the same sentence.
_RFB_NEEDS_CONTEXT: Final = frozenset(strings(table("redflag"), "needs_context"))
_RFB_CONTEXT_RE: Final = re.compile(
    r"伤口|刀口|切口|口子|缝|线|纱布|棉|牙|嘴|口腔|吐|咳|痰|尿|便|拉|手术|腿|脸|身上|皮肤|孩子|"
    r"宝宝|嗓子|喉咙|眼|黑|包|肿|疼|痛|东西|手|脚|浑身|全身|嘴唇|舌|吃|喝|说话|"
    r"他|她|妈|爸|老人|老爷子|老太太")
# Still red flags when the context word is itself a non-body use ("一直哭" etc. need none).
_RFB_CONTEXT_EXTRA: Final = {
    "眼前": re.compile(r"眼前[^,，。!?；;]{0,2}(?:一?黑|发黑|发花)"),
    "脸色": re.compile(r"脸色[^,，。!?；;]{0,3}(?:白|青|黄|灰|紫|差|难看)"),
    "胃口": re.compile(r"(?:没|一点)[^,，。!?；;]{0,2}胃口|胃口[^,，。!?；;]{0,2}(?:没|差)"),
    "意识": re.compile(r"意识[^,，。!?；;]{0,3}(?:不清|模糊|不好|没|差)"),
    "停不下来": re.compile(r"(?:哭|吐|拉|咳|抖|抽)[^,，。!?；;]{0,4}停不下来"),
}
# Minor symptoms a softener makes expected ("有点肿", "稍微有点酸"); fever, blood, breathing
# and consciousness words are never softened away.
_RFB_MINOR: Final = frozenset("疼痛肿胀酸痒麻咳红烫")
# Discomfort a softener makes mild as well ("有点恶心", "有点难受").
_SOFTENABLE: Final = frozenset(("不舒服", "难受", "恶心", "反胃"))
# Dizziness is mild only when softened *and* asked about as normal ("有点晕，要紧不"); fainting
# never is.
_ASKED_NORMAL_RE: Final = re.compile(
    r"正常(?:的)?[吗吧么嘛]|正不正常|要紧[吗不么]|要不要紧|没事吧|是不是[^,，。!?；;]{0,6}的[吗吧]?")
_RFB_SOFT_BEFORE_RE: Final = re.compile(
    r"(?:有点儿?|有一点点?|一点点|一丁点|一点儿|稍微|稍稍|稍|微微|轻微|略微?|有些|些许|还有点|偶尔)"
    r"[^,，。!?；;]{0,3}$")
_RFB_SOFT_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;]{0,4}?(?:是有一点|还是有一点|有一点|有点|一点点|一点)(?![^,，。!?；;]{0,3}"
    r"(?:厉害|严重|大|多))|[^。!?；;]{0,14}?(?:正常(?!的?[吗吧么]|不)|能忍|可以忍|可以接受|"
    r"能接受|不要紧|没关系|没大碍|不碍事)")
_RFB_DENY_BEFORE_RE: Final = re.compile(
    r"(?:没有?|不(?![过停断止到行知了好见开住起动清下来上是])|(?<!是)不是|未|无(?![力法])|不再|并没有?"
    r"|从没有?|"
    r"从来没有?|毫无|no more|no|not|never|without|n't|(?<![a-z])(?:mei(?: ?you)?|bu)(?![a-z]))"
    r"[^,，。.!?；;]{0,4}$|(?:消|止|退)$"
    r"|(?:没有?|无|未|不)(?:[^,，。.!?；;]{1,4}[、和或及与跟/])+[^,，。.!?；;]{0,2}$")
_RFB_DENY_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;]{0,6}?(?:这些|等)?(?:都|也)?(?:没有?|没出现过?|没出过?|没再出现|不再)"
    r"(?:了|过|呢)?(?=$|[,，。.!?！？；;~\s])"
    # a list closed by "这些(情况)都没有": "发热、红肿、出血这些情况都没有"
    r"|[^。!?；;]{0,20}?(?:这些|这几样|这几个|等)(?:情况|症状|问题|现象)?(?:都|也)?"
    r"(?:没有?|没出现|没发生|不存在)")
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
    "就停了", "就退了", "就止住", "就没了", "就没事", "长好", "好了", "没了", "没有了", "止住",
    "已经停", "停了", "已经干了", "结痂了", "收口了", "愈合了",
    "止血了", "正常(?<!是不是正常)(?<!算不算正常)(?<!正不正常)(?!的?[吗吧么])",
    # back to normal: "今早退到37.2了"
    r"退到3(?:[56]|7(?:\.[0-2]|度[0-2]?))(?![\d.])",
    "没事(?![吗吧么])", "没什么事",
    "会(?:好|消|退|恢复)(?![吗么])", "能(?<!不能)(?<!不太能)(?:吃|喝|睡)", "吃饭了", "消得",
    "差不多好", "已经不" + _SYM, "已不" + _SYM, "不" + _SYM + r"[^,，。!?；;]?了",
    r"3(?<![\d.]3)[56](?:\.\d)?(?![\d.])", "降下来", "不疼了", "不痛了", "不肿了", "不烧了",
    "不吐了", "不出血了", "不流血了", "better", "gone", "stopped", "settled", "fine now",
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


def _better_after(norm: str, e: int, se: int, strict: bool = False) -> bool:
    """A sign of improvement within 22 characters after ``e``, before the sentence end ``se``
    (a negated one is none: see NEG_RESOLUTION_RE); ``strict``: for a precise rule's hit."""
    end = min(se, e + 30)
    if NEG_RESOLUTION_RE.search(norm, e, max(end, se)) is not None:
        return False
    asked = _ASKED_NORMAL_STRICT_RE if strict else _ASKED_NORMAL_AT_RE
    return any(not asked.match(norm, m.start())
               for m in _RFB_BETTER_RE.finditer(norm, e, end)) or \
        _COMPARED_BETTER_RE.search(norm, e, end) is not None or \
        (_LESS_WORDS_RE.search(norm, max(0, e - 3), e) is not None
         and _LESS_RE.match(norm, e, end) is not None)


_RFB_HYPO_SENT_RE: Final = re.compile(
    r"如果|要是|万一|假如|假使|会不会|会否|是否|多少度|多少算|算不算|什么情况|哪些情况|啥情况|"
    r"什么时候需要|需不需要|if |in case|what if|what temperature|counts? as|when should"
    r"|is it normal")
# A dash ends a supposition's reach: "call if my temp went above 38 — it's 38.6 now".
_HYPO_BREAK_RE: Final = re.compile(r"—|–|--| - ")


def _hypothetical(norm: str, ss: int, se: int, s: int) -> bool:
    """Whether a supposition or a general question of the sentence ``norm[ss:se]`` covers the
    mention at ``s``: one does unless a dash stands between the mention and each of them."""
    marks = list(_RFB_HYPO_SENT_RE.finditer(norm, ss, se))
    if not marks:
        return False
    if _HYPO_BREAK_RE.search(norm, ss, se) is None:
        return True
    return any(_HYPO_BREAK_RE.search(norm, min(m.start(), s), max(m.end(), s)) is None
               for m in marks)


_RFB_HYPO_CLAUSE_RE: Final = re.compile(
    r"怕|担心|预防|防止|避免|以免|注意|小心|提醒|交代|(?<!一)会(?!儿)")
_RFB_HYPO_AFTER_RE: Final = re.compile(r"[^,，。!?；;]{0,6}?的话")
_RFB_PROCEDURE_RE: Final = re.compile(
    r"(?:打针|扎针|麻药|拔牙?|抽血|拆线|缝针|缝合|洗牙|补牙|刮|钻|上药|换药|注射|做|治疗|检查|种|"
    r"打|扎|拆|拔完|做完|打完|弄)[^,，。!?；;]{0,4}(?:的时候|那会儿?|那一下|那阵子?|时候|当时"
    r"|时(?<!小时))"
    r"|当时|治疗中|术中|during")
_RFB_ANAESTHESIA_RE: Final = re.compile(r"麻药|麻醉|打麻|anaesthe|anesthe|numbing")
# A later time after the treatment cue: "拔完牙的时候还好，晚上疼得睡不着" is not "during".
_NOW_RE: Final = re.compile(
    r"现在|晚上|夜里|半夜|回家|回来|后来|到现在|今天|昨天|还在|一直|之后|以后")
# Long-standing, not new: "她年纪大了听不清", "本来就看不清".
_CHRONIC_RE: Final = re.compile(
    r"年纪大|岁数大|年龄大|老毛病|本来就|一直都这样|从小就|以前就|天生"
    # unchanged by the treatment, not new: "腰还是跟以前一样疼"
    r"|跟以前一样|和以前一样|跟之前一样|和之前一样|跟原来一样|和原来一样|老样子")
_PAST_RE: Final = re.compile(r"去年|前年|上个月|上上个月|几年前|很久以前|小时候|好几年|年前")
# "不是开玩笑" says the opposite
_JOKE_RE: Final = re.compile(
    r"开玩笑(?<!不是开玩笑)(?<!没开玩笑)(?<!没有开玩笑)|开个玩笑|逗你|骗你的|just kidding|jk\b")
# Feelings rather than the body: "每次看到都难受", "心里不舒服".
_FEELING_RE: Final = re.compile(
    r"(?:心里|心情|看到|看着|听到|听着|听了|想到|想起|看见|看一次|一想到)[^,，。!?；;]{0,4}$")
# Stroke-like signs stay red flags even when they passed ("突然说不出话, 过了几分钟又好了"):
# a transient attack is a warning of the next one.
_NO_RESOLVE_RE: Final = re.compile(
    r"(?:突然|忽然|一下子)[^,，。!?；;]{0,6}(?:说不出|说不清|看不见|看不清|动不了|没知觉|"
    r"没感觉|使不上劲|抬不起|嘴歪|脸歪|口齿不清|半边)")
# A staff member before the body word: "医生脸色难看得吓人" is about the doctor.
BODY_STAFF_RE: Final = re.compile(r"医生|大夫|护士|老师|前台|客服|工作人员|收费|院长|主任")
# Words between a staff member and the sign that make the sign the patient's again:
# "护士说我一直出血" (told by the nurse), "医生让他…".
_STAFF_TO_PATIENT_RE: Final = re.compile(r"说|讲|告诉|让|叫|给|帮|问|我|孩子|他|她|病人|老人|宝宝")
# A turn to another subject after praise of the staff: "医生都很好 5分 但是今天右眼突然看不清了"
_TURN_RE: Final = re.compile(r"但是|但|不过|可是|\d分|起来|早上|晚上|今天|昨天|现在")


def staff_subject(norm: str, cs: int, s: int) -> bool:
    """A staff member is the subject of what follows: "值班的护士一直在睡觉"."""
    last = None
    for m in BODY_STAFF_RE.finditer(norm, cs, s):
        last = m
    return last is not None and _STAFF_TO_PATIENT_RE.search(norm, last.end(), s) is None \
        and _TURN_RE.search(norm, last.end(), s) is None


# Every context cue the exclusions look for: h hypothetical, p treatment, j joke,
# c long-standing, t long ago, s staff, n stroke-like, a anaesthetic.
_CUES: Final = (
    ("h", _RFB_HYPO_SENT_RE), ("p", _RFB_PROCEDURE_RE), ("j", _JOKE_RE), ("c", _CHRONIC_RE),
    ("t", _PAST_RE), ("s", BODY_STAFF_RE), ("n", _NO_RESOLVE_RE), ("a", _RFB_ANAESTHESIA_RE))
# factored by first character: a plain alternation of these patterns loses re's prefilter
_CUE_RE: Final = re.compile(factor("|".join(rx.pattern for _, rx in _CUES)))


def cues_of(norm: str) -> str:
    """Letters of the context cues present anywhere in the reply (see ``_CUE_RE``).

    One search settles the usual reply, which has none; otherwise each cue is looked for on
    its own (cues overlap: "麻药要几个小时" is both the anaesthetic and a treatment time).
    """
    if _CUE_RE.search(norm) is None:
        return ""
    return "".join(k for k, rx in _CUES if rx.search(norm) is not None)


# A threshold asked about, no sign told: "黄疸多少需要复查", "黄疸值到多少要照蓝光".
_VALUE_ASKED_RE: Final = re.compile(
    r"(?:值|指数|指标)?(?:多少|到多少|超过多少|高于多少|多高|几)(?:[^,，。!?；;]{0,8}"
    r"(?:复查|医院|住院|照蓝光|治疗|算高|算正常|正常|要紧|需要|[吗呢?]))")


def rf_precise_exclusion(norm: str, cs: int, s: int, e: int, cues: str) -> str:
    """The broad layer's exclusions for the precise rules' hits ("" if none applies).

    ``cs`` is the clause start.  Denied, over and done with ("晕倒后来查了是低血糖，现在已经
    没事了"), hypothetical, during the treatment, or a joke.
    """
    if _RFB_DENY_BEFORE_RE.search(norm, max(cs, s - 10), s) is not None or \
            _RFB_DENY_AFTER_RE.match(norm, e) is not None:
        return "denied"
    if _VALUE_ASKED_RE.match(norm, e) is not None:
        return "a value asked about"
    _, ss, se = bounds(norm, s, e)
    if "死" in norm[s:e] and _LAUGH_RE.search(norm, ss, len(norm)) is not None and \
            _SERIOUS_RE.search(norm, ss, se) is None:
        return "said in jest"
    if _better_after(norm, e, se, strict=True) and (
            "n" not in cues or _NO_RESOLVE_RE.search(norm, ss, se) is None):
        return "resolved or improving"
    if "h" in cues and _hypothetical(norm, ss, se, s):
        return "hypothetical or asked in general"
    if _LOW_FEVER_WORD_RE.search(norm, s, e) is not None:
        why = _mild_asked(norm, ss, se, s, e, norm[s:e])
        if why:
            return why
    return _rf_context_exclusion(norm, cs, ss, s, e, cues)


_NEAR_MISS_RE: Final = re.compile(r"(?:差点|差一点|差点儿|险些|差些)(?:就|要)?[^,，。!?；;]{0,2}$")
_FALL_RE: Final = re.compile(r"摔|跌|滑倒|栽|掉下")
_CORRECTED_RE: Final = re.compile(
    r"(?:原来|其实|结果|后来发现|才发现|才知道|一看)(?:是|只是|就是|不是)")
_SOMEONE_ELSE_RE: Final = re.compile(r"邻居|隔壁|同事|别人家|(?<!小)朋友|同病房|病友|"
                                     r"(?:有|有一)[个位](?:老太太|老头|大爷|大妈|阿姨|病人|人|小孩)|"
                                     # "我们屋那个阿姨", "隔壁床的大爷", "孩子的哥哥"
                                     r"同屋|同一?个?屋|我们屋|邻床|同一?个?病房|"
                                     r"(?<![家我俺])[那这][个位](?:老太太|大爷|大妈|阿姨)|"
                                     r"(?:孩子|宝宝|他|她|病人)的(?:哥哥|姐姐|弟弟|妹妹)")
# A relative who *also* has a sign ("我妹妹前几天也发烧了") or who should *also* come to be
# seen ("我老伴眼睛疼得厉害，能不能也来你们这看看"): not the patient.
_ALSO_OTHER_RE: Final = re.compile(
    r"(?:妹妹|姐姐|哥哥|弟弟|老伴|老公|老婆|爱人|室友|同学|同事|朋友)[^,，。!?；;]{0,4}也")
_ALSO_SEEN_RE: Final = re.compile(r"也(?:来|带[他她]?来|过来|去)(?:你们|看|挂|检查|瞧)")
# 急诊 as the department in a story about the service ("急诊把我妈晾在走廊", "幸亏你们急诊抢救
# 及时", "在急诊躺了两天才住进去", "前面有急诊", "看过一次急诊"), not a patient on the way there
# now ("要不要去急诊", "现在在急诊", "送急诊").
_ER_PLACE_AFTER_RE: Final = re.compile(
    r"(?:科|室|大厅)?(?:把|抢救|躺了|那天|那晚|的(?:医生|护士|大夫)|医生|护士|啊|嘛)")
_ER_STORY_BEFORE_RE: Final = re.compile(r"(?:你们|前面有|一次|儿科|那个|看过)$")
_ER_GOING_BEFORE_RE: Final = re.compile(r"(?:去|送|挂|赶|到|进|现在在|正在|还在)(?:你们)?$")
# Words that look like a sign and are something else: a halo round lights after eye surgery
# A neighbour or a colleague who tells us about the patient: "邻居打电话说我爸倒在地上叫不醒".
_TELLER_RE: Final = re.compile(
    r"(?:邻居|隔壁|同事|朋友)[^,，。!?；;]{0,4}(?:说|打电话|告诉|发现|看到|看见|通知|喊)"
    r"[^,，。!?；;]{0,2}(?:他|她|我(?:爸|妈|家)|老人|病人|老伴|老爷子|老太太|[爸妈爷奶])")
# The writer's own sign beside a patient said to be well: "我自己有点发烧，孩子挺好".
_WRITER_RE: Final = re.compile(r"(?:我|俺)(?:自己|本人)")
_PATIENT_FINE_RE: Final = re.compile(
    r"(?:孩子|宝宝|小孩|娃|儿子|女儿|病人|患者|老人)(?:倒是|都|本人)?(?:挺好|很好|还好|没事|好好的"
    r"|一切正常|正常)")
# (光晕), 白内障 misheard by voice input (白内胀).
_HALO_RE: Final = re.compile(r"光晕")
_CATARACT_MISHEARD_RE: Final = re.compile(r"白内[胀涨帐]")
# The writer says they are fine, and the sign is another person's: "我挺好，倒是我老公这两天
# 发烧", "我室友打完针脸肿了，我倒是啥事没有".
_SELF_FINE_RE: Final = re.compile(
    r"(?:我|俺)(?:自己|本人)?(?:倒是|都)?(?:挺好|很好|还好|没事|啥事没有|什么事都没有|好好的|一切都好)"
    # the patient named and said to be well, or the person said not to be the patient
    r"|(?:病人|患者)(?:倒是|都|本人)?(?:挺好|很好|还好|没事|啥事没有|好好的)|[他她]不是病人")
_OTHER_PERSON_RE: Final = re.compile(
    r"倒是|老公|老婆|丈夫|妻子|爱人|老伴|室友|姐|哥|弟|妹|孙子|孙女|外孙|侄|同学|同事|朋友|邻居|陪护")
# ... or is cared for elsewhere: "弟弟也在发烧，不过他不是在你们医院看的"
_ELSEWHERE_RE: Final = re.compile(
    r"[他她](?:们)?(?:也)?(?:不是在你们|是在别的|在别的|在别家|是在别家)")
# A sleepyhead, not a collapse: "睡懒觉叫不醒", "闹钟都叫不醒我"
_ORDINARY_SLEEP_RE: Final = re.compile(r"睡懒觉|懒觉|赖床|闹钟|起床气|周末|上学|上班")
# Fright or hyperbole, not the body: "被账单吓晕了", "排队排到吐"
_HYPERBOLE_BEFORE_RE: Final = re.compile(r"(?:吓|[排等吃听看练写做学背熬]到)$")
# a medicine or a measurement named after the word: "湿疹的药膏用完了", "血压130/80", "血糖7.2"
_NAMED_AFTER_RE: Final = re.compile(r"的?(?:药|药膏|药水|药片|软膏)|压|糖|脂|常规|小板|型|检|氧")
# already treated: "去急诊处理了", "急诊看过了"
_SEEN_AFTER_RE: Final = re.compile(r"[^,，。!?；;]{0,2}(?:处理|看|缝|包扎|止血|输液)(?:了|过|好)")
_WEATHER_RE: Final = re.compile(r"高温|气温|天气|室温|水温|热死了")
# a fracture in rehabilitation or healing: the condition treated, not a new one
_TREATED_RE: Final = re.compile(
    r"康复|恢复|拆了?石膏|钢板|长的|长得|长好|以后的|后的|做完手术|复位")
_AGAIN_RE: Final = re.compile(r"又|再次|新的?|怀疑")
_KNOWN_ALLERGY_RE: Final = re.compile(r"对[^,，。!?；;]{1,6}$")
_COLD_RE: Final = re.compile(r"冻得|冷得|冻的|冷的")
_NOISE_RE: Final = re.compile(r"吵|噪音|隔音|声音太大|太响|信号|电话里|听筒|麦克风")
_ONCE_BEFORE_RE: Final = re.compile(r"之前|以前|曾经|上次|先前|以往|早先")
_ONCE_RE: Final = re.compile(r"过(?:[一两几\d]次|一回|一阵)")
# A fever or bleeding said to be over later in the reply, however far after: "之前发烧到三十八度多
# ……现在已经好几天没烧了" (a new mention after it is judged on its own).
_FEVER_OVER_RE: Final = re.compile(
    r"(?:没|不|没再|没有再)(?:发)?烧了|退烧了|烧退了|烧已经退|烧早就退|烧也退|体温正常|没再烧|没有再烧")
_BLEED_OVER_RE: Final = re.compile(
    r"血[^,，。!?；;]{0,3}止住|不(?:出|流)血了|没再(?:出|流)血|没有再(?:出|流)血|血已经止|血早就止"
    r"|(?:现在|已经)不(?:出|流)了")


# -- the time and the mood of a mention ------------------------------------------------------
# Something still going on, or going on again, anywhere from the mention's sentence on: it
# keeps a past frame or a finished duration from clearing the mention ("上次拔的牙现在还在
# 出血", "疼了三天，今天更疼").  还好/还行 ("fortunately", "all right") are no such marker.
_ONGOING_RE: Final = re.compile(
    r"现在|目前|至今|如今|这会儿?|此刻|还(?!好|行|可以|算|不错|挺)|仍|依然|依旧|一直|今天|今早|"
    r"今晚|今儿|这两天|这几天|越来越|又|再次|正在|老是|总是|反复|刚才|刚刚|已经|"
    r"一天比一天|更(?:厉害|严重|疼|痛|肿|多|大)|加重|变大|now|still|again|worse")
# A past episode framing the sentence: "上次拔牙出血那么多也没人管", "住院时疼得直叫"
# (比之前 / 跟以前 compare with now, and frame nothing).
# asking for help now keeps a past frame from clearing a sign ("上次拔的牙出血不止，怎么办")
_HELP_NOW_RE: Final = re.compile(r"怎么办|咋办|怎么弄|急诊吗|医院吗|help")
_EPISODE_BEFORE_RE: Final = re.compile(
    r"上次|上回|那次|那回|那天|那晚|那一晚|那几天|那阵子?|那会儿?|当时|住院(?:时|的时候|期间|那几天)"
    r"|(?<![比跟和同])之前|(?<![比跟和同])以前|曾经|生(?:孩子|宝宝|小孩|娃)的时候")
# "上次开的药", "以前做的牙冠": the marker names a thing of that time, not when the sign was
_ATTRIBUTIVE_RE: Final = re.compile(r"[^,，。!?；;的]{1,4}的(?!时候|时|那)")
# ... or told right after the sign: "孩子高热惊厥那次真的吓死了"
_EPISODE_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;]{0,4}?(?:那次|那回|那天|那晚|那阵子?|那会儿?|(?:是|都是)[^,，。!?；;]{0,4}的事)")
# A duration with the aspect of a finished episode: "肿了一礼拜", "疼了整整一个星期" -- a
# sentence-final 了 ("疼了三天了") or a 多/还 after it keeps it running, as does 已经 before.
_DURATION: Final = (r"了(?:整整|足足|快|差不多|将近|好)?(?:[一两三四五六七八九十几半\d]+|好几)个?"
                    r"(?:天|礼拜|星期|周|月)(?![了多还])")
_DONE_AFTER_RE: Final = re.compile(r"[^,，。!?；;]{0,2}?" + _DURATION)
# the verb before the sign: "牙龈出了两天血"
_DONE_BEFORE_RE: Final = re.compile(r"(?:出|流|渗)" + _DURATION + r"的?$")
# Resolved later in the reply, however it is told: "后来……就止住了", "然后就不疼了".
_LATER_RESOLVED_RE: Final = re.compile(
    r"(?:后来|然后|最后|之后|以后|过了一会儿?)[^。!?；;]{0,12}?(?:止住|停了|退了|好了|消了|没事了|"
    r"不(?:疼|痛|肿|烧|吐)了|缓解了|正常了|再也?没[^,，。!?；;]{0,3}过)")
# A minor sign, and the patient said to be well: "出了几个小红点，精神挺好" (the broad layer's
# worrying signs of a child, fever, blood, breathing, are never reassured away).
_WELL_RE: Final = re.compile(
    r"精神(?:都|也|还|挺|很|特别|非常|头)?(?:好|不错|ok|可以|正常)|能吃能睡|吃睡都好|体重(?:在|也在)?涨")
_REASSURABLE_RE: Final = re.compile(r"疹|红|吐|咳|痒|硬块|包|拉肚子|拉稀|腹泻")
_SEVERE_RE: Final = re.compile(
    r"一直|不停|不断|老是|总是|厉害|严重|受不了|[两三四五六七八九十几\d]次|高烧|烧到|发烧(?!.{0,2}[没不])|"
    r"3[89]|4[0-2]|血|喘|抽|昏|蔫|不吃|不喝|没精神|精神差|精神不好|脱水|尿少|没尿")
# A question about what to do, after a hypothetical sentence: "万一晚上发烧了怎么办？要去急诊吗"
_HYPO_MARK_RE: Final = re.compile(r"如果|要是|万一|假如|假使|if |in case|what if")
_ASKED_RE: Final = re.compile(r"吗|么|要不要|需不需要|怎么办|？|\?")


def not_now(norm: str, ss: int, se: int, s: int, e: int, word: str) -> str:
    """Why the mention at ``norm[s:e]`` is not happening now ("" if nothing says so).

    A past episode framing the sentence with nothing ongoing after it, a finished duration
    of a minor symptom with nothing ongoing, a resolution told later ("后来就止住了") with
    nothing happening again after it, or a conditional ("止不住的话") or a question that
    follows a hypothetical sentence.  Red flags of a stroke-like kind are left to the caller.
    """
    rest = norm[ss:]
    frame = _EPISODE_BEFORE_RE.search(norm, ss, e)  # "孩子肺炎那次烧得厉害": inside the hit
    if frame is not None and _ATTRIBUTIVE_RE.match(norm, frame.end(), max(s, frame.end())):
        frame = None  # "上次开的安眠药": the medicine of last time, taken now
    if (frame is not None or _EPISODE_AFTER_RE.match(norm, e, se) is not None) \
            and _ONGOING_RE.search(rest) is None and _HELP_NOW_RE.search(rest) is None:
        return "a past episode"
    if any(c in _RFB_MINOR or c == "血" for c in word) and (
            _DONE_AFTER_RE.match(norm, e, se) is not None
            or _DONE_BEFORE_RE.search(norm, max(ss, s - 12), s) is not None) \
            and _ONGOING_RE.search(rest) is None and _HELP_NOW_RE.search(rest) is None:
        return "a finished episode"
    later = _LATER_RESOLVED_RE.search(norm, e)
    if later is not None and NEG_RESOLUTION_RE.search(norm, later.start(), later.end()) is None \
            and _ONGOING_RE.search(norm, later.end()) is None \
            and _ONGOING_RE.search(norm, e, later.start()) is None:
        return "resolved later in the reply"
    if _RFB_HYPO_AFTER_RE.match(norm, e, se) is not None:
        return "hypothetical or asked in general"
    if ss > 0 and _ASKED_RE.search(norm, s, min(len(norm), se + 1)) is not None:
        prev = norm.rfind("。", 0, ss - 1), norm.rfind("？", 0, ss - 1), norm.rfind("?", 0, ss - 1)
        ps = max(prev) + 1
        hypo = _HYPO_MARK_RE.search(norm, ps, ss)
        # what goes on inside the hypothesis ("万一又烧起来") is supposed, not told
        if hypo is not None and _ONGOING_RE.search(norm, ps, hypo.start()) is None:
            return "hypothetical or asked in general"
    if _REASSURABLE_RE.search(word) is not None and _SEVERE_RE.search(word) is None and \
            _WELL_RE.search(norm) is not None and _SEVERE_RE.search(norm, ss, se) is None:
        return "mild, the patient is well"
    return ""


def other_cause(norm: str, cs: int, ss: int, s: int, e: int) -> str:
    """Why the mention at ``norm[s:e]`` is not the patient's sign now ("" if nothing says so).

    A fall that nearly happened ("差点摔倒，还好扶住了"), a fear corrected ("还以为出血了，
    原来是吃了火龙果"), someone else ("我邻居拔牙后出血不止"), noise rather than hearing
    ("隔音太差…孩子根本听不清"), a single episode before ("之前晕过一次"), or a fever or
    bleeding said to be over later in the reply.
    """
    word = norm[s:e]
    if _FALL_RE.search(word) is not None and \
            _NEAR_MISS_RE.search(norm, max(cs, s - 6), s) is not None:
        return "a near miss"
    if "以为" in norm[cs:s] and _CORRECTED_RE.search(norm, e, e + 24) is not None:
        return "a fear corrected"
    if _SOMEONE_ELSE_RE.search(norm, cs, s) is not None and \
            _TELLER_RE.search(norm, cs, s) is None:
        return "about someone else"
    if _ALSO_OTHER_RE.search(norm, ss, s) is not None or (
            _ALSO_SEEN_RE.search(norm, e) is not None and
            _OTHER_PERSON_RE.search(norm, ss, s) is not None):
        return "about someone else"
    if (word[0] == "晕" and _HALO_RE.search(norm, max(0, s - 1), e) is not None) or \
            (word[0] in "胀涨帐" and _CATARACT_MISHEARD_RE.search(norm, max(0, s - 2), e)):
        return "another word"
    if _ELSEWHERE_RE.search(norm) is not None and _OTHER_PERSON_RE.search(norm, cs, s) is not None:
        return "about someone else"
    if _WRITER_RE.search(norm, cs, s) is not None and \
            _PATIENT_FINE_RE.search(norm) is not None:
        return "the writer's own, the patient is well"
    if _SELF_FINE_RE.search(norm) is not None and \
            _OTHER_PERSON_RE.search(norm, cs, s) is not None and \
            _SELF_FINE_RE.search(norm, cs, s) is None:
        return "about someone else"
    if "不醒" in word and _ORDINARY_SLEEP_RE.search(norm, ss, e) is not None:
        return "ordinary sleep"  # "孩子早上睡懒觉叫不醒", "闹钟都叫不醒我"
    if word[0] in "晕吐" and _HYPERBOLE_BEFORE_RE.search(norm, max(cs, s - 3), s) is not None:
        return "fright or hyperbole"
    if _NAMED_AFTER_RE.match(norm, e) is not None and word[-1] in "疹血烧热痛疼咳喘":
        return "a medicine or a measurement"
    if "急诊" in word and _SEEN_AFTER_RE.match(norm, e) is not None:
        return "already treated"
    if word == "急诊" and _ER_GOING_BEFORE_RE.search(norm, max(0, s - 4), s) is None and (
            _ER_PLACE_AFTER_RE.match(norm, e) is not None or
            _ER_STORY_BEFORE_RE.search(norm, max(0, s - 4), s) is not None):
        return "the department, in a story about the service"
    if word[-1] == "度" and _WEATHER_RE.search(norm, cs, e + 6) is not None:
        return "the weather"
    if word[0] in "疼痛" and norm[s - 1:s] == "心":
        return "a feeling, not the body"  # 心疼: heartache for someone
    if "骨折" in word and _TREATED_RE.search(norm, ss, e + 24) is not None and \
            _AGAIN_RE.search(norm, max(ss, s - 4), s) is None:
        return "the condition being treated"  # "骨折以后的康复训练做了十次了"
    if word == "消毒水" and norm.startswith("味", e):
        return "a smell"
    if "过敏" in word and (norm.startswith("史", e) or (_KNOWN_ALLERGY_RE.search(
            norm, max(ss, s - 8), s) is not None and not norm.startswith("了", e))):
        return "a known allergy"  # "过敏史", "对哪个胶布过敏"
    if "看不清" in word and norm.startswith("字", e):
        return "small print"
    if _COLD_RE.search(norm, max(ss, s - 6), s) is not None and word[-1] in "白紫青":
        return "the cold"  # "冻得嘴唇发白"
    if "听不" in word and _NOISE_RE.search(norm, ss, e + 20) is not None:
        return "noise, not hearing"
    if _ONCE_RE.match(norm, e) is not None and _ONCE_BEFORE_RE.search(norm, cs, s) is not None:
        return "once, before"
    if ("烧" in word or "热" in word or "度" in word) and \
            _FEVER_OVER_RE.search(norm, e) is not None:
        return "resolved later in the reply"
    if "血" in word and _BLEED_OVER_RE.search(norm, e) is not None:
        return "resolved later in the reply"
    return _told_not_felt(norm, cs, ss, s, e, word)


# -- a sign told for another purpose than to say it is felt now --------------------------------
_GRIEVANCE_RE: Final = re.compile(factor("|".join(strings(table("redflag"), "grievance_frames"))))
_NOW_MARK_RE: Final = re.compile("|".join(strings(table("redflag"), "now_markers")))
# Signs no grievance explains away: self-harm, an overdose, fits, collapse, breathing, the chest.
_NEVER_CIRCUMSTANCE_RE: Final = re.compile(
    r"死|活|自杀|轻生|割腕|跳|药|120|救护车|抽|惊厥|昏迷|休克|呼吸|喘不|憋|胸|意识|叫不醒")
# The patient's own sibling named inside a child-sign phrase: "孩子的哥哥也开始发烧".
_SIBLING_IN_RE: Final = re.compile(
    r"(?:孩子|宝宝|小孩|儿子|女儿|他|她)的(?:哥哥|姐姐|弟弟|妹妹|同学)")
# A gesture of a member of staff, not a child's eyes rolling up: "问两句就翻白眼", "对我翻白眼".
_GESTURE_RE: Final = re.compile(r"(?:对我们?|冲我们?|给我|朝我|就|还|都|她|他)翻白眼")
_STAFF_OR_MANNER_RE: Final = re.compile(
    BODY_STAFF_RE.pattern + r"|态度|前台|收费|大姐|小姑娘|不耐烦|问[^,，。!?；;]{0,6}(?:就|都|还)")
# Death wished in jest or out of boredom: "排队排到想死", "想死 体重又涨了五斤😂".
_JEST_DEATH_RE: Final = re.compile(r"想死|不想活")
_JEST_BEFORE_RE: Final = re.compile(r"(?:[排等熬挤累烦忙]|[排等熬挤]到我?|到我)$")
_LAUGH_RE: Final = re.compile(r"哈哈|呵呵|😂|🤣|😅|笑死|hhh|lol|233")
# "想死的心都有了" said of a queue, a wait or a bill
_DEATH_IDIOM_RE: Final = re.compile(r"想死的心(?:都|也)?有")
_IDIOM_GRIEVANCE_RE: Final = re.compile(
    r"排队|排了|等了|等到|等半天|小时|半天|态度|收费|停车|挂号|堵车|作业|加班|考试|找不到|太贵|太慢")
_SERIOUS_RE: Final = re.compile(r"念头|老|最近|一直|总|药|攒|藏|真的|不是开玩笑|认真")
# An instruction of what to do if a sign comes: "医生说烧到38度5就回医院".
_TOLD_BEFORE_RE: Final = re.compile(r"(?:说|讲|交代|嘱咐|叮嘱|告诉|让|要求)")
_INSTRUCTION_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;]{0,8}?(?:以上|的话)?就(?:回|来|去|吃|打|复诊|就医|联系)")
# The expected effect of a medicine or a treatment, told as expected: "吃铁剂大便会发黑",
# "拔牙那边口水里还带一点点血丝".
_BLACKENING_MEDICINE_RE: Final = re.compile(r"铁剂|补铁|铁片|铁的|铋|活性炭|碳片")
_SALIVA_STREAK_RE: Final = re.compile(
    r"(?:口水|唾沫|唾液)[^,，。!?；;]{0,6}(?:一点点|一丁点|一点|点儿?|少许|些许|淡淡的?)血丝")


def _told_not_felt(norm: str, cs: int, ss: int, s: int, e: int, word: str) -> str:
    """Why a sign at ``norm[s:e]`` is told for another purpose than to say it is felt now
    ("" if not): the patient's sibling, a member of staff's gesture, death wished in jest, an
    instruction of what to do if it comes, or the expected effect of a medicine.
    """
    if _SIBLING_IN_RE.search(norm, cs, e) is not None:
        return "about someone else"
    if "翻白眼" in word and _GESTURE_RE.search(norm, max(cs, s - 3), e) is not None and \
            _STAFF_OR_MANNER_RE.search(norm) is not None:
        return "a gesture of the staff"
    se = bounds(norm, s, e)[2]
    if _JEST_DEATH_RE.search(word) is not None and (
            _JEST_BEFORE_RE.search(norm, max(cs, s - 3), s) is not None
            or _LAUGH_RE.search(norm, ss, se) is not None) and \
            _SERIOUS_RE.search(norm, ss, se) is None:
        return "said in jest"
    if _TOLD_BEFORE_RE.search(norm, cs, s) is not None and \
            _INSTRUCTION_AFTER_RE.match(norm, e) is not None:
        return "an instruction of what to do if it comes"
    if "黑" in word and _BLACKENING_MEDICINE_RE.search(norm, ss, se) is not None:
        return "the expected effect of a medicine"
    if "血" in word and _SALIVA_STREAK_RE.search(norm, cs, se) is not None and \
            _NOW_MARK_RE.search(norm, ss, se) is None:
        return "mild and expected"
    return ""


def grievance_circumstance(norm: str, cs: int, ss: int, se: int, word: str) -> str:
    """"told as a grievance's circumstance" when the reply is a grievance about the service
    and nothing says the sign ``word`` (in the clause at ``cs``) goes on now; else ""."""
    if _NEVER_CIRCUMSTANCE_RE.search(word) is None and \
            _GRIEVANCE_RE.search(norm) is not None and not _said_now(norm, cs, ss, se):
        return "told as a grievance's circumstance"
    return ""


def _said_now(norm: str, cs: int, ss: int, se: int) -> bool:
    """Whether the sentence ``norm[ss:se]`` says the sign in the clause at ``cs`` goes on now
    (a day count counts only in that clause or after it: "第三天就让出院，伤口还疼着呢" dates
    the discharge, not the sign)."""
    return any(m.start() >= cs or not m.group().startswith("第")
               for m in _NOW_MARK_RE.finditer(norm, ss, se))


def _rf_context_exclusion(norm: str, cs: int, ss: int, s: int, e: int, cues: str) -> str:
    """During the treatment (and not later), long ago, long-standing, said in jest, or
    another cause (:func:`other_cause`).

    ``cues`` (from :func:`cues`) says which of the first ones the reply mentions at all, so
    most mentions are cleared without a single search.
    """
    why = other_cause(norm, cs, ss, s, e)
    if why:
        return why
    if "p" in cues:
        pm = _RFB_PROCEDURE_RE.search(norm, ss, s)
        if pm is not None and _NOW_RE.search(norm, pm.end(), s) is None:
            return "during the treatment"
    if "j" in cues:
        return "said in jest"
    if "s" in cues and staff_subject(norm, cs, s):
        return "about a staff member"
    if "c" in cues or "t" in cues:
        m = SEP_RE.search(norm, e)
        ce = m.start() if m else len(norm)
        if "c" in cues and _CHRONIC_RE.search(norm, ss, ce) is not None:
            return "long-standing"
        if "t" in cues and _PAST_RE.search(norm, cs, ce) is not None and \
                _NOW_RE.search(norm, e, ce) is None:
            return "long ago"
    if "n" not in cues or _NO_RESOLVE_RE.search(norm, ss, len(norm)) is None:
        se = bounds(norm, s, e)[2]
        return not_now(norm, ss, se, s, e, norm[s:e]) or \
            grievance_circumstance(norm, cs, ss, se, norm[s:e])
    return ""


# A low-grade fever: "低烧37.6", "37度5" (not "烧到38"), which counts when it goes on.
_LOW_FEVER_RE: Final = re.compile(r"低烧|低热|微热|3(?<![\d.]3)7(?:\.\d|度\d?)(?![\d.])")
_LOW_FEVER_WORD_RE: Final = re.compile(r"低烧|低热|微热")
_HIGH_FEVER_RE: Final = re.compile(r"(?:3[89]|4[0-2])(?:\.\d)?(?![\d.])|三十[八九]|四十|高烧|高热")
_GOES_ON_RE: Final = re.compile(
    r"还在|还是|一直|不退|没退|退不|反复|持续|总是|老是|天了|好几天|[两三四五六七八九十几\d]天|第[^,，。!?；;]{1,2}天"
    r"|越来越|又烧|still|days")
# Minor signs that, asked about as normal with nothing severe beside them, are a question
# about an expected course, not a warning: "有点口臭，正常吗", "吃点油的就拉肚子，这个正常吗".
_ASKABLE_RE: Final = re.compile(r"疼|痛|肿|胀|酸|痒|麻|咳|红|烫|臭|味|拉肚子|拉稀|泻|恶心|不舒服"
                                r"|难受|疹"
                                r"|低烧|低热|发炎|光晕")
_EXCRETA_RE: Final = re.compile(r"尿|便|血|痰")
_ASKED_EXPECTED_RE: Final = re.compile(
    r"正常[吗吧么嘛]|正常的[吗吧么嘛]|正不正常|算正常|是正常的吧|要紧[吗不么]|要不要紧|没事吧|没问题吧"
    r"|不用担心吧|不要紧吧|is (?:this|that|it) normal|normal\?"
    # how long until it passes: asked as an expected course
    r"|多久(?:能|会|才能|才会)?好|几天(?:能|会|才能)?好")
_ASKED_SEVERE_RE: Final = re.compile(
    r"一直|不停|不断|厉害|严重|受不了|越来越|加重|更[疼痛肿多大红]|睡不着|[两三四五六七八九十几\d]天了"
    r"|(?:3[89]|4[0-2])(?:\.\d)?(?![\d.])|高烧|血|脓|喘|憋|抽|昏|晕倒|看不[见清]|不吃|不喝|尿少|没尿"
    r"|还是|还在|还[疼痛肿红烧]|比[^,，。!?；;]{0,4}(?:还|更)|没好|不好|没消|不消|不退"
    # not relieved, sudden, colicky, spreading, deformed, more than before (Cantonese 过之前,
    # 晒 "all over"), excreta and sputum
    r"|缓解|突然|一阵一阵|绞|像鼓|红线|变形|整[个块张]|成[块个张]|晒|[疼痛肿]过|又红又|白色的东西"
    r"|痰|尿|便|红色的丝|红丝")
# ... and only when the writer softens it themselves ("有点", "稍微"): an unsoftened sign asked
# about ("肚子一阵一阵绞着疼，要紧吗") is reported, and asking cannot take a red flag away.
_SOFTENER_RE: Final = re.compile(
    r"有点|一点|有些|稍微|稍稍|轻微|微微|略微|略有|些许|[吃喝]点|一丢丢|小小|一小[块片点]|几个小"
    # early in a course, where soreness is expected: "矫正第一周牙齿酸痛"
    r"|第[一二1-2](?:周|天|个星期|个礼拜)|刚(?:戴|装|做完|矫正|换|调)|头(?:几|两)天|酸痛|酸胀")


def _mild_asked(norm: str, ss: int, se: int, s: int, e: int, word: str) -> str:
    """A low-grade fever not said to go on, or a minor sign asked about as normal ("" if
    neither): the label convention's "mild and expected" (docs/labels.md)."""
    sentence = norm[ss:se]
    if ("烧" in word or "热" in word) and _LOW_FEVER_RE.search(sentence) is not None and \
            _HIGH_FEVER_RE.search(sentence) is None and _GOES_ON_RE.search(norm, ss) is None:
        return "a low-grade fever"
    if _VALUE_ASKED_RE.match(norm, e) is not None:
        return "a value asked about"
    if norm.startswith("死", e) and _LAUGH_RE.search(norm, ss) is not None and \
            _SERIOUS_RE.search(norm, ss, se) is None:
        return "said in jest"  # "疼死我了哈哈哈"
    if _ASKABLE_RE.search(word) is not None and _EXCRETA_RE.search(word) is None and \
            _SOFTENER_RE.search(norm, ss, e) is not None and \
            _ASKED_EXPECTED_RE.search(norm, e, min(len(norm), se + 12)) is not None and \
            _ASKED_SEVERE_RE.search(norm, ss, min(len(norm), se + 12)) is None:
        return "mild, asked about as expected"
    return ""


def rfb_exclusion(norm: str, s: int, e: int, word: str, cues: str) -> str:
    """Why a broad symptom mention at ``norm[s:e]`` is not a red flag ("" if it is one)."""
    cs, ss, se = bounds(norm, s, e)
    before = norm[max(cs, s - 10):s]
    sentence = norm[ss:se]
    if word in _RFB_NEEDS_CONTEXT:
        extra = _RFB_CONTEXT_EXTRA.get(word)
        if extra is not None:
            if extra.search(sentence) is None:
                return "no sign"
        elif _RFB_CONTEXT_RE.search(sentence.replace(word, " ")) is None:
            return "no body context"
    if _RFB_DENY_BEFORE_RE.search(before) or (
            _RFB_DENY_AFTER_RE.match(norm, e, se) and not word.startswith("一滴")):
        return "denied"
    if word in ("不舒服", "难受"):
        if "没" in norm[cs:s] or "无" in norm[cs:s]:
            return "denied"
        if _FEELING_RE.search(norm, cs, s) is not None:
            return "a feeling, not the body"
    if (_better_after(norm, e, se) or (RF_RESOLVED_AFTER_RE.match(norm, e, se) and
                                        NEG_RESOLUTION_RE.search(norm, e, se) is None)) \
            and ("n" not in cues or _NO_RESOLVE_RE.search(norm, ss, se) is None):
        return "resolved or improving"
    if ("h" in cues and _hypothetical(norm, ss, se, s)) or \
            _RFB_HYPO_CLAUSE_RE.search(norm, cs, s) or \
            _RFB_HYPO_AFTER_RE.match(norm, e, se):
        return "hypothetical or asked in general"
    if (word[0] in _RFB_MINOR or word in _SOFTENABLE) and (_RFB_SOFT_BEFORE_RE.search(before) or
                                  _RFB_SOFT_AFTER_RE.match(norm, e, se)) and \
            NEG_RESOLUTION_RE.search(norm, e, se) is None:  # "疼一点没减轻" is not mild
        return "mild"
    if word in ("晕", "头晕") and _RFB_SOFT_BEFORE_RE.search(before) and \
            _ASKED_NORMAL_RE.search(norm, e) is not None:
        return "mild"
    why = _mild_asked(norm, ss, se, s, e, word)
    if why:
        return why
    why = _rf_context_exclusion(norm, cs, ss, s, e, cues)
    if why:
        return why
    if word[0] == "麻" and "a" in cues and _RFB_ANAESTHESIA_RE.search(sentence):
        return "the anaesthetic"
    return ""


# -- self-harm told obliquely or outright ------------------------------------------------------
# The words of a self-harm hit (the lexicon's, the composed rules' and redflag.toml's
# self_harm): these take self_harm_why's exclusions, not the symptom layer's ("药我已经攒好了":
# 好了 resolves nothing; "想死，已经好几天了" goes on).
SELF_HARM_WORD_RE: Final = re.compile(
    r"想死|去死|寻死|不如死|死了算|一起死|怎么死|怎样死|如何死|[掐捂摔弄闷]死|活(?:着|不下|够)"
    r"|不想再活|自杀|轻生|自残|割腕|又(?:划|割)|[划割]伤?了?自己|手腕|新的伤口|新[划割]的|一了百了"
    r"|想不开|撑不下去|解脱|结束"
    r"|了结|遗书|遗言|绝笔|后事|永别|下辈子|跳(?:楼|河|江|湖|桥|崖|轨)|^从|负担|累赘|拖累|包袱"
    r"|作伴|做伴|团聚|攒|刀(?![口疤])|刀片|遗|留了?(?:一封|几封)?信|写好了?信|信\S{0,3}写好"
    r"|告别|道别|再见"
    r"|东西\S{0,4}[送分]|楼顶|天台|顶楼|站在|想(?:再)?醒|再醒|一睡不醒|永远|消失|不在了|没有我|没了我"
    r"|离开这个世界|kill|end my life|suicid|want to die|live|can't go on|point|goodbye|all to"
    r"|everything to|without me|gone|wake up|note for|away my things|roof|bridge|harm|cut")
_SH_ORDINARY_RE: Final = re.compile(
    "|".join(re.escape(w) for w in strings(table("redflag"), "self_harm_ordinary")))
# hits that hold their own condition or plan ("要是我不在了大家都轻松", "没有药攒着")
_SH_OWN_IF_RE: Final = re.compile(r"攒|不在了|消失|没有我|没了我")
# a worry about a side effect: "会不会吃了这个药以后想不开啊"
_SH_WORRY_RE: Final = re.compile(r"副作用|会不会(?!是)|side effect")
# "想死你们了", "想死我了": missing someone, not dying
_SH_MISS_RE: Final = re.compile(r"想死(?:你|您|大家|我了|我啦|他|她|宝宝|孩子|了你)")
# someone else's words, a story, a joke: "电影里主角写好了遗书", "我朋友说他不想活了是开玩笑的"
_SH_STORY_RE: Final = re.compile(
    r"电影|电视剧|剧里|剧中|书里|书上|小说|主角|主人公|新闻|歌词|台词|故事|综艺|短视频|抖音上"
    r"|(?<!不是)(?<!没)(?<!没有)(?<!没在)(?:开玩笑|说着玩)"
    r"|帮(?:朋友|别人|同学|同事)问|替(?:朋友|别人)问|in the (?:film|movie|book|show)"
    r"|a (?:film|movie|book|show)|joking|kidding")
# past and over: "去年有过这种想法，现在好多了" (but "最近又开始了" is ongoing)
_SH_PAST_RE: Final = re.compile(
    r"以前|之前|去年|前年|前几年|[一两三四五六七八九十几\d]+年前|上一次|上次|那段时间|那时候|那阵子|曾经|过去|有段时间|有一段时间|当时|小时候"
    r"|used to|last year|years ago|in the past")
_SH_OVER_RE: Final = re.compile(
    r"已经没有了|早就没有了|现在没有了|再也没有|已经不想了|现在好多了|现在好了|已经好了|好多了|走出来了|都过去了|已经过去|过去了|现在很好|现在挺好|现在没事"
    r"|没有这种想法了|没这种想法了|不再想|很稳定|稳定了|控制住了|不会再想|早就不想|现在不想了|恢复了|康复了"
    r"|much better now|better now|i'?m fine now|i'?m ok now|over it|not anymore")
_SH_RECENT_RE: Final = re.compile(
    r"最近|这几天|这两天|这阵子|这段时间|又(?!好)|还是|还在|还会|还有|现在还|今天|昨天|昨晚|今晚|刚才|刚刚|每天"
    r"|天天|还一直|一直想|一直有|一直在想|again|lately|recently|still|these days")
# said outright (dying, killing oneself, not wanting to live): no setting makes it ordinary
_SH_EXPLICIT_RE: Final = re.compile(
    r"死|自杀|轻生|自残|割腕|活(?:着|不下|够)|不想再?活|一了百了|了结|遗书|遗言|绝笔"
    r"|kill|suicid|want to die|end my life")
# a question about the service: "请问心理咨询热线是多少", "自杀干预怎么收费"
_SH_SERVICE_RE: Final = re.compile(
    r"热线|心理科|心理咨询|咨询师|门诊|挂号|收费|预约|讲座|干预|科普|宣传|hotline|helpline")
_SH_ASKED_RE: Final = re.compile(r"请问|吗|多少|怎么(?:收|挂|约|联系|预约)|几点|周几|哪天|[?？]")
_SH_FIRST_PERSON_NOW_RE: Final = re.compile(r"我(?:现在|真的|一直|最近|又|还)")


def self_harm_why(norm: str, s: int, e: int) -> str:
    """Why a self-harm hit at ``norm[s:e]`` is none ("" if it stands): denied, missing
    someone, someone else's words or a story, a joke, past and over, a question about the
    service, an ordinary roof, move, kitchen or letter."""
    cs, ss, se = bounds(norm, s, e)
    if RF_DENY_BEFORE_RE.search(norm, max(cs, s - 8), s) is not None and \
            not norm.startswith("不想", s) and _SH_OWN_IF_RE.search(norm, s, e) is None:
        return "denied"
    if _SH_OWN_IF_RE.search(norm, s, e) is None and (
            _hypothetical(norm, ss, se, s) or _SH_WORRY_RE.search(norm, ss, se) is not None):
        return "hypothetical or asked in general"
    if _SH_MISS_RE.match(norm, s) is not None:
        return "missing someone"
    if _JEST_DEATH_RE.search(norm, s, e) is not None and (
            _JEST_BEFORE_RE.search(norm, max(cs, s - 3), s) is not None
            or _LAUGH_RE.search(norm, ss, se) is not None) and \
            _SERIOUS_RE.search(norm, ss, se) is None:
        return "said in jest"
    if _DEATH_IDIOM_RE.match(norm, s) is not None and _IDIOM_GRIEVANCE_RE.search(norm) is not None \
            and _SERIOUS_RE.search(norm) is None:
        return "an idiom about a grievance"  # "等了三个小时，想死的心都有了"
    if _SH_STORY_RE.search(norm) is not None and _SH_FIRST_PERSON_NOW_RE.search(norm) is None:
        return "someone else's words or a story"
    if _SH_PAST_RE.search(norm) is not None and _SH_OVER_RE.search(norm) is not None and \
            _SH_RECENT_RE.search(norm) is None:
        return "past and over"
    if _SH_SERVICE_RE.search(norm) is not None and _SH_ASKED_RE.search(norm) is not None and \
            _SH_FIRST_PERSON_NOW_RE.search(norm) is None:
        return "a question about the service"
    if _SH_ORDINARY_RE.search(norm, ss, se) is not None and \
            _SH_RECENT_RE.search(norm, ss, se) is None and \
            _SH_EXPLICIT_RE.search(norm, s, e) is None:
        return "ordinary here"
    return ""
