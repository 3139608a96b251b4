"""Safety invariants of reply understanding, over thousands of generated replies.

Each holds for the whole parser (the rules and the learned model together):

* every symptom x resolution phrase with the resolution negated is a red flag;
* a negated symptom is none;
* a polite prefix or suffix, full-width or ASCII punctuation, spaces, emoji and a trailing
  score do not remove a red flag;
* the learned model never clears a red flag the rules raised, on any labelled reply, and a
  greeting, a score, traditional characters or a question form around a red flag of the
  rules keeps it one (only the rules' own denial and resolution logic clear a symptom);
* a stop keyword before or after any reply is an opt-out, unless it is asked about;
* a question about opting out is never an opt-out.

Table-generated cross products run whole; hypothesis composes the decorations at random.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.parser import ReplyParser

P = ReplyParser()
DATA = Path(__file__).resolve().parent / "data"

# a symptom, and the words that say it resolved
SYMPTOMS: dict[str, tuple[str, ...]] = {
    "拔牙的地方出血": ("止住", "停"), "伤口流血": ("止住", "停"), "出血": ("止住",),
    "嘴里渗血": ("止住",), "发烧": ("退", "降下来"), "高烧": ("退",), "孩子发烧": ("退",),
    "烧": ("退",), "脸肿": ("消", "消下去"), "伤口肿": ("消",), "肿": ("消", "消下去"),
    "伤口疼": ("缓解", "减轻", "好转"), "肚子疼": ("缓解", "好转"), "疼": ("减轻", "好转"),
    "腿肿": ("消",), "伤口化脓": ("好转",), "咳嗽咳血": ("止住",),
}
NEGATED = ("{s}还是没{r}", "{s}一直没{r}", "{s}到现在也没{r}", "{s}一点没{r}", "{s}，还没{r}",
           "{s}，吃了药也没{r}", "{s}到现在都没有{r}", "{s}一直都没{r}", "{s}还没有{r}")
COMPLEMENT = {"止住": "止不住", "退": "退不下去", "消": "消不下去", "停": "停不下来"}
PREFIXES = ("", "您好，", "医生你好，", "麻烦问一下，", "不好意思打扰了，", "张医生，",
            "我是他女儿，", "昨天拔完牙，")
SUFFIXES = ("", "，谢谢", "。谢谢医生", "🙏", "[抱拳]", "！", "，怎么办", "，5分", " 4", "，给4分",
            "😭", "，麻烦尽快回复")


def negated_resolutions() -> list[str]:
    out = []
    for s, rs in SYMPTOMS.items():
        for r in rs:
            out += [t.format(s=s, r=r) for t in NEGATED]
            if r in COMPLEMENT:
                out.append(f"{s}{COMPLEMENT[r]}")
    return out


def test_every_negated_resolution_is_a_red_flag() -> None:
    cases = [p + c + x for c in negated_resolutions() for p in PREFIXES for x in SUFFIXES[:4]]
    assert len(cases) > 4000
    missed = [c for c in cases if not P.parse(c).red_flag]
    assert not missed, f"{len(missed)} of {len(cases)} missed, e.g. {missed[:10]}"


def test_a_resolution_said_to_have_happened_is_no_red_flag() -> None:
    """The control: the same pairs, resolved ("血已经止住了") are not red flags."""
    cases = [f"{s}已经{r}了" for s, rs in SYMPTOMS.items() for r in rs
             if s not in ("咳嗽咳血", "伤口化脓")]
    flagged = [c for c in cases if P.parse(c).red_flag]
    assert not flagged, flagged


DENIABLE = ("发烧", "出血", "流血", "化脓", "呕吐", "头晕", "发热", "渗血", "流脓", "抽搐",
            "呼吸困难", "胸闷", "高烧")
DENIALS = ("没有{s}", "没{s}", "也没有{s}", "一点也没{s}", "并没有{s}", "没再{s}", "不{s}了",
           "没有{s}的情况")
CONTEXTS = ("", "拔牙后", "手术后", "孩子", "回家以后", "这两天")


def test_a_negated_symptom_is_none() -> None:
    cases = [c + d.format(s=s) + x for s in DENIABLE for d in DENIALS for c in CONTEXTS
             for x in ("", "，挺好的", "，谢谢", "，5分")]
    assert len(cases) > 2000
    flagged = [c for c in cases if P.parse(c).red_flag]
    assert not flagged, f"{len(flagged)} of {len(cases)}, e.g. {flagged[:10]}"


def _red_flags() -> list[str]:
    """Plain red flags of the shipped sets: the parser flags them undecorated."""
    rows = [json.loads(line) for line in (DATA / "replies.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    picked = [r["text"] for r in rows if r["red_flag"] and len(r["text"]) <= 30]
    return [t for t in picked if P.parse(t).red_flag][:60] + negated_resolutions()[::7]


RED_FLAGS = _red_flags()
TO_FULLWIDTH = str.maketrans(",.!?:;()", "，。！？：；（）")
TO_ASCII = str.maketrans("，。！？：；（）", ",.!?:;()")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RED_FLAGS), st.sampled_from(PREFIXES), st.sampled_from(SUFFIXES),
       st.sampled_from(("same", "fullwidth", "ascii")), st.sampled_from(("", " ", "  ")),
       st.sampled_from(("", "😢", "🙏🙏", "[流泪]", "~")))
def test_decorations_do_not_remove_a_red_flag(text: str, prefix: str, suffix: str,
                                              punct: str, space: str, emoji: str) -> None:
    reply = space.join((prefix, text, emoji + suffix)).strip()
    if punct == "fullwidth":
        reply = reply.translate(TO_FULLWIDTH)
    elif punct == "ascii":
        reply = reply.translate(TO_ASCII)
    assert P.parse(reply).red_flag, (reply, P.parse(reply).evidence)


RULES = ReplyParser(recall=False)


def _labelled() -> list[str]:
    """Every reply of the shipped labelled sets and corpora."""
    out: list[str] = []
    for path in [*sorted(DATA.rglob("*.jsonl")), *sorted((DATA.parent / "corpus").glob("*.jsonl"))]:
        out += [str(json.loads(line)["text"]) for line in path.read_text(
            encoding="utf-8").splitlines() if line.strip()]
    return out


def test_the_model_never_clears_a_red_flag_of_the_rules() -> None:
    texts = _labelled()
    assert len(texts) > 5000
    raised = [t for t in texts if RULES.parse(t).red_flag]
    assert len(raised) > 300
    cleared = [t for t in raised if not P.parse(t).red_flag]
    assert not cleared, f"{len(cleared)} of {len(raised)} cleared, e.g. {cleared[:10]}"


# simplified -> traditional for characters of symptoms and polite words (by hand: a test
# must not borrow the normaliser's own table)
TO_TRADITIONAL = str.maketrans(dict(zip(
    "发烧医伤肿脓头晕呕么办还没吗该时间药给谢请问这样点后开脸齿热续体应过们儿压闷气觉软惊"
    "风颈肠烫颤红断张经减轻见现会痒处难话说",
    "發燒醫傷腫膿頭暈嘔麼辦還沒嗎該時間藥給謝請問這樣點後開臉齒熱續體應過們兒壓悶氣覺軟驚"
    "風頸腸燙顫紅斷張經減輕見現會癢處難話說", strict=True)))
GREETINGS = ("", "医生你好，", "您好，", "张医生，", "在吗？", "护士您好，打扰一下，", "hi，",
             "医生您好！我是患者家属，")
QUESTION_FORMS = ("", "，怎么办", "怎么办", "，怎么办？", "，要紧吗？", "，该怎么办啊",
                  "，需要去医院吗？", "，请问怎么处理", "，这正常吗？", "？")
SCORES = ("", "，5分", " 5", "，4分", "，给你们五星", "，满意", "。打分的话5分", "，⭐⭐⭐⭐⭐")
THANKS = ("", "，谢谢", "，谢谢医生", "🙏", "！")


def _rules_red_flags() -> list[str]:
    """Short red flags of every labelled set that the rules alone raise, and the table's."""
    rows = []
    for path in sorted(DATA.rglob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    picked = sorted({r["text"].rstrip("。！!，,") for r in rows
                     if r["red_flag"] and len(r["text"]) <= 25})
    table = ["发烧了", "发高烧", "孩子发烧到39度", "伤口一直流血", "拔牙的地方出血止不住",
             *negated_resolutions()[::11]]
    return [t for t in [*picked, *table] if RULES.parse(t).red_flag]


RULES_RED_FLAGS = _rules_red_flags()


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RULES_RED_FLAGS), st.sampled_from(GREETINGS),
       st.sampled_from(QUESTION_FORMS), st.sampled_from(SCORES), st.sampled_from(THANKS),
       st.booleans(), st.booleans())
