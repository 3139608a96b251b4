"""Red flags: a worrying sign now, which a doctor should hear about soon (docs/labels.md).

Precise rules composed from word tables (``redflag.toml``): a symptom with its persistence,
escalation, severity or inability ("一直出血", "烧到39度", "疼得睡不着"), a warning sign at a
wound site, a worrying sign in a child, a sign alarming on its own.  Then, recall first (a
missed warning costs far more than a harmless reply read by a person), any other mention of a
symptom or sign, a body part with a change word (the lexicon's ``red_flag_body`` x
``red_flag_change``: "半边脸没知觉"), or two farewell cues together -- unless
``surveys.understanding.safety`` explains it away.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Final

from surveys.understanding.compose import (
    IN,
    IN_POS,
    MAX_HITS,
    alt,
    each,
    factor,
    finditer_parts,
    rx_each,
    split_parts,
    strings,
    table,
)
from surveys.understanding.evidence import Evidence, make_ev
from surveys.understanding.resolution import (
    NEG_RESOLUTION_RE,
    RF_DENY_BEFORE_RE,
    RF_RESOLVED_AFTER_RE,
    fainted,
)
from surveys.understanding.safety import (
    cues_of,
    growing,
    rf_precise_exclusion,
    rfb_exclusion,
    staff_subject,
)
from surveys.understanding.selfharm import SELF_HARM_WORD_RE, self_harm_why
from surveys.understanding.text import (
    CLAUSE_TAIL_RE,
    Scan,
    bounds,
    first_matches,
    last_separator,
    sent_end,
)

# the word tables (redflag.toml)
_WORDS: Final = table("redflag")

# Farewell cues (see _farewell): each group is one cue.
_FAREWELL_RE: Final = re.compile(
    r"(?P<trouble>不(?:再|会|想再)?(?:麻烦|打扰|拖累)(?:大家|你们|各位|家里|家人|孩子)(?:了|啦))"
    r"|(?P<tidy>(?:东西|后事|事情|身后事)[^,，。!?；;]{0,3}(?:整理|收拾|安排|交代)好了)"
    r"|(?P<thanks>谢谢(?:大家|你们|各位)一直以来|一直以来的(?:照顾|关照|帮助))"
    r"|(?P<method>(?:查|搜|找)[^,，。!?；;]{0,6}(?:那种|那个)(?:方法|办法))"
    r"|(?P<alone>躲在房间|不想见人|想哭|活着累|撑不住了|(?:别|不用)(?:再)?(?:联系|找)我了)"
    r"|(?P<gone>(?:去年|前年|上个月|走了|不在了|去世|过世)[^。!?]{0,20}(?:作伴|陪他|陪她)"
    r"|(?:作伴|陪他|陪她)[^。!?]{0,20}(?:走的|走了|去世|过世|不在了))")
FAREWELL_GATE_RE: Final = re.compile(r"麻烦|打扰|拖累|好了|一直以来|方法|办法|躲在|见人|想哭"
                                      r"|撑不住|联系我|找我|作伴|陪他|陪她")


_SYMPTOMS: Final = " ".join(strings(_WORDS, "symptoms"))
_SYMPTOM = "(?:" + "|".join(_SYMPTOMS.split()) + ")"
_FEVER = r"(?:3[89]|4[0-2])"
# Built-in red flags composed from a symptom and its persistence or severity, plus fevers
# written as numbers; they go through the same denial checks as the lexicon entries.
_RF_PHRASES: Final = (
    each("38 39 40 41 42", r"(?:\.\d)?\s?(?:度|℃|°c?)\d?") + "|三十[八九]度|四十度|"
    + each("体温 烧到 烧了 温度 发烧 发热 高烧", r"\D{0,3}" + _FEVER) + "|"
    + each("一直 不停 不断 老是 总是 反复 持续", r"[^,，。.!?；;有点微不没]{0,3}" + _SYMPTOM) + "|"
    + each("严重 剧烈", "的?" + _SYMPTOM) + "|"
    + each(_SYMPTOMS, r"[^,，。.!?；;]{0,5}(?:厉害|严重|受不了|忍不了|睡不着|没睡|要命|不行了|"
            r"停不下来|不停)") + "|"
    + each("还在 仍在 仍然在", r"[^,，。.!?；;]{0,2}(?:出血|流血|渗血|发烧|烧)") + "|"
    + each("很 好 太 特别 非常 超 巨 钻心 钻心地", "(?:疼|痛)") + "|"
    + r"吐了(?:[两三四五六七八九十几多]{1,2}|好几|\d+)次|"
    + each("胸口 胸 心口", r"[^,，。.!?；;]{0,6}(?:疼|痛|闷)")
)


# Red flag = (symptom) x (persistence | escalation | severity | inability), or a warning sign
# at a wound site, or a worrying sign in a child, or a sign that is alarming on its own.
_RF_SYMPTOM_HEADS: Final = strings(_WORDS, "symptom_heads")
_RF_PERSIST_AFTER: Final = strings(_WORDS, "persist_after")
_RF_PERSIST_BEFORE: Final = strings(_WORDS, "persist_before")
_RF_DEGREE_HEADS: Final = strings(_WORDS, "degree_heads")
_RF_SITES: Final = strings(_WORDS, "sites")
_RF_SITE_SIGNS: Final = strings(_WORDS, "site_signs")
_RF_CHILDREN: Final = strings(_WORDS, "children")
# "大宝", "二宝": 宝 first, so that 大/二/小 (common first characters) start no attempt
_RF_CHILD_RX: Final = (*(re.escape(c) for c in _RF_CHILDREN),
                       "宝(?:(?<=大宝)|(?<=二宝)|(?<=小宝)|(?<=三宝))")
_RF_CHILD_SIGNS: Final = strings(_WORDS, "child_signs")
_RF_SIGNS: Final = strings(_WORDS, "signs")
# within the sentence, across commas and spaces: "石膏太紧 脚趾有点发麻"
_IN_SENTENCE: Final = r"[^。.!?？！；;~]"
_CAST_NUMB: Final = (r"(?:脚趾|手指|指头|趾头|脚指头|指尖|脚尖)" + IN_POS
                    + "{0,4}(?:发麻|麻木|麻了|发凉|冰凉|冰冷|发紫|发白|发黑|青紫|没知觉|没感觉)")
# someone else's medicine, eaten: "把他奶奶的降压药吃了两粒"
_OTHERS_MEDICINE: Final = (
    r"(?:降压|降糖|安眠|避孕|抗抑郁|精神|心脏|大人的?|[爷奶姥外公婆爸妈姨舅叔][^,，。!?；;]{0,2}的)"
    + IN + "{0,4}药")
_OBJECTS: Final = "(?:电池|纽扣|磁铁|磁珠|硬币|图钉|别针|钉子)"
_SWALLOWED_RE: Final = re.compile(
    _OBJECTS + "|" + _OTHERS_MEDICINE
    # a dialysis fistula that has gone quiet: its "没了" is the sign, not a recovery
    + "|震颤|瘘")
# the unborn (or newborn) baby, for movements not felt
_FETUS_HEADS: Final = strings(_WORDS, "fetus_heads")
_FETUS: Final = alt(_FETUS_HEADS)
# many pills or a whole bottle: "20片安眠药", "一瓶药", "一整板", "所有的药"
_MANY_PILLS: Final = (
    r"(?:[1-9]\d|[二三四五六七八九]十|十几|几十|一把|一整?瓶|整瓶|大半瓶|半瓶|一整?盒|整盒|一整?板|整板"
    r"|所有的?|全部的?)" + IN + "{0,2}(?:片|粒|颗)?" + IN + "{0,4}?药(?!店|房|费|方|单|盒子)")
_INGESTED: Final = (r"(?:" + _OTHERS_MEDICINE + IN + "{0,6}(?:吃|吞|喝|咽)|(?:吃|吞|喝)了?"
                    + IN + "{0,3}" + _OTHERS_MEDICINE + "|(?:吃|吞|咽)(?:了|下|进去)?" + IN
                    + "{0,3}" + _OBJECTS + ")")
_RF_EXCRETA: Final = strings(_WORDS, "excreta")
_RF_LIMBS: Final = strings(_WORDS, "limbs")
_RF_GRAMMAR: Final = "|".join((
    rx_each(_RF_SYMPTOM_HEADS, IN + "{0,5}" + alt(_RF_PERSIST_AFTER)),
    rx_each(_RF_PERSIST_BEFORE, r"[^,，。.!?；;~\s不没点微]{0,4}"
             + alt(h for h in _RF_SYMPTOM_HEADS)),
    rx_each(_RF_DEGREE_HEADS, "得(?![不没有点还挺轻])"),
    each(" ".join(_RF_SITES), IN_POS + "{0,6}" + alt(_RF_SITE_SIGNS)),
    rx_each(_RF_CHILD_RX, IN_POS + "{0,6}" + alt(_RF_CHILD_SIGNS)),
    each(" ".join(_RF_SIGNS), ""),
    each(" ".join(_RF_EXCRETA), "[里中]?" + IN_POS + "{0,2}(?:有血|带血|是血|血丝|发黑)"),
    each(" ".join(_RF_LIMBS), IN_POS + "{0,3}(?:发麻|没力|没劲|无力|抬不起|动不了)"),
    # fingers or toes numb, cold or blue under a cast or splint (circulation cut off): urgent
    # however lightly said ("石膏太紧 脚趾有点发麻发凉，要紧吗")
    r"(?:石膏|夹板|支具)" + _IN_SENTENCE + "{0,14}" + _CAST_NUMB,
    _CAST_NUMB + _IN_SENTENCE + "{0,14}(?:石膏|夹板|支具)",
    r"拉了(?:一整晚|一晚上|一整夜|一夜|一整天|好几次|[两三四五六七八九十几\d]+次)(?![琴曲首遍])",
    each("两 三 四 五 六 七 几 2 3 4 5 6 7", "天没(?:怎么)?(?:吃|喝|大便|小便|尿)"),
    each("嘴角 嘴 口角 脸", "[也都有点]{0,2}歪"),
    each("心跳", IN_POS + "{0,3}(?:快|乱|不齐|加速)"),
    each("胸口 胸 心口", IN + "{0,6}(?:压|紧|憋)"),
    each("磕 撞 摔", "[到了伤着]?(?:头|脑袋|后脑)"), "碰[到伤着](?:头|脑袋|后脑)",
    each("出血量 血量", IN_POS + "{0,6}(?:多|大)"),
    each("血糖", IN + r"{0,6}(?:[2-3]\d|二十|三十)"),
    each("血糖", r"[^,，。!?；;\d]{0,6}[0-3]\.\d"),
    each("血压", IN + r"{0,4}(?:降到|掉到|只有|才)[4-8]\d(?!\d)"),
    each("止痛 止疼 镇痛", r"[^。.!?；;]{0,8}(?:没用|不管用|压不住|没效果|不顶用|还是疼)"),
    each("叫", IN + "{0,3}(?:不怎么应|没反应|不应)"),
    # watery stool however it is told: "拉了一天的稀"
    each("拉", IN + "{0,5}稀"),
    # a child who swallowed an adult's medicine or a small object
    rx_each(_RF_CHILD_RX, IN + "{0,10}" + _INGESTED),
    "吞(?:了|下|进去)?" + IN + "{0,3}" + _OBJECTS,
    # the object named first: "一颗纽扣电池吞下去了" (urgent however well the child looks)
    _OBJECTS + IN + "{0,4}(?:吞|咽|吃下|吃进|误食|误吞)",
    # the baby's movements not felt: "一上午都没感觉到宝宝动" (胎动 words are in the lexicon)
    each("没感觉到 感觉不到 没感觉 没怎么感觉到 没觉得", IN + "{0,4}?" + _FETUS
          + "在?(?:动|踢)(?![手作画车筷过])"),
    rx_each(_FETUS_HEADS, IN + "{0,6}(?:没|不)(?:怎么|太|再)?(?:动|踢)(?![手作画车筷过])"),
    # suicidal ideation and self-harm told by implication (not 累死了, 烦死了, 笑死)
    each("活着", IN + "{0,4}(?:没意思|没意义|没有意义|没什么意思|没啥意思|没什么意义|没啥意义"
          "|有什么意思|有啥意思|有什么意义|有啥意义|没劲|太累|好累|真累|好难|太难)"),
    "结束(?:这一切|一切|自己|生命|这条命)", r"怎么结束(?=$|[,，。.!?…~\s])",
    "攒(?![钱分积])" + IN + "{0,4}药", "药" + IN + "{0,4}攒",
    "从(?:楼上|楼顶|顶楼|窗户|窗台|窗口|阳台|天台|桥上)" + IN + "{0,4}跳",
    "跳(?:楼(?!价|梯|机)|河|江|湖|桥|崖|轨)",
    # a burden on the family: "我觉得自己就是家里的负担" (not "费用负担重")
    each("我是 我就是 我成了 我只是 我真是 自己是 自己就是 自己成了 自己只是",
          IN + "{0,4}(?:负担|累赘|拖累|包袱)(?!重|太重|很重|大|不小|不轻)"),
    # joining the dead: "想去跟他爷爷作伴"
    each("想去 要去 也去", "(?:跟|和|找|陪)" + IN + "{0,6}(?:作伴|做伴|团聚)"),
    # harming thoughts: "想过伤害孩子" (postpartum)
    each("想过 想要 想把 忍不住想 有种想", IN + "{0,8}(?:伤害|掐死|捂死|摔死|弄死|闷死)"),
    # persecution and danger: "说有人要害她", "拿着刀守着门" (the rarer character first)
    "害(?:(?<=有人害)|(?<=有人要害)|(?<=有人想害)|(?<=有人在害)|(?<=有人会害))(?![怕羞])",
    "监视(?:(?<=有人监视)|(?<=有人在监视))",
    # an overdose told as it happens: "刚才吃了20片安眠药", "一口气把一瓶药都吃了"
    each("吃 吞 喝 咽", r"(?:了|下|掉)?" + IN + "{0,4}?" + _MANY_PILLS),
    each("瓶 盒 板 所有 全部", IN + "{0,4}(?:药|安定|安眠|片|粒)" + IN
          + "{0,2}(?:都|全|全部|一口气|一下子?|一次)(?:吃|吞|喝|咽)(?:了|下|掉|光)"
          "(?![一两三四五六七八九十几\\d好完个])"),
    each("一口气 一下子 一次性", IN + "{0,8}药" + IN + "{0,4}(?:吃|吞|喝)(?:了|下|掉|光)"),
    # psychosis now: "脑子里一直有人说话", "耳边老有人叫我"
    each("脑子里 脑袋里 脑海里 耳边 耳朵里 心里头", IN + "{0,4}有(?:个|一个)?(?:人|声音)" + IN
          + "{0,3}(?:说话|讲话|在说|在讲|叫我|骂我|命令|让我|跟我说|和我说|喊我)"),
    # collapsed and not rousable, however told: "昏倒了叫不醒"
    each("昏倒 晕倒 倒在地 倒地 昏过去 晕过去 倒下 栽倒", IN + "{0,8}(?:叫不醒|喊不醒|叫不应|"
          "喊不应|拍不醒|没反应|没有反应|没意识|不省人事)"),
    # a glucose meter past its range: "血糖仪显示HI", "血糖测不出来"
    each("血糖", IN + "{0,6}(?:hi\\b|high\\b|测不出|测不到|爆表|显示不了|超出范围)"),
    # a fever the medicine does not touch, or one climbing: "退烧药吃了也没用，38、39、40，
    # 一直往上走"
    each("退烧药 退烧针 退烧栓 退烧贴", _IN_SENTENCE + "{0,10}(?:没用|不管用|没效果|无效|不起作用"
         "|压不住|退不下|不顶用|也不退|还是烧)"),
    each("烧 体温 温度", _IN_SENTENCE + "{0,14}(?:往上走|往上窜|往上升|往上涨|还在升|还在涨|一直升"
         "|一直涨|越来越高)"),
    "越烧越高",
    # a glucose that will not come down: "血糖总是在十五六 降不下来 打胰岛素也没用"
    each("血糖", _IN_SENTENCE + "{0,12}(?:降不下来|降不下去|下不来|下不去|压不下|胰岛素也没用"
         "|胰岛素都没用)"),
    # breathless lying flat (the heart failing): "晚上得垫三个枕头才能睡"
    each("躺不平 不能平躺 没法平躺 平躺不了 坐着才能睡 只能坐着睡", ""),
    "垫(?:[两三四五几2-5]|好几)个枕头",
    # weight put on within days (fluid): "出院后这三天体重涨了快五斤"
    each("天 星期 礼拜", IN + "{0,2}体重" + IN + "{0,4}(?:涨|长|增|多)了?(?:快|差不多|将近|近|有)?"
         "(?:[3-9]|[三四五六七八九十])(?:斤|公斤)"),
    # a bowel that has stopped: no stool and no wind ("一个礼拜没拉了 ... 也不放屁")
    each("便秘 没拉 没大便 没解大便 肚子胀 腹胀", _IN_SENTENCE + "{0,30}(?:不|没有?)(?:放屁|排气)"),
    # oxygen saturation low, a missed dialysis, a fistula gone quiet, a bedsore gone deep, a
    # scrotum swollen: "血氧只有86", "透析没去成", "内瘘不震了", "褥疮烂到能看见骨头"
    each("血氧 氧饱和 饱和度 指脉氧", IN + r"{0,6}(?:[5-8]\d|9[01])(?![\d.])"),
    each("透析", _IN_SENTENCE + "{0,4}(?:没去成|没去|没做|没透成|漏了|错过了|耽误了)"),
    each("没去透析 没做透析 漏了透析 错过透析", ""),
    each("内瘘 瘘口", _IN_SENTENCE + "{0,8}(?:不震|没震|摸不到|不跳|没动静|没有震)"),
    each("褥疮 压疮", _IN_SENTENCE + "{0,8}(?:骨头|烂|发黑|发臭|流脓|化脓|越来越大)"),
    each("蛋蛋 阴囊 睾丸", _IN_SENTENCE + "{0,12}(?:肿|比[^。!?；;]{0,4}大|大了|发紫|发黑|发硬)"),
    # a sedative taken by the bottle: "把我妈的安眠药吃了半瓶"
    each("安眠药 安定 艾司唑仑 地西泮 佐匹克隆 抗抑郁药", IN + "{0,3}(?:吃|吞|喝)(?:了|下|掉)" + IN
         + "{0,2}(?:半瓶|一瓶|整瓶|一板|一整板|一把|一盒|[1-9]\\d片|十几片|几十片|好多片|好几片)"),
    # a small object or another child's medicine, told swallowed after a pause: "纽扣电池少了
    # 一颗，孩子说他吃了", "有一板别的小朋友的药，说是吃了两颗"
    _OBJECTS + _IN_SENTENCE + "{0,14}(?:[他她]|孩子|宝宝|娃|儿子|女儿)说?[他她]?(?:吃|吞|咽)"
    "(?:了|下去|进去)",
    each("别的小朋友 别的孩子 别的小孩 其他小朋友 其他孩子 同学", "的" + IN + "{0,4}药"
         + _IN_SENTENCE + "{0,12}(?:吃|吞|喝)了"),
    "刀(?:(?<=拿刀)|(?<=拿着刀)|(?<=拿把刀)|(?<=拿菜刀)|(?<=拿着菜刀)|(?<=拿着把刀)|(?<=拿一把刀))"
    + IN + "{0,4}(?:守|对着|站|比划|吓|追|挥|砍|乱)",
))
_RF_COMPOSED_RE: Final = re.compile(factor(_RF_PHRASES + "|" + _RF_GRAMMAR))
RF_PARTS: Final = split_parts(_RF_COMPOSED_RE, 3)
_RF_PART_A, _RF_PART_B, _RF_PART_C = RF_PARTS
_RF_INNER_DENY_RE: Final = re.compile(
    r"消肿|止血|退烧(?![药针栓贴])|不厉害|不严重|没那么|不是很|不太(?![认理应踢动醒])|没有很|不怎么(?![认理应踢动醒])|"
    r"^(?!尿|小便|大便|一[点泡滴]尿)[^,，。!?；;]*没有?$|[不没](?:闷|疼|痛|肿|烧|吐|出血|流血)|"
    # a worsening denied: "疼痛没有加重" (a resolution denied, "没有好转", still is one)
    r"(?:没有?|未|不)(?:再|见)?(?:加重|变大|更厉害|更严重)")

# Symptom vocabulary.  Each entry starts with a literal character (see factor).
_RFB_WORDS: Final = strings(_WORDS, "broad")
RFB_RE: Final = re.compile(factor("|".join(_RFB_WORDS)))
_RFB_EN_RE: Final = re.compile(
    r"\b(?:fever|temp(?:erature)?\b\D{0,12}(?:3[89]|4[0-2])|bleed|blood|pain|hurt|sore\b|swell"
    r"|swollen|vomit|throw(?:ing)? up|threw up|puk|diarrh|cough|breath|dizz|faint|passed out"
    r"|collapse|confus|numb\b|weak\b|rash|itch|hives|allerg|leak|pus\b|smell|seiz|chest"
    r"|can'?t (?:stand|walk|eat|drink|pee|swallow|wake)|headache|ache|fell\b|shaking|chills"
    # a newborn's danger signs
    r"|not feeding|won'?t feed|not eating|very sleepy|hard to wake|jaundice|yellow (?:skin|eyes)"
    # sight lost or falling, flashes and floaters; a floppy child; breathing
    r"|blurr|can'?t see|cannot see|lost (?:my|his|her) (?:vision|sight)|flashes|floaters"
    r"|lethargic|floppy|short of breath|wheez"
    # a fever read with its unit, or told as now: "39.2c", "102 f", "it's 38.6 now"
    r"|(?:3[89]|4[0-2])(?:\.\d)? ?(?:°c?|c\b|degrees)|10[0-5](?:\.\d)? ?(?:°f?|f\b|degrees)"
    r"|(?:it'?s|it is|now|reading|running) (?:3[89]|4[0-2])\.\d(?!\d)"
    r"|fever of (?:3[89]|4[0-2]|10[0-5])"
    r"|shiver|rigors"
    # no urine: "haven't peed since this morning", "can't pass urine", "no urine",
    # "hasn't passed any urine since yesterday"
    r"|(?:has|have|had|did)n'?t passed (?:any )?(?:urine|water)"
    r"|no (?:urine|pee)\b|(?:haven'?t|hasn'?t|not) (?:peed|urinated|passed (?:urine|water))"
    r"|can'?t (?:urinate|pass (?:urine|water))"
    # thoughts of self-harm: "thinking about ending it", "don't want to be here anymore"
    r"|(?:think|thought|want|wanna|going|plan)\w* (?:about |of |to )?end(?:ing)? it\b"
    r"|end(?:ing)? (?:it all|my life|myself)\b|kill(?:ing)? myself|suicid|self[- ]harm"
    r"|(?:hurt(?:ing)?|harm(?:ing)?|cut(?:ting)?) myself|better off dead"
    # an overdose told as it happens: "i just took all my pills", "swallowed a whole bottle"
    r"|(?:took|taken|swallowed|ate) (?:all|a whole bottle|the whole bottle|\d{2,}) (?:of )?"
    r"(?:my |the |his |her )?(?:pills|tablets|meds|medication|sleeping pills)"
    r"(?! (?:as (?:prescribed|directed|told)|on time))"
    r"|overdos"
    # voices now: "hearing voices", "someone talking in my head"
    r"|hearing voices|hear voices|voices in my head|(?:someone|somebody) (?:is )?talking in my head"
    r"|(?:no|any) point (?:in )?(?:living|going on)"
    r"|don'?t want to (?:be here|live|be alive|wake up)|want to die|wanna die"
    # wound signs in pinyin: "hong zhong", "liu nong", "fa shao", "chu xue"
    r"|(?:hong ?zhong|liu ?nong|you ?nong|hua ?nong|fa ?shao|gao ?shao|chu ?xue|liu ?xue)\b)")
_ASCII_LETTER_RE: Final = re.compile(r"[a-z]")
# Composed red flags (lexicon ``red_flag_body`` x ``red_flag_change``): the body word must be
# within this many characters before the change, in the same clause ("半边脸没知觉",
# "吞口水都费劲"); English words sit further apart ("my left arm is weak").
_BODY_GAP: Final = 6
_BODY_GAP_EN: Final = 16
# A sudden onset stands in for the body word: "突然看不见了", "一下子动不了".
_SUDDEN_RE: Final = re.compile(
    r"突然|忽然|一下子|猛地|猛然|冷不丁|毫无征兆|suddenly|all of a sudden")
# A negator between the body word and the change denies it: "腿没发软", "脸也不歪".
_BODY_DENY_RE: Final = re.compile(r"[不没无未]|not|n't|no ")
# Words the body list would misread: 手机 is not a hand, 头发/开头/头两天 not a head.
_BODY_FALSE_RE: Final = re.compile(
    r"手机|手续|手艺|手术费|手法|头发|开头|里头|头两|头几|头一|线上|在线|人员|别人|人家说|"
    r"眼镜|眼科|面部表情|口子上")
# 不得了 after praise or joy is "extremely" ("娃娃喜欢得不得了"), not a change of the body.
_DEGREE_PRAISE_RE: Final = re.compile(
    r"(?:喜欢|高兴|开心|乐|满意|感动|激动|感激|佩服|棒|兴奋|美|好|爱)得$")


# Numbness words the anaesthetic explains unless it has lasted ("两天了还没知觉").
_NUMB_WORDS: Final = frozenset(strings(_WORDS, "numb_words"))
_LASTED_RE: Final = re.compile(r"[两三四五六七八九十几\d]天|一整天|到现在|还没恢复|还是没|days")


# Mentions that something else explains (see other_cause).
_UNCHANGED_WORDS: Final = frozenset(strings(_WORDS, "unchanged_words"))
# ... but a face or a mouth still crooked is a palsy that has not passed ("笑起来嘴还是歪的")
_FACE_RE: Final = re.compile(r"嘴|脸|面|口角|眼皮")


def _farewell(norm: str) -> tuple[int, int] | None:
    """Span of the second of two different farewell cues, or None.

    Each cue alone is ordinary ("不麻烦大家了", "东西都整理好了"); two together read as a
    goodbye, which a person must see: "谢谢大家一直以来的照顾，我的东西都整理好了".
    """
    found: dict[str, tuple[int, int]] = {}
    for m in islice(_FAREWELL_RE.finditer(norm), MAX_HITS):
        found.setdefault(m.lastgroup or "", m.span())
        if len(found) >= 2:
            return m.span()
    return None


# Self-harm told obliquely (redflag.toml's self_harm): one more precise rule, whose hits
# take selfharm.self_harm_why's exclusions.
SELF_HARM_RE: Final = re.compile(factor("|".join(strings(_WORDS, "self_harm"))))


_FEEDS: Final = ("吃奶", "喝奶")


def precise_why(norm: str, s: int, e: int, text: str, cues: str) -> str:
    """Why a precise red-flag rule's hit at ``norm[s:e]`` is none ("" if it stands)."""
    if SELF_HARM_WORD_RE.search(text) is not None:
        return self_harm_why(norm, s, e)
    cm = last_separator(CLAUSE_TAIL_RE, norm, s)
    cs = cm.start() + 1 if cm else 0
    return "denied" if (
        (RF_DENY_BEFORE_RE.search(norm, max(cs, s - 8), s) is not None
         and not growing(norm, cs, s, e))
        # ("不太吃奶" is the sign itself: a baby that hardly feeds)
        or (_RF_INNER_DENY_RE.search(text) is not None and not text.endswith(_FEEDS)
            and NEG_RESOLUTION_RE.search(text) is None)
    ) else "" if (
        # a swallowed battery or magnet is urgent however well the child looks
        _SWALLOWED_RE.search(text) is not None) else (
        "resolved or improving" if RF_RESOLVED_AFTER_RE.match(norm, e) is not None
        and "n" not in cues and NEG_RESOLUTION_RE.search(
            norm, e, sent_end(norm, e)) is None and not fainted(norm, s, e) else
        rf_precise_exclusion(norm, cs, s, e, cues))


