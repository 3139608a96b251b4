"""When a sign told is not the patient's sign now: its time, its teller, its purpose.

A past episode or a finished one, a resolution told later in the reply, a conditional; a
near miss, a fear corrected, someone else, noise rather than hearing, a single episode long
before (:func:`other_cause`, :func:`not_now`); a sign told as a grievance's circumstance --
how long they waited, that nobody helped -- with nothing saying it goes on now
(:func:`grievance_circumstance`).  Used by :mod:`surveys.understanding.safety`.
"""

from __future__ import annotations

import re
from typing import Final

from surveys.understanding.compose import factor, strings, table
from surveys.understanding.resolution import (
    NEG_RESOLUTION_RE,
    RFB_HYPO_AFTER_RE,
    RFB_MINOR,
)
from surveys.understanding.text import bounds

# A staff member before the body word: "医生脸色难看得吓人" is about the doctor.
BODY_STAFF_RE: Final = re.compile(r"医生|大夫|护士|老师|前台|客服|工作人员|收费|院长|主任")


_NEAR_MISS_RE: Final = re.compile(r"(?:差点|差一点|差点儿|险些|差些)(?:就|要)?[^,，。!?；;]{0,2}$")
_FALL_RE: Final = re.compile(r"摔|跌|滑倒|栽|掉下")
_CORRECTED_RE: Final = re.compile(
    r"(?:原来|其实|结果|后来发现|才发现|才知道|一看)(?:是|只是|就是|不是)")
_SOMEONE_ELSE_RE: Final = re.compile(r"邻居|隔壁|同事|别人家|(?<!小)朋友|同病房|病友|"
                                     r"同宿舍|舍友|闺蜜|"
                                     r"(?:前面|旁边|后面|对面)(?:那|的)?[个位]?(?:小孩|孩子|人|大人"
                                     r"|女的|男的|老人)|"
                                     r"(?:有|有一)[个位](?:老太太|老头|大爷|大妈|阿姨|病人|人|小孩)|"
                                     # "我们屋那个阿姨", "隔壁床的大爷", "孩子的哥哥"
                                     r"同屋|同一?个?屋|我们屋|邻床|同一?个?病房|"
                                     r"(?<![家我俺])[那这][个位](?:老太太|大爷|大妈|阿姨)|"
                                     r"(?:孩子|宝宝|他|她|病人)的(?:哥哥|姐姐|弟弟|妹妹)")
# another child of the class, named with the sign or before it: "班上有个小朋友发烧到40度"
_CLASSMATE_RE: Final = re.compile(
    r"(?:有个|有一个|别的|其他|同桌|同班|班上|班里)的?(?:小朋友|同学|孩子|小孩)(?!的)")
# A relative who *also* has a sign ("我妹妹前几天也发烧了") or who should *also* come to be
# seen ("我老伴眼睛疼得厉害，能不能也来你们这看看"): not the patient.
_ALSO_OTHER_RE: Final = re.compile(
    r"(?:妹妹|姐姐|哥哥|弟弟|老伴|老公|老婆|爱人|室友|同学|同事|朋友|闺蜜|我[姐哥弟妹])"
    r"[^,，。!?；;]{0,4}也")
_ALSO_SEEN_RE: Final = re.compile(r"也(?:来|带[他她]?来|过来|去)(?:你们|看|挂|检查|瞧)")
# 急诊 as the department in a story about the service ("急诊把我妈晾在走廊", "幸亏你们急诊抢救
# 及时", "在急诊躺了两天才住进去", "前面有急诊", "看过一次急诊"), not a patient on the way there
# now ("要不要去急诊", "现在在急诊", "送急诊").
# (its bill, its staff, its rooms, its waiting: "这次急诊的费用", "急诊那个女医生", "急诊厕所",
# "急诊从九点等到两点"; "三点到的急诊 五点就看完了")
_ER_PLACE_AFTER_RE: Final = re.compile(
    r"(?:科|室|大厅)?(?:把|抢救|躺了|那天|那晚|的(?:医生|护士|大夫)|医生|护士|啊|嘛"
    r"|的?(?:费用|费|账单|发票|收费)|那[个位]|厕所|卫生间|环境|从[^,，。!?；;]{0,10}等)")
