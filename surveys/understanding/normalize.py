"""Text normalisation for replies: one canonical form that every rule is written against.

Steps (cheap ones first; each is skipped when it cannot change anything):

1. bound the work: a reply longer than ``MAX_RAW`` characters keeps its head and tail only;
2. HTML: tags become spaces, entities are unescaped (some SMS gateways forward HTML);
3. NFKC: full-width digits and letters, circled digits (⑤ -> 5), full-width punctuation;
4. one ``str.translate`` pass that deletes zero-width, bidi and emoji-modifier characters
   and maps the traditional characters that matter for our lexicons to simplified ones
   (and a few dialect characters to Mandarin: 咗 -> 了, 嚟 -> 来, 覅 -> 别, 屙 -> 拉, 搵 -> 找) and
   strips pinyin tone marks (ǎ -> a, ü -> v);
5. lower case, whitespace collapsed, capped again to ``MAX_CHARS`` (head + tail); a reply
   typed one character at a time ("气 短 躺 不 平", most characters spaced apart) is closed up;
6. a few spelling repairs that voice input, pinyin keyboards and Cantonese writing produce,
   so that rules need not list every variant: 满以/满易/慢意 -> 满意, 唔 -> 不 (唔该 -> 谢谢,
   唔好再 -> 不要再; 冇使再 -> 不用再; 使唔使 -> 用不用), 退定 -> 退订, "给五份" / "打4粉" ->
   分, "打武分" -> 五分, and voice-to-text homophones of warning signs (出雪 -> 出血, 流浓 ->
   流脓, 留雪 -> 流血, 指不住 -> 止不住, 发少 -> 发烧, 大便有学 -> 大便有血).  A reply
   without one of the repairs' characters pays one character-class scan and nothing more.
7. two or more circled numbers number a list: "①5分 ②没有" -> "1、 5分 2、 没有" (one alone is a
   digit, "⑤" -> 5).
"""

from __future__ import annotations

import html
import re
import unicodedata

MAX_RAW = 4000
MAX_CHARS = 600
_HEAD = 450
_TAIL = 140
_ELLIPSIS = " … "

_TAG_RE = re.compile(r"<[^<>]{0,300}>")

# Invisible characters people never mean: zero-width, bidi controls, BOM, soft hyphen,
# variation selectors (⭐️ -> ⭐) and skin-tone modifiers (👍🏻 -> 👍).
_DELETE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u206a\u206b\u206c\u206d\u206e\u206f"
    "\ufe00\ufe01\ufe02\ufe03\ufe04\ufe05\ufe06\ufe07\ufe08\ufe09\ufe0a\ufe0b\ufe0c\ufe0d"
    "\ufe0e\ufe0f\ufeff\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff"
)

# Traditional -> simplified, only for characters that appear in our rules (a compact hand
# table rather than a heavy dependency such as OpenCC).
_T2S = (
    "滿满 醫医 師师 護护 態态 費费 貴贵 亂乱 訴诉 燒烧 熱热 腫肿 膿脓 傷伤 發发 還还 錯错 "
    "對对 沒没 說说 話话 問问 時时 間间 約约 診诊 號号 過过 嗎吗 麼么 麽么 個个 們们 線线 "
    "藥药 報报 務务 讓让 應应 該该 與与 為为 無无 難难 處处 給给 評评 價价 兩两 參参 貳贰 "
    "陸陆 別别 騷骚 擾扰 聯联 繫系 係系 訂订 閱阅 車车 來来 這这 裡里 裏里 邊边 後后 從从 "
    "樣样 點点 鐘钟 幾几 暈晕 頭头 嘔呕 癢痒 紅红 斷断 續续 臉脸 齒齿 開开 關关 門门 電电 "
    "長长 動动 實实 際际 專专 業业 認认 識识 種种 復复 複复 齊齐 靜静 離离 體体 廳厅 隊队 "
    "壞坏 極极 讚赞 贊赞 謝谢 愛爱 負负 責责 罵骂 兇凶 惡恶 騙骗 錢钱 額额 單单 據据 劑剂 "
    "囑嘱 進进 嚴严 厲厉 潰溃 瘍疡 滲渗 結结 縫缝 針针 鬆松 脫脱 癒愈 癥症 狀状 適适 殺杀 "
    "歲岁 碼码 機机 課课 學学 習习 練练 聽听 講讲 聲声 語语 圖图 視视 頻频 請请 設设 計计 "
    "環环 衛卫 髒脏 臟脏 準准 確确 場场 簡简 辦办 錄录 歡欢 誇夸 獎奖 優优 細细 緻致 溫温 "
    "親亲 貼贴 煩烦 會会 見见 現现 經经 減减 輕轻 夠够 盡尽 儘尽 誰谁 預预 掛挂 覆复 顆颗 "
    "級级 氣气 嚨咙 膚肤 疹疹 壓压 糖糖 腦脑 昏昏 搶抢 救救 喪丧 逝逝 歸归 舊旧 錯错 灣湾 "
    "還还 嗯嗯 蠻蛮 棒棒 讓让 帶带 結结 歷历 麻麻 藝艺 術术 團团 麗丽 鮮鲜 魚鱼 雞鸡 鬧闹 "
    "萬万 億亿 圓圆 塊块 貨货 買买 賣卖 錶表 鐵铁 鋪铺 釋释 選选 擇择 總总 統统 條条 廣广 "
    "陳陈 張张 劉刘 楊杨 趙赵 黃黄 吳吴 鄭郑 孫孙 馬马 羅罗 懷怀 孕孕 產产 婦妇 兒儿 童童 "
    "隨随 訪访 滯滞 庫库 際际 議议 論论 見见 轉转 換换 導导 敗败 濕湿 癥症 氧氧 喘喘 悶闷 "
    "驚惊 厥厥 嚴严 齡龄 歲岁 紀纪 範范 纔才 衝冲 憂忧 慮虑 擔担 勞劳 緊紧 賠赔 償偿 漲涨 "
    "貼贴 麼么 徵征 狀状 層层 樓楼 屬属 剛刚 稱称 讀读 寫写 舉举 僅仅 遲迟 遠远 鄰邻 熱热 "
    "傳传 訊讯 息息 擾扰 絡络 號号 辭辞 喪丧 殯殡 葬葬 靈灵 覺觉 聽听 軟软 塊块 撐撑 壓压 "
    "識识 認认 癱瘫 搖摇 歪歪 風风 暈晕 頸颈 臟脏 膽胆 腸肠 癲癫 癇痫 燙烫 冷冷 凍冻 顫颤 "
    # dialect characters with one Mandarin reading: Cantonese 咗 (了), 嚟 (来), 冇 (没), 佢 (他),
    # 搵 (找, to look for);
    # Wu 覅 (别, "don't"); 屙 (拉, to pass stool)
    "咗了 嚟来 冇没 佢他 覅别 屙拉 搵找"
)
_TABLE: dict[int, int | None] = {ord(c): None for c in _DELETE}
for _pair in _T2S.split():
    _TABLE[ord(_pair[0])] = ord(_pair[1])