def test_greetings_scores_traditional_characters_and_questions_keep_a_red_flag(
        text: str, greeting: str, question: str, score: str, thanks: str,
        traditional: bool, score_first: bool) -> None:
    tail = score + question if score_first else question + score
    reply = greeting + text + tail + thanks
    if traditional:
        reply = reply.translate(TO_TRADITIONAL)
    r = P.parse(reply)
    assert r.red_flag, (reply, r.explain())


def test_every_question_form_and_score_keeps_every_red_flag() -> None:
    """The same invariant over the whole product of red flags, question forms and scores, in
    both scripts and both orders: a sampled run once missed a pair ("…绞着疼，要紧吗？": a sign
    asked about as normal was read as mild), so the pairs are no longer left to sampling."""
    missed = []
    for text in RULES_RED_FLAGS:
        for question in QUESTION_FORMS:
            for score in SCORES[:4]:
                for score_first in (False, True):
                    tail = score + question if score_first else question + score
                    for reply in (text + tail, (text + tail).translate(TO_TRADITIONAL)):
                        if not P.parse(reply).red_flag:
                            missed.append(reply)
    assert not missed, (len(missed), missed[:5])


def test_a_decorated_fever_keeps_its_red_flag() -> None:
    """The reply that showed the model clearing the rules' red flag ("p 0.14")."""
    r = P.parse("医生你好，發燒了怎麼辦，5分")
    assert r.red_flag, r.explain()
    assert "red_flag cleared" not in r.explain()