_ER_STORY_BEFORE_RE: Final = re.compile(r"(?:你们|前面有|一次|儿科|那个|看过|这次|上次|那次"
                                        r"|[点钟]到的)$")
_ER_GOING_BEFORE_RE: Final = re.compile(r"(?:去|送|挂|赶|到|进|现在在|正在|还在)(?:你们)?$")
# Words that look like a sign and are something else: a halo round lights after eye surgery
# A neighbour or a colleague who tells us about the patient: "邻居打电话说我爸倒在地上叫不醒".
_TELLER_RE: Final = re.compile(
    r"(?:邻居|隔壁|同事|朋友)[^,，。!?；;]{0,4}(?:说|打电话|告诉|发现|看到|看见|通知|喊)"
    r"[^,，。!?；;]{0,2}(?:他|她|我(?:爸|妈|家)|老人|病人|老伴|老爷子|老太太|[爸妈爷奶])")
# The writer's own sign beside a patient said to be well: "我自己有点发烧，孩子挺好".
_WRITER_RE: Final = re.compile(r"(?:我|俺)(?:自己|本人)")
_PATIENT_FINE_RE: Final = re.compile(
    r"(?:孩子|宝宝|小孩|娃|儿子|女儿|病人|患者|老人|老头子?|老伴|老爷子|老太太)(?:倒是|都|本人)?"
    r"[^,，。!?；;不没]{0,3}?"
    r"(?:挺好|很好|还好|没事|好好的|一切正常|正常)")
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
# ... or an ache of annoyance: "看得我脑壳痛", "被我妈念叨得耳朵疼", "吵得头疼"
_ANNOYANCE_RE: Final = re.compile(
    r"(?:看|听|念叨?|唠叨|吵|烦|算|气)得(?:我|人)?(?:脑壳|头|脑袋|耳朵|脑仁)?(?:都|直|有点)?$"
    # a worry, not a headache: "终身用药，想想都头痛"
    r"|(?:想想|一想到?|想起来)[^,，。!?；;]{0,2}(?:都|就)(?:头|脑壳|脑袋)?$")
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
_SHIVER_RE: Final = re.compile(r"抖|哆嗦|打颤|打冷战|发冷")
_NOISE_RE: Final = re.compile(r"吵|噪音|隔音|声音太大|太响|信号|电话里|听筒|麦克风")
# a call not heard, said to ask for text instead ("耳背，电话听不见，请发文字", "在工地听不见"):
# how to reach the person, not a new loss of hearing (unless an ear is named before it)
_CALL_RE: Final = re.compile(r"电话|打了|打过来|口型|工地|说话太快")
_EAR_RE: Final = re.compile(r"耳(?!背)")  # an ear named (耳背 is being hard of hearing)
_ONCE_BEFORE_RE: Final = re.compile(r"之前|以前|曾经|上次|先前|以往|早先")
_ONCE_RE: Final = re.compile(r"过(?:[一两几\d]次|一回|一阵)")
# A fever or bleeding said to be over later in the reply, however far after: "之前发烧到三十八度多
# ……现在已经好几天没烧了" (a new mention after it is judged on its own).
_FEVER_OVER_RE: Final = re.compile(
    r"(?:没|不|没再|没有再)(?:发)?烧了|退烧了|烧退了|烧已经退|烧早就退|烧也退|体温正常|没再烧|没有再烧"
    # a later reading back to normal: "昨晚烧到38.2，今天早上37.1了"
    r"|(?<![\d.])(?:3[56](?:\.\d)?|37(?:\.[0-3])?)(?:度[0-3]?)?了")
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
    r"上次|上回|那次|那回(?![来去家])|那天|那晚|那一晚|那几天|那阵子?|那会儿?|当时|住院(?:时|的时候|期间|那几天)"
    r"|(?<![比跟和同])之前|(?<![比跟和同])以前|曾经|生(?:孩子|宝宝|小孩|娃)的时候")