def read_broad(norm: str, may_rfb: bool, may_farewell: bool, change_ac: Scan[str],
                body_re: re.Pattern[str], ev: list[Evidence], cues: str | None) -> bool:
    """Recall first: any other mention of a symptom or sign, a body part with a change
    word, or a farewell, unless an exclusion explains it away (evidence in ``ev``).

    ``change_ac`` and ``body_re``: the lexicon's ``red_flag_change`` and ``red_flag_body``
    words; ``cues``: :func:`cues` of the reply if already known.
    """
    # change words ("没知觉", "发软") count with a body part before them ("半边脸没知觉");
    # then any symptom word.  (Two scans: one alternation of both loses re's
    # first-character prefilter and costs several times more.)
    rf_hits: list[tuple[int, int, str | None]] = [
        (s, e, "c") for _, s, e in change_ac.scan(norm)]
    if may_rfb:
        rf_hits += [(m.start(), m.end(), None) for m in first_matches(RFB_RE, norm)]
    if _ASCII_LETTER_RE.search(norm) is not None:  # the English scan has no prefilter
        rf_hits += [(m.start(), m.end(), None) for m in first_matches(_RFB_EN_RE, norm)]
    for s, e, group in rf_hits:
        if cues is None:
            cues = cues_of(norm)
        if group is not None:
            hit = _body_change(body_re, norm, s, e, ev, cues)
            if hit is not None:
                ev.append(make_ev("red_flag", hit, norm[hit[0]:hit[1]], None,
                              "body part + change"))
                return True
            continue
        text = norm[s:e]
        why = rfb_exclusion(norm, s, e, text, cues)
        if why:
            ev.append(make_ev("red_flag_denied", (s, e), text, None, why))
            continue
        ev.append(make_ev("red_flag", (s, e), text, None, "symptom mention"))
        return True
    if may_farewell and FAREWELL_GATE_RE.search(norm) is not None:
        span = _farewell(norm)
        if span is not None:
            ev.append(make_ev("red_flag", span, norm[span[0]:span[1]], None, "farewell"))
            return True
    return False