# Typographic quotes and primes -> ASCII, so a voice length 5″ / 5” looks like 5".
for _c in "“”″〃":
    _TABLE[ord(_c)] = ord('"')
for _c in "‘’′":
    _TABLE[ord(_c)] = ord("'")
# Pinyin tone marks -> plain letters, so "nǐ men fā cuò rén le" meets the toneless pinyin rules
# (NFKC keeps the composed letters; ü is typed as v on pinyin keyboards).
for _marked, _plain in (("āáǎà", "a"), ("ēéěè", "e"), ("īíǐì", "i"), ("ōóǒò", "o"),
                        ("ūúǔù", "u"), ("ǖǘǚǜü", "v"), ("ĀÁǍÀ", "a"), ("ĒÉĚÈ", "e"),
                        ("ĪÍǏÌ", "i"), ("ŌÓǑÒ", "o"), ("ŪÚǓÙ", "u")):
    for _c in _marked:
        _TABLE[ord(_c)] = ord(_plain)


# Spelling repairs (step 6).  Keys are matched by one regex; values replace them.
_REPAIRS: dict[str, str] = {
    "满以": "满意", "满易": "满意", "满宜": "满意", "满义": "满意", "慢意": "满意",
    "瞒意": "满意", "蛮意": "满意", "唔该": "谢谢", "唔好再": "不要再", "唔好发": "不要发",
    "咪再": "别再", "咪发": "别发", "咪打": "别打",
    "唔好打": "不要打", "唔使": "不用", "唔系": "不是", "没使": "不用", "使唔使": "用不用",
    "退定": "退订",
    # voice-to-text homophones of the commonest warning signs: 出雪 -> 出血, 流浓 -> 流脓
    "出雪": "出血", "流雪": "流血", "渗雪": "渗血", "流浓": "流脓", "化浓": "化脓",
    "留雪": "流血", "流农": "流脓", "化农": "化脓", "指不住": "止不住", "发少": "发烧",
}
_REPAIR_RE = re.compile(
    r"满以(?!为)|满易|满宜|满义|慢意|瞒意|蛮意(?!思)|唔该晒?|唔好(?=再|发|打)再?|使唔使|唔使|唔系"
    # Cantonese 冇使 ("no need", read 没使 after the table) before 再/发/打
    r"|没使(?=再|发|打)"
    r"|退定(?!金)"  # a typed 退订 (not 退定金, a deposit refunded)
    r"|咪(?:再|发|打)"
    r"|[出流渗留]雪|[流化]浓|[流化]农|指不住"
    # 发烧 as 发少 (not 头发少), blood in the stool as 有学: "发少三天了", "大便一直有学"
    r"|(?<!头)发少(?=了|[一二两三四五六七八九十\d]|到|得|还|一直)"
    r"|(?<=[便尿痰])(?:一直|还|老|总)?(?:有|带)学"
    r"|唔(?=[\u4e00-\u9fff])"
    r"|(?<=[给打评选])(个|了)?([1-5一二两三四五])(?:份|粉|奋|芬|纷)"
    # 五 heard as 武 or 舞 by voice input: "给你们打武分"
    r"|(?<=[给打评选])(?:个|了)?[武舞](?=分)"
)
# A cheap pre-check: only replies holding one of these characters can need a repair.
_REPAIR_CHARS = frozenset("以易宜义慢瞒蛮唔份粉奋芬纷咪使定雪浓农指少学武舞")
# Pre-checks as character classes: a regex scan of a class is several times cheaper than
# str.translate with a dict or a set test over every character, and most replies need neither.
_REPAIR_GATE_RE = re.compile("[" + "".join(sorted(_REPAIR_CHARS)) + "]")
# Full-width ASCII (，？！：０-９ａ-ｚ) and the ideographic space, mapped to the ASCII characters
# they decompose to before NFKC.  NFKC's quick check fails on them, and then it decomposes and
# recomposes the whole reply, the dearest step of normalising a Chinese reply with full-width
# punctuation; mapped first (to their full decomposition: NFKC's result is the same), most
# such replies pass the quick check.  The three commonest by str.replace, which is several
# times cheaper than a str.translate pass; translate only for any other.
_WIDE: dict[int, int] = {
    c: ord(unicodedata.normalize("NFKD", chr(c))) for c in (*range(0xFF01, 0xFF5F), 0x3000)}