# "上次开的药", "以前做的牙冠": the marker names a thing of that time, not when the sign was
_ATTRIBUTIVE_RE: Final = re.compile(r"[^,，。!?；;的]{1,4}的(?!时候|时|那)")
# ... or told right after the sign: "孩子高热惊厥那次真的吓死了"
_EPISODE_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;]{0,4}?(?:那次|那回(?![来去家])|那天|那晚|那阵子?|那会儿?|(?:是|都是)[^,，。!?；;]{0,4}的事)")
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
    if any(c in RFB_MINOR or c == "血" for c in word) and (
            _DONE_AFTER_RE.match(norm, e, se) is not None
            or _DONE_BEFORE_RE.search(norm, max(ss, s - 12), s) is not None) \
            and _ONGOING_RE.search(rest) is None and _HELP_NOW_RE.search(rest) is None:
        return "a finished episode"
    later = _LATER_RESOLVED_RE.search(norm, e)
    if later is not None and NEG_RESOLUTION_RE.search(norm, later.start(), later.end()) is None \
            and _ONGOING_RE.search(norm, later.end()) is None \
            and _ONGOING_RE.search(norm, e, later.start()) is None:
        return "resolved later in the reply"
    if RFB_HYPO_AFTER_RE.match(norm, e, se) is not None:
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
    if (_SOMEONE_ELSE_RE.search(norm, cs, s) is not None or
            _CLASSMATE_RE.search(norm, cs, e) is not None) and \
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
    if word[0] in "疼痛" and _ANNOYANCE_RE.search(norm, max(cs, s - 8), s) is not None:
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
    if _COLD_RE.search(norm, max(ss, s - 10), e) is not None and (
            word[-1] in "白紫青" or _SHIVER_RE.search(word) is not None):
        return "the cold"  # "冻得嘴唇发白", "冻得发抖"（空调坏了）
    if "听不" in word and _NOISE_RE.search(norm, ss, e + 20) is not None:
        return "noise, not hearing"
    if "听不" in word and _CALL_RE.search(norm, ss, e + 12) is not None and \
            _EAR_RE.search(norm, ss, s) is None:
        return "a call not heard, not hearing lost"
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
    r"死|活|自杀|轻生|割腕|跳|药|120|救护车|抽|惊厥|昏迷|休克|呼吸|喘不|憋|胸|意识|叫不醒"
    r"|吐血|呕血|咯血|便血")
# The patient's own sibling named inside a child-sign phrase: "孩子的哥哥也开始发烧".
_SIBLING_IN_RE: Final = re.compile(
    r"(?:孩子|宝宝|小孩|儿子|女儿|他|她)的(?:哥哥|姐姐|弟弟|妹妹|同学)")
# A gesture of a member of staff, not a child's eyes rolling up: "问两句就翻白眼", "对我翻白眼".
_GESTURE_RE: Final = re.compile(r"(?:对我们?|冲我们?|给我|朝我|就|还|都|她|他)翻白眼")
_STAFF_OR_MANNER_RE: Final = re.compile(
    BODY_STAFF_RE.pattern + r"|态度|前台|收费|大姐|小姑娘|不耐烦|问[^,，。!?；;]{0,6}(?:就|都|还)")
# Death wished in jest or out of boredom: "排队排到想死", "想死 体重又涨了五斤😂".
JEST_DEATH_RE: Final = re.compile(r"想死|不想活")
JEST_BEFORE_RE: Final = re.compile(r"(?:[排等熬挤累烦忙]|[排等熬挤][到得]我?|到我)$")
LAUGH_RE: Final = re.compile(r"哈哈|呵呵|😂|🤣|😅|笑死|hhh|lol|233")
# "想死的心都有了" said of a queue, a wait or a bill
DEATH_IDIOM_RE: Final = re.compile(r"想死的心(?:都|也)?有")
IDIOM_GRIEVANCE_RE: Final = re.compile(
    r"排队|排了|等了|等到|等半天|小时|半天|态度|收费|停车|挂号|堵车|作业|加班|考试|找不到|太贵|太慢")
SERIOUS_RE: Final = re.compile(r"念头|老|最近|一直|总|药|攒|藏|真的|不是开玩笑|认真")
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
    if JEST_DEATH_RE.search(word) is not None and (
            JEST_BEFORE_RE.search(norm, max(cs, s - 3), s) is not None
            or LAUGH_RE.search(norm, ss, se) is not None) and \
            SERIOUS_RE.search(norm, ss, se) is None:
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
