"""What comments talk about: themes (waiting, fees, attitude…) and praise of named staff.

Themes are data like the parser's lexicons: built-in word lists below, extended or replaced
and new themes added under ``[themes.<id>]`` (``zh``, ``en``, ``words``, ``replace``,
``disabled``). A comment belongs to every theme one of whose words it contains (one pass of
an Aho-Corasick automaton over all words). Counts are per department and period; examples
are masked (names of the person and of staff, and any run of digits).

Praise: a comment holding one of ``[tallies] praise_words`` that names a clinician (as the
answers record them) or a staff member counts once for each person it names, within the
answer's department.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ahocorasick_rs

from bot.analytics.tallies import RECOVERY, Scope, _orm_scope, bucket, department_names
from bot.config import Settings
from bot.privacy import mask_name
from models import Answer, AnswerTally, Conversation, Staff
from surveys.engine import COMMENT

# id: (Chinese label, English label, words)
BUILTIN: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "waiting": ("等候时间", "Waiting", (
        "排队", "等了", "等太久", "等很久", "等半天", "等候", "候诊", "等待", "太慢", "效率低",
        "拖了", "耽误", "排了")),
    "fees": ("费用", "Fees", (
        "收费", "费用", "价格", "太贵", "乱收费", "多收", "医保", "报销", "自费", "押金",
        "退费", "缴费", "花了")),
    "attitude": ("服务态度", "Attitude", (
        "态度", "不耐烦", "冷漠", "凶", "脸色", "热情", "耐心", "和蔼", "爱答不理", "敷衍",
        "不理人", "亲切", "温柔")),
    "communication": ("沟通解释", "Communication", (
        "沟通", "解释", "说明", "没说清", "讲清楚", "讲解", "告知", "交代", "听不懂", "没告诉",
        "说清楚")),
    "skill": ("医疗技术", "Clinical skill", (
        "技术", "医术", "专业", "手法", "水平", "误诊", "没治好", "疗效", "效果")),
    "environment": ("环境设施", "Environment", (
        "环境", "卫生", "干净", "脏", "噪音", "吵", "厕所", "病房", "空调", "设施", "床位",
        "拥挤", "隔音")),
    "privacy": ("隐私", "Privacy", ("隐私", "泄露", "当众", "被人听到", "拉帘", "个人信息")),
    "food": ("饮食", "Food", ("饭菜", "伙食", "食堂", "饭", "营养餐", "难吃", "好吃", "送餐")),
    "parking": ("停车", "Parking", ("停车", "车位")),
    "appointments": ("预约挂号", "Appointments", (
        "预约", "挂号", "号源", "约不上", "挂不上", "排号", "加号", "复诊时间")),
}
NOTHING = {"无", "没有", "没", "暂无", "无意见", "没意见", "没有了", "无。", "好", "no", "none"}
_DIGITS = re.compile(r"\d[\d\s-]{3,}\d")
_TITLES = re.compile(r"(医生|大夫|老师|护士|主任|院长|护士长)$")


@dataclass(frozen=True)
class Theme:
    """One theme and its words."""

    id: str
    zh: str
    en: str
    words: tuple[str, ...]


def theme_list(settings: Settings) -> list[Theme]:
    """The built-in themes with ``[themes]`` applied (added words, replaced, new, disabled)."""
    out: dict[str, Theme] = {k: Theme(k, zh, en, words) for k, (zh, en, words) in BUILTIN.items()}
    for tid, cfg in settings.themes.items():
        if cfg.disabled:
            out.pop(tid, None)
            continue
        base = out.get(tid)
        words = tuple(cfg.words) if cfg.replace or base is None else \
            tuple(dict.fromkeys([*base.words, *cfg.words]))
        out[tid] = Theme(tid, cfg.zh or (base.zh if base else tid),
                         cfg.en or (base.en if base else tid), words)
    return list(out.values())


class Tagger:
    """Finds the themes of a text in one pass over all their words."""

    def __init__(self, themes: Iterable[Theme]) -> None:
        self.themes = list(themes)
        words: list[str] = []
        self._owner: list[int] = []
        for i, th in enumerate(self.themes):
            for w in th.words:
                if w:
                    words.append(w)
                    self._owner.append(i)
        self._ac = ahocorasick_rs.AhoCorasick(words) if words else None

    def tags(self, text: str) -> list[str]:
        """The ids of the themes ``text`` speaks of, in list order."""
        if self._ac is None or not text:
            return []
        hit = {self._owner[i] for i, _, _ in self._ac.find_matches_as_indexes(
            text, overlapping=True)}
        return [self.themes[i].id for i in sorted(hit)]


def mask_text(text: str, names: Iterable[str] = ()) -> str:
    """A comment with the given names (and their bare forms) and every run of digits masked."""
    out = _DIGITS.sub(lambda m: "*" * len(m.group(0)), text)
    for name in sorted({f for n in names for f in _forms(n)}, key=len, reverse=True):
        out = out.replace(name, mask_name(name))
    return out


def _forms(name: str) -> set[str]:
    """A name and its bare form ("李明医生" → also "李明"); one character is too ambiguous."""
    forms = {name} if len(name) >= 2 else set()
    bare = _TITLES.sub("", name)
    if len(bare) >= 2:
        forms.add(bare)
    return forms


@dataclass
class ThemeCounts:
    """Themes and praise of the comments in a scope, per department and period."""

    themes: list[Theme]
    comments: int = 0
    # (theme id, department id, period) → comments
    counts: dict[tuple[str, Any, str], int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)  # theme id → masked texts
    # (department id, staff name) → comments praising them
    praise: dict[tuple[Any, str], int] = field(default_factory=dict)
    names: dict[Any, str] = field(default_factory=dict)  # department id → name

    def total(self, tid: str) -> int:
        """Comments on a theme in the whole scope."""
        return sum(n for (t, _, _), n in self.counts.items() if t == tid)

    def ranked(self) -> list[Theme]:
        """Themes with comments, the most talked about first."""
        return sorted((th for th in self.themes if self.total(th.id)),
                      key=lambda th: (-self.total(th.id), th.id))

    def by_department(self, tid: str) -> dict[Any, int]:
        """A theme's comments per department."""
        out: dict[Any, int] = defaultdict(int)
        for (t, d, _), n in self.counts.items():
            if t == tid:
                out[d] += n
        return dict(out)

    def by_period(self, tid: str) -> dict[str, int]:
        """A theme's comments per period."""
        out: dict[str, int] = defaultdict(int)
        for (t, _, p), n in self.counts.items():
            if t == tid:
                out[p] += n
        return dict(sorted(out.items()))

    def periods(self) -> list[str]:
        """The periods with comments."""
        return sorted({p for (_, _, p) in self.counts})

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "comments": self.comments,
            "themes": [{"id": th.id, "zh": th.zh, "en": th.en, "comments": self.total(th.id),
                        "by_department": {self.names.get(d, "—"): n for d, n in
                                          sorted(self.by_department(th.id).items(),
                                                 key=lambda kv: -kv[1])},
                        "by_period": self.by_period(th.id),
                        "examples": self.examples.get(th.id, [])}
                       for th in self.ranked()],
            "praise": [{"department": self.names.get(d, "—"), "staff": who, "comments": n}
                       for (d, who), n in sorted(self.praise.items(),
                                                 key=lambda kv: (-kv[1], str(kv[0])))],
        }