assert all(0 < v < 128 for v in _WIDE.values())
_WIDE_GATE_RE = re.compile("[\uff01-\uff5e\u3000]")
# Circled numbers: one alone is a digit ("⑤"), two or more number a list ("①5分 ②没有"), whose
# numbers NFKC would glue to what follows ("15分"): they become "1、".
_CIRCLED_RE = re.compile("[\u2460-\u2473\u2776-\u2793]")


def _circled_list(text: str) -> str:
    """"①5分 ②没有" -> "1、 5分 2、 没有"; a single circled number is left to NFKC."""
    if len(_CIRCLED_RE.findall(text)) < 2:
        return text
    return _CIRCLED_RE.sub(lambda m: f" {int(unicodedata.numeric(m.group()))}、 ", text)
_TABLE_GATE_RE = re.compile("[" + re.escape("".join(chr(c) for c in sorted(_TABLE))) + "]")


def _repair(m: re.Match[str]) -> str:
    """Replacement for one ``_REPAIR_RE`` match."""
    word = m.group()
    if word.endswith(("份", "粉", "奋", "芬", "纷")):
        return (m.group(1) or "") + m.group(2) + "分"
    if word[-1] in "武舞":
        return word[:-1] + "五"
    if word.startswith("唔该"):
        return "谢谢"
    if word.startswith("唔好"):
        return "不要" + word[2:]
    if word.endswith("学"):
        return word[:-1] + "血"
    return _REPAIRS.get(word, "不")


def _cap(text: str, head: int, tail: int) -> str:
    """Keep the head and the tail: scores and sign-offs live at the ends of long replies."""
    return text[:head] + _ELLIPSIS + text[-tail:]


# A space between two Chinese characters (not two numerals: "四 四分" is a stutter, not 44),
# and the characters themselves.
_SPACED_RE = re.compile(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])"
                        r"(?!(?<=[一二两三四五六七八九十零] )[一二两三四五六七八九十零])")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")


def _close_up(text: str) -> str:
    """Close up a reply typed one character at a time: an elderly writer's "以前 一 爬 楼 就
    胸 痛" reads as "以前一爬楼就胸痛".  Only when at least three spaces stand between Chinese
    characters and they split at least half of them: "5分 满意 谢谢" keeps its spaces."""
    gaps = len(_SPACED_RE.findall(text))
    if gaps < 3 or gaps * 2 < len(_HAN_RE.findall(text)):
        return text
    return _SPACED_RE.sub("", text)


def normalize(text: str) -> str:
    """Return the canonical form of ``text`` that all parser rules are written against."""
    if len(text) > MAX_RAW:
        text = _cap(text, MAX_RAW * 3 // 4, MAX_RAW // 4)
    if "<" in text or "&" in text:
        text = html.unescape(_TAG_RE.sub(" ", text))
    if not text.isascii():
        if _WIDE_GATE_RE.search(text) is not None:
            text = text.replace("，", ",").replace("！", "!").replace("？", "?")
            if _WIDE_GATE_RE.search(text) is not None:
                text = text.translate(_WIDE)
        if _CIRCLED_RE.search(text) is not None:
            text = _circled_list(text)
        text = unicodedata.normalize("NFKC", text)
        if _TABLE_GATE_RE.search(text) is not None:
            text = text.translate(_TABLE)
    text = " ".join(text.lower().split())
    if " " in text and not text.isascii():
        text = _close_up(text)
    if _REPAIR_GATE_RE.search(text) is not None:
        text = _REPAIR_RE.sub(_repair, text)
    if len(text) > MAX_CHARS:
        text = _cap(text, _HEAD, _TAIL)
    return text
