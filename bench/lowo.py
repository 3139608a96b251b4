"""Leave-one-writer-out figures of the learned model (the honest estimate of the design).

    python bench/lowo.py [--heldout tests/data/train] [--data tests/data] [--c-flags 1 ...]

Every file under ``--heldout`` was written by one writer who never saw the parser: for each,
the model is trained on everything else (``--data`` and the other writers), its thresholds
chosen on the other writers' out-of-fold decisions, and its figures measured on the file,
beside the rules alone and the first-digit baseline.  The rules were tuned on the older sets
of ``tests/data``, not on these files.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SURVEYBOT_NATIVE", "0")

from surveys.parser import ReplyParser  # noqa: E402
from surveys.understanding.decide import combine  # noqa: E402
from surveys.understanding.learn import (  # noqa: E402
    Config,
    Example,
    Figures,
    choose_thresholds,
    expand,
    featurize,
    figures,
    fit,
    load_rows,
    say,
)
from surveys.understanding.model import FLAGS, Model  # noqa: E402


class _Base:
    """The first-digit baseline as a decision."""

    def __init__(self, text: str) -> None:
        self.score = next((int(c) for c in text if "1" <= c <= "5"), None)
        for f in FLAGS:
            setattr(self, f, False)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--heldout", type=Path, nargs="*", default=[ROOT / "tests/data/train"])
    ap.add_argument("--data", type=Path, nargs="*", default=[ROOT / "tests/data"])
    ap.add_argument("--c-flags", type=float, default=Config.c_flags)
    ap.add_argument("--c-score", type=float, default=Config.c_score)
    ap.add_argument("--min-df", type=int, default=Config.min_df)
    ap.add_argument("--prune", type=float, default=Config.prune)
    ap.add_argument("--new-weight", type=float, default=1.0,
                    help="weight of the writers' replies against the older sets'")
    args = ap.parse_args()
    cfg = Config(c_flags=args.c_flags, c_score=args.c_score, min_df=args.min_df,
                 prune=args.prune)
    rules = ReplyParser(recall=False)
    held = expand(args.heldout)
    held_set = {p.resolve() for p in held}
    old = [p for p in expand(args.data) if p.resolve() not in held_set]
    t0 = time.time()
    examples: list[Example] = []
    for p in old:
        examples += featurize(load_rows(p), p.name, rules)
    writers: dict[str, list[Example]] = {}
    for p in held:
        writers[p.name] = featurize(load_rows(p), p.name, rules, args.new_weight)
        examples += writers[p.name]
    say(f"{len(examples)} replies read in {time.time() - t0:.0f} s; "
        f"{len(writers)} writers held out in turn")
    models: dict[str, Model] = {}
    for name in writers:
        t0 = time.time()
        models[name] = Model(fit([e for e in examples if e.group != name], cfg))
        say(f"  without {name}: trained in {time.time() - t0:.0f} s")
    pooled = {"rules": Figures(), "model": Figures(), "baseline": Figures()}
    for name, exs in writers.items():
        others = [e for w, es in writers.items() if w != name for e in es]
        model = models[name]
        if others:
            model.thresholds.update(choose_thresholds(others, models))
        fig_m = figures(exs, lambda e, m=model: combine(e.interp, m, e.norm, e.feats))
        fig_r = figures(exs, lambda e: e.interp)
        fig_b = figures(exs, lambda e: _Base(str(e.labels["text"])))
        print(f"{name} ({len(exs)} replies)")
        print(f"  model     {fig_m.line()}")
        print(f"  rules     {fig_r.line()}")
        print(f"  baseline  {fig_b.line()}")
        print(f"  thresholds {model.thresholds}")
        for key, fig in (("model", fig_m), ("rules", fig_r), ("baseline", fig_b)):
            pooled[key].n += fig.n
            pooled[key].score_hits += fig.score_hits
            for f in FLAGS:
                a, b = pooled[key].flags[f], fig.flags[f]
                a.tp, a.fp, a.fn, a.n, a.hits = (a.tp + b.tp, a.fp + b.fp, a.fn + b.fn,
                                                 a.n + b.n, a.hits + b.hits)
    print(f"pooled ({pooled['model'].n} replies)")
    for key, fig in pooled.items():
        print(f"  {key:<9} {fig.line()}")


if __name__ == "__main__":
    main()