def _comment_questions(settings: Settings) -> set[str]:
    """Question ids whose answers are comments about the service (not recovery reports):
    every free-text question, and the comment kept with a score or written after the last
    question (``surveys.engine.COMMENT``), whatever the surveys are called."""
    out = {COMMENT}
    for survey in settings.surveys.values():
        for q in survey.questions:
            if q.kind == "text":
                out.add(q.id)
    return out


async def known_names() -> set[str]:
    """Clinician names the answers record and staff display names."""
    names = {str(n) for n in await AnswerTally.all().distinct().values_list(
        "clinician", flat=True) if n}
    names |= {str(n) for n in await Staff.all().values_list("display_name", flat=True) if n}
    return names


async def themes_for(settings: Settings, scope: Scope, *, period: str = "all",
                     examples: int = 3) -> ThemeCounts:
    """Themes and praise of the comments in ``scope``: one query over the comments."""
    tagger = Tagger(theme_list(settings))
    out = ThemeCounts(tagger.themes, names=await department_names(scope.departments))
    q = _orm_scope(Answer.filter(score__isnull=True), scope).exclude(text="")
    questions = _comment_questions(settings) - {RECOVERY}
    rows = await q.filter(question_id__in=sorted(questions) or [""]).order_by("-id").values(
        "department_id", "local_day", "text", "conversation_id")
    if not rows:
        return out
    names = await known_names()
    forms = sorted(((f, n) for n in names for f in _forms(n)), key=lambda x: -len(x[0]))
    name_ac = ahocorasick_rs.AhoCorasick([f for f, _ in forms]) if forms else None
    praise_words = [w for w in settings.tallies.praise_words if w]
    praise_ac = ahocorasick_rs.AhoCorasick(praise_words) if praise_words else None
    counts: dict[tuple[str, Any, str], int] = defaultdict(int)
    praise: dict[tuple[Any, str], int] = defaultdict(int)
    picked: dict[str, list[tuple[str, int]]] = {}
    for r in rows:
        text = r["text"].strip()
        if not text or text.lower() in NOTHING:
            continue
        out.comments += 1
        per = "" if period == "all" else (bucket(r["local_day"], period)
                                          if r["local_day"] else "")
        dept = r["department_id"]
        tags = tagger.tags(text)
        for tid in tags:
            counts[(tid, dept, per)] += 1
            ex = picked.setdefault(tid, [])
            if len(ex) < examples:
                ex.append((text, r["conversation_id"]))
        if praise_ac is not None and name_ac is not None and praise_ac.find_matches_as_indexes(
                text):
            named = {forms[i][1] for i, _, _ in name_ac.find_matches_as_indexes(text)}
            for who in sorted(named):
                praise[(dept, who)] += 1
    out.counts, out.praise = dict(counts), dict(praise)
    # examples: the person's own names masked too
    convs = sorted({c for ex in picked.values() for _, c in ex})
    people: dict[int, set[str]] = defaultdict(set)
    for c in await Conversation.filter(id__in=convs).values(
            "id", "contact__name", "checkin__episode__person__name"):
        people[c["id"]] |= {n for n in (c["contact__name"], c["checkin__episode__person__name"])
                            if n}
    out.examples = {tid: [mask_text(t, names | people[c]) for t, c in ex]
                    for tid, ex in picked.items()}
    return out