STOPS = ("TD", "td", "退订", "别再发了", "不要再发了", "别再给我发了", "退订谢谢", "T")
SEPARATORS = ("，", " ", "。", "！", "\n", ", ")


def _replies() -> list[str]:
    """Varied replies of the shipped sets that are no opt-out and say nothing of stopping."""
    rows = []
    for path in sorted(DATA.glob("heldout1*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    quiet = ("订", "td", "发", "停", "别", "不要", "取消", "拉黑", "打扰", "?", "？", "吗", "怎么",
             "问")
    picked = [r["text"] for r in rows if not r["opt_out"] and not r["red_flag"]
              and not any(q in r["text"].lower() for q in quiet) and len(r["text"]) <= 40]
    return picked[::3][:150]


REPLIES = _replies()


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REPLIES), st.sampled_from(STOPS), st.sampled_from(SEPARATORS),
       st.booleans())
def test_a_stop_keyword_before_or_after_any_reply_is_an_opt_out(
        reply: str, stop: str, sep: str, before: bool) -> None:
    text = f"{stop}{sep}{reply}" if before else f"{reply}{sep}{stop}"
    r = P.parse(text)
    assert r.opt_out, (text, [(e.rule, e.text, e.note) for e in r.evidence])


ASKED = ("怎么退订", "如何退订？", "退订回复什么", "回复TD是退订吗", "请问怎么取消这个提醒",
         "退订要收费吗", "回T退订是什么意思", "TD是什么意思", "怎么才能不收到这些短信",
         "退订的话回复什么？",
         "how do i unsubscribe", "怎样退订啊", "要退订的话怎么弄", "退订了以后还能再订吗",
         "请问退订是回复TD吗", "不想收了怎么退订？")
ASK_PREFIXES = ("", "你好，", "请问", "想问一下，", "5分。", "满意，另外")
ASK_SUFFIXES = ("", "？", "?", "谢谢", "，麻烦告诉我", "[疑问]")


def test_a_question_about_opting_out_is_never_an_opt_out() -> None:
    cases = [p + a + s for a, p, s in itertools.product(ASKED, ASK_PREFIXES, ASK_SUFFIXES)]
    stopped = [c for c in cases if P.parse(c).opt_out]
    assert not stopped, f"{len(stopped)} of {len(cases)}, e.g. {stopped[:10]}"
