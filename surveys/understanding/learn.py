"""Training the learned model (``survey-bot train``; needs the ``train`` extra: scikit-learn).

Why scikit-learn for training only: its L2 logistic regressions (liblinear for the flags,
lbfgs multinomial for the score) are exact, well-tested solvers that fit the whole corpus in
seconds; the result is exported as plain weights (``model.json``) that the parser sums with no
numeric library (:mod:`surveys.understanding.model`).

Data: JSONL files in the ``tests/data`` format (``text``, ``score``, ``opt_out``,
``complaint``, ``dispute``, ``red_flag``, ``question``); each file is one writer or one set,
the unit of leave-one-writer-out cross-validation.  Thresholds are chosen on out-of-fold
probabilities (:func:`choose_thresholds`), so they say how the model does on replies it has
not seen.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surveys.understanding.decide import Decision, combine, features_of
from surveys.understanding.model import FLAGS, FORMAT, OUTPUTS, SCORE_CLASSES, Model, ngrams
from surveys.understanding.normalize import normalize

REQUIRED = ("text", "score", "opt_out", "complaint", "red_flag", "question")
Row = dict[str, Any]


def load_rows(path: Path) -> list[Row]:
    """One JSONL set; the line of a broken row is named.  Missing ``dispute`` is false."""
    rows: list[Row] = []
    with path.open(encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{no}: not JSON ({e}); fix or remove the line") from e
            if not isinstance(row, dict):
                raise SystemExit(f"{path}:{no}: not a JSON object")
            missing = [k for k in REQUIRED if k not in row]
            if missing:
                raise SystemExit(f"{path}:{no}: missing keys {missing}; every line needs "
                                 f"{', '.join(REQUIRED)} (and dispute, else false)")
            score = row["score"]
            if score is not None and (not isinstance(score, int) or not 1 <= score <= 5):
                raise SystemExit(f"{path}:{no}: score must be 1-5 or null, not {score!r}")
            row.setdefault("dispute", False)
            if row["dispute"]:
                row["complaint"] = True  # a dispute is always also a complaint
            note = str(row.get("note") or "")
            if "wrong number" in note or "deceased" in note:
                row["opt_out"] = True  # the oldest sets marked these only with a note
            rows.append(row)
    return rows


def expand(paths: Iterable[Path]) -> list[Path]:
    """JSONL files as given, and every ``*.jsonl`` under a directory given (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(p.rglob("*.jsonl"))
        elif p.is_file():
            out.append(p)
        else:
            raise SystemExit(f"{p}: no such file or directory")
    return out


@dataclass
class Example:
    """One labelled reply, read by the rules."""

    norm: str
    grams: dict[str, int]  # n-gram -> occurrences
    feats: list[str]
    labels: Row
    group: str
    weight: float = 1.0
    interp: Any = None


def featurize(rows: Sequence[Row], group: str, rules: Any, weight: float = 1.0
              ) -> list[Example]:
    """Examples of ``rows`` (``rules``: a ``ReplyParser`` without the learned model)."""
    out = []
    for r in rows:
        text = str(r["text"])
        interp = rules.parse(text)
        norm = normalize(text)
        out.append(Example(norm, ngrams(norm), features_of(interp), r, group, weight, interp))
    return out


@dataclass
class Config:
    """The model form (chosen by leave-one-writer-out figures; see docs/understanding.md)."""

    c_flags: float = 1.0      # inverse L2 strength of the binary models
    c_score: float = 2.0      # ... and of the score's multinomial model
    min_df: int = 2           # n-grams seen in fewer training replies are left out
    prune: float = 0.1        # features whose every weight is smaller are dropped
    seed: int = 20261206


def _target(ex: Example, out: str) -> int:
    if out.startswith("score="):
        s = ex.labels["score"]
        return SCORE_CLASSES.index("none" if s is None else str(s))
    return int(bool(ex.labels[out]))


def fit(train: Sequence[Example], cfg: Config | None = None,
        meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit every output on ``train``; the model file's content (thresholds left empty)."""
    try:
        import numpy as np
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression
    except ImportError as e:  # pragma: no cover - the train extra is missing
        raise SystemExit("training needs scikit-learn: pip install 'survey-bot[train]'") from e
    cfg = cfg or Config()
    df: Counter[str] = Counter()
    for ex in train:
        df.update(ex.grams)
    vocab = sorted(g for g, n in df.items() if n >= cfg.min_df)
    vocab += sorted({f for ex in train for f in ex.feats})
    index = {v: i for i, v in enumerate(vocab)}
    rows, cols, vals = [], [], []
    for i, ex in enumerate(train):
        for g, c in ex.grams.items():
            j = index.get(g)
            if j is not None:
                rows.append(i)
                cols.append(j)
                vals.append(float(c))
        for f in set(ex.feats):
            rows.append(i)
            cols.append(index[f])
            vals.append(1.0)
    x = csr_matrix((np.array(vals), (rows, cols)), shape=(len(train), len(vocab)))
    sw = np.array([ex.weight for ex in train])
    k = len(OUTPUTS)
    w = np.zeros((len(vocab), k))
    bias = np.zeros(k)
    for i, flag in enumerate(FLAGS):
        y = np.array([_target(ex, flag) for ex in train])
        if y.min() == y.max():  # a label never (or always) seen: a constant
            bias[i] = -8.0 if y.max() == 0 else 8.0
            continue
        m = LogisticRegression(C=cfg.c_flags, solver="liblinear", max_iter=500)
        m.fit(x, y, sample_weight=sw)
        w[:, i] = m.coef_[0]
        bias[i] = m.intercept_[0]
    y = np.array([_target(ex, "score=none") for ex in train])
    nf = len(FLAGS)
    classes: list[int] = sorted({int(v) for v in y})
    if len(classes) > 1:
        m = LogisticRegression(C=cfg.c_score, max_iter=1000)
        m.fit(x, y, sample_weight=sw)
        if len(m.classes_) > 2:
            for row, cls in enumerate(m.classes_):
                w[:, nf + int(cls)] = m.coef_[row]
                bias[nf + int(cls)] = m.intercept_[row]
        else:  # two classes: one row of log-odds, the first class at 0 (the same softmax)
            w[:, nf + int(m.classes_[1])] = m.coef_[0]
            bias[nf + int(m.classes_[1])] = m.intercept_[0]
    for cls in range(len(SCORE_CLASSES)):  # a class never seen is never predicted
        if cls not in classes:
            bias[nf + cls] = -30.0
    keep = np.abs(w).max(axis=1) >= cfg.prune
    weights = {vocab[j]: [round(float(v), 4) for v in w[j]] for j in np.flatnonzero(keep)}
    return {"format": FORMAT, "outputs": list(OUTPUTS),
            "bias": [round(float(b), 4) for b in bias], "thresholds": {},
            "weights": weights, "meta": dict(meta or {})}


# -- thresholds and figures -----------------------------------------------------------------

# (no threshold to clear a red flag: the model never clears one the rules raised)
DEFAULT_THRESHOLDS = {"score": 0.5, "red_flag": 0.5, "opt_out": 0.6,
                      "opt_out_drop": 0.0, "complaint": 0.5, "dispute": 0.5, "question": 0.5}
GRID = [round(0.05 * i, 2) for i in range(1, 20)]
# the least probability at which the model adds a label the rules did not give: below it,
# look-alikes the sets barely hold ("麻烦你们了", "号码没留错吧") turn into opt-out questions;
# a score the model reads at less than even odds is confirmed with the person ("unsure ->
# confirm"), never recorded on a guess (out of fold, pure accuracy would take any best class)
MIN_THRESHOLD = {"opt_out": 0.35, "complaint": 0.3, "question": 0.3, "dispute": 0.1,
                 "red_flag": 0.1, "score": 0.5}
# what each threshold is chosen for (on out-of-fold decisions): the bars of the product
# (the product's bars are precision 0.80 at the highest recall; a margin for fresh replies)
TARGETS = {"red_flag": ("recall", 0.83), "opt_out": ("recall", 0.83),
           "dispute": ("recall", 0.83), "complaint": ("recall", 0.83), "question": ("f1", 0.0)}


@dataclass
class Tally:
    """Counts for one label over some replies."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    n: int = 0
    hits: int = 0

    def add(self, pred: bool, gold: bool) -> None:
        self.n += 1
        self.tp += pred and gold
        self.fp += pred and not gold
        self.fn += gold and not pred
        self.hits += pred == gold

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if not p or not r or math.isnan(p) or math.isnan(r) else 2 * p * r / (p + r)


@dataclass
class Figures:
    """Score accuracy and a tally per flag."""

    n: int = 0
    score_hits: int = 0
    flags: dict[str, Tally] = field(default_factory=lambda: {f: Tally() for f in FLAGS})

    def add(self, pred: Decision | Any, gold: Row) -> None:
        self.n += 1
        self.score_hits += pred.score == gold["score"]
        for f in FLAGS:
            self.flags[f].add(bool(getattr(pred, f)), bool(gold[f]))

    @property
    def score(self) -> float:
        return self.score_hits / self.n if self.n else math.nan

    def line(self) -> str:
        def pct(x: float) -> str:
            return "  n/a" if math.isnan(x) else f"{x:5.1%}"
        parts = [f"score {pct(self.score)}"]
        for f in FLAGS:
            t = self.flags[f]
            parts.append(f"{f} R{pct(t.recall)} P{pct(t.precision)}")
        return "  ".join(parts)


def figures(examples: Sequence[Example], decide: Callable[[Example], Any]) -> Figures:
    """The figures of ``decide`` (a Decision or an Interpretation per example)."""
    fig = Figures()
    for ex in examples:
        fig.add(decide(ex), ex.labels)
    return fig


# of the labels the model adds where the rules said no, at least this share must be right:
# a look-alike ("麻烦你们了") turned into an opt-out question or a red flag costs trust
ADDED_FLOOR = 0.7


def _objective(fig: Figures, added: dict[str, Tally], name: str) -> float:
    if name == "score":
        return fig.score
    label = name.removesuffix("_drop")
    kind, floor = TARGETS[label]
    t = fig.flags[label]
    if kind == "f1":
        return t.f1
    p, r = t.precision, t.recall
    if math.isnan(p) or math.isnan(r) or not p + r:
        return 0.0
    a = added[label]
    ok_added = a.tp + a.fp == 0 or a.tp / (a.tp + a.fp) >= ADDED_FLOOR
    if label == "red_flag":
        # recall first, precision second: a missed warning costs far more than a read one
        return r + 0.25 * p - (0.0 if ok_added else 1.0)
    # the recall, as long as precision stays at the floors; below them, F2 (recall first)
    return r + 1.0 if p >= floor and ok_added else 0.5 * 5 * p * r / (4 * p + r)


def choose_thresholds(examples: Sequence[Example], models: dict[str, Model],
                      rounds: int = 2) -> dict[str, float]:
    """Thresholds that serve each label's target on out-of-fold decisions.

    ``models`` maps an example's group to the model trained without it (its out-of-fold
    model); coordinate search over :data:`GRID`, each label on its own figure.
    """
    th = dict(DEFAULT_THRESHOLDS)
    cache = {id(ex): (models[ex.group], ex) for ex in examples}
    probs = {}
    for key, (m, ex) in cache.items():
        probs[key] = m.outputs(ex.norm, ex.feats)

    class _Fixed:
        """A model whose probabilities are looked up and thresholds varied."""

        def __init__(self, key: int) -> None:
            self.key = key
            self.thresholds = th

        def outputs(self, norm: str, feats: Any, score: bool = True) -> Any:
            return probs[self.key]

    def run() -> tuple[Figures, dict[str, Tally]]:
        fig = Figures()
        added = {f: Tally() for f in FLAGS}
        for ex in examples:
            d = combine(ex.interp, _Fixed(id(ex)), ex.norm, ex.feats)
            fig.add(d, ex.labels)
            for f in FLAGS:
                if getattr(d, f) and not getattr(ex.interp, f):
                    added[f].add(True, bool(ex.labels[f]))
        return fig, added

    names = ["score", "red_flag", "opt_out", "opt_out_drop", "complaint", "dispute", "question"]
    for _ in range(rounds):
        for name in names:
            grid = ([0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2] if name.endswith("_drop")
                    else [g for g in GRID if g >= MIN_THRESHOLD.get(name, 0.0)])
            best, best_v = th[name], -1.0
            for v in grid:
                th[name] = v
                score = _objective(*run(), name)
                if score > best_v + 1e-9:
                    best, best_v = v, score
            th[name] = best
    return th


def say(*args: object) -> None:
    """Progress on standard error (the figures go to standard output)."""
    print(*args, file=sys.stderr, flush=True)


# -- the whole training run (survey-bot train) ----------------------------------------------

def group_folds(groups: Sequence[str], sizes: dict[str, int], k: int) -> dict[str, int]:
    """Each group (a writer's file) to one of ``k`` folds, largest first, balancing sizes."""
    load = [0] * k
    out: dict[str, int] = {}
    for g in sorted(groups, key=lambda g: (-sizes[g], g)):
        i = load.index(min(load))
        out[g] = i
        load[i] += sizes[g]
    return out


def out_of_fold(examples: Sequence[Example], k: int, cfg: Config) -> dict[str, Model]:
    """A model per group, trained without that group's fold (grouped k-fold)."""
    sizes = Counter(ex.group for ex in examples)
    folds = group_folds(list(sizes), sizes, min(k, len(sizes)))
    by_fold: dict[int, Model] = {}
    for f in sorted(set(folds.values())):
        say(f"  fold {f + 1}/{len(set(folds.values()))} ...")
        by_fold[f] = Model(fit([ex for ex in examples if folds[ex.group] != f], cfg))
    return {g: by_fold[f] for g, f in folds.items()}


def train(sets: Sequence[tuple[str, list[Row]]], rules: Any, *, cfg: Config | None = None,
          folds: int = 5, heldout: Sequence[tuple[str, list[Row]]] = (),
          before: Model | None = None, weights: dict[str, float] | None = None,
          meta: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Train on ``sets`` (name, rows), thresholds from grouped out-of-fold decisions.

    ``heldout`` sets are kept out of training and measured before (``before``: the model in
    use, or the rules alone) and after.  Returns the model file's content and the report.
    """
    cfg = cfg or Config()
    weights = weights or {}
    examples: list[Example] = []
    for name, rows in sets:
        examples += featurize(rows, name, rules, weights.get(name, 1.0))
    say(f"{len(examples)} replies from {len(sets)} sets; choosing thresholds on "
        f"{min(folds, len(sets))} grouped folds")
    oof = out_of_fold(examples, folds, cfg)
    thresholds = choose_thresholds(examples, oof)
    say("  the final model on everything ...")
    data = fit(examples, cfg, meta)
    data["thresholds"] = thresholds
    model = Model(data)
    report = [f"trained on {len(examples)} replies ({len(sets)} sets)",
              f"thresholds: {json.dumps(thresholds)}"]
    held: list[Example] = []
    for name, rows in heldout:
        held += featurize(rows, name, rules)
    if held:
        if before is not None:
            fb = figures(held, lambda e: combine(e.interp, before, e.norm, e.feats))
            label = "before (the model in use)"
        else:
            fb = figures(held, lambda e: e.interp)
            label = "before (the rules alone)"
        fa = figures(held, lambda e: combine(e.interp, model, e.norm, e.feats))
        report += [f"held out: {len(held)} replies",
                   f"  {label:<28} {fb.line()}", f"  {'after':<28} {fa.line()}"]
    return data, report