def _body_change(body_re: re.Pattern[str], norm: str, s: int, e: int, ev: list[Evidence],
                 cues: str) -> tuple[int, int] | None:
    """Span of a composed red flag ending in the change word ``norm[s:e]``, or None.

    The change counts when a body word ends at most ``_BODY_GAP`` characters before it in
    the same clause, or a sudden-onset cue does; then the broad layer's exclusions apply
    (denied, resolved, hypothetical, mild, during the treatment, the anaesthetic).
    """
    word = norm[s:e]
    if word == "不得了" and _DEGREE_PRAISE_RE.search(norm, max(0, s - 3), s) is not None:
        return None
    if word[0] == "黑" and norm[s - 1:s] == "拉" and not norm.startswith(("便", "屎"), e):
        return None  # 拉黑: blocking a number, not a black stool (拉黑便)
    english = word.isascii()
    if english and ((s and norm[s - 1].isalpha()) or (e < len(norm) and norm[e].isalpha())):
        return None
    cs, ss, _ = bounds(norm, s, e)
    gap = _BODY_GAP_EN if english else _BODY_GAP
    # the same clause, or the clause before in the same sentence ("眼睛红得厉害，看不见东西")
    ws = max(ss, s - 2 * gap - 4)
    bs = -1
    for bm in body_re.finditer(norm, ws, s):
        if s - bm.end() <= (gap if bm.start() >= cs else 2 * gap) and \
                _BODY_FALSE_RE.match(norm, max(cs, bm.start() - 1)) is None and \
                _BODY_FALSE_RE.match(norm, bm.start()) is None:
            bs = bm.start()
            between = norm[bm.end():s]
            break
    if bs < 0:
        sm = _SUDDEN_RE.search(norm, cs, s)
        if sm is None:
            return None
        bs, between = sm.start(), norm[sm.end():s]
    if _BODY_DENY_RE.search(between) is not None:
        ev.append(make_ev("red_flag_denied", (bs, e), norm[bs:e], None, "denied"))
        return None
    # "牙还是歪的", "做完激光还是看不清": unchanged, not a change (but numbness that is
    # "还是木的" has not worn off: still a red flag)
    if "还是" in between and word in _UNCHANGED_WORDS and _FACE_RE.search(norm, bs, e) is None:
        ev.append(make_ev("red_flag_denied", (bs, e), norm[bs:e], None, "unchanged"))
        return None
    if word == "斜" and norm.startswith("视", e):
        return None  # 斜视: the squint being treated
    if "s" in cues and staff_subject(norm, cs, bs):
        return None
    why = rfb_exclusion(norm, bs, e, norm[bs:e], cues)
    if not why and word in _NUMB_WORDS and "a" in cues and _LASTED_RE.search(norm) is None:
        why = "the anaesthetic"
    if why:
        ev.append(make_ev("red_flag_denied", (bs, e), norm[bs:e], None, why))
        return None
    return bs, e


def redflag_hits(norm: str, may_a: bool, may_b: bool, may_c: bool,
                  hits: list[tuple[str, bool, int, int]], may_self_harm: bool = True) -> None:
    """The composed red-flag rules' matches, as (kind, mild, start, end) in ``hits``.

    ``may_self_harm``: false when none of SELF_HARM_RE's literal starts is in ``norm`` (the
    parser's Gates), so that its search, on every reply and almost never a match, is skipped.
    """
    # (the parts first: see compose.parts)
    if (may_a and _RF_PART_A.search(norm) is not None) or \
            (may_b and _RF_PART_B.search(norm) is not None) or \
            (may_c and _RF_PART_C.search(norm) is not None):
        for tm in finditer_parts(RF_PARTS, norm):
            hits.append(("red_flag", False, tm.start(), tm.end()))
    if not may_self_harm:
        return
    for sm in islice(SELF_HARM_RE.finditer(norm), MAX_HITS):
        hits.append(("red_flag", False, sm.start(), sm.end()))
