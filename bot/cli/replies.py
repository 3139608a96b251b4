"""Commands about reading replies: parse, train the model, export staff corrections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot import db
from bot.cli.common import settings_for
from bot.config import (
    load_settings,
)


def cmd_parse(args: argparse.Namespace) -> int:
    """Interpret replies: one TEXT with reasons, or --jsonl from standard input."""
    settings = load_settings(args.config)  # no database: nothing to announce
    parser = settings.lexicon.parser()
    if args.jsonl:
        out = sys.stdout
        for n, line in enumerate(sys.stdin, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
                text = obj["text"]
                if not isinstance(text, str):
                    raise TypeError("text is not a string")
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                out.write(json.dumps({"error": f"line {n}: {e}", "score": None, "opt_out": False,
                                      "complaint": False, "dispute": False,
                                      "red_flag": False,
                                      "question": False}, ensure_ascii=False) + "\n")
                continue
            out.write(json.dumps(parser.parse(text).to_dict(), ensure_ascii=False) + "\n")
        return 0
    if not args.text:
        print("give a TEXT to parse, or --jsonl to read JSON lines from standard input",
              file=sys.stderr)
        return 2
    text = " ".join(args.text)
    print(json.dumps(parser.parse(text).to_dict(), ensure_ascii=False, indent=2))
    print()
    print(parser.explain(text))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Retrain the reply model on the shipped labelled replies plus the staff's corrections."""
    from surveys.parser import Lexicon, ReplyParser
    from surveys.understanding import learn
    from surveys.understanding.model import MODEL_PATH, Model, ModelError

    settings = settings_for(args)
    from surveys.native import PACKAGE_DIR

    shipped = PACKAGE_DIR.parent / "tests" / "data"  # the checkout's labelled replies
    if not args.data and not shipped.is_dir():
        print("no labelled replies found: pass --data DIR (JSONL files as in the README)",
              file=sys.stderr)
        return 2
    try:
        paths = learn.expand(args.data or [shipped])
        sets = [(p.name, learn.load_rows(p)) for p in paths]
        own: list[dict[str, object]] = []
        if args.corrections_file:
            own = list(learn.load_rows(Path(args.corrections_file)))
        elif not args.no_corrections:
            from bot import corrections

            async def fetch() -> list[dict[str, object]]:
                async with db.database(settings.database.url):
                    return await corrections.export_rows()

            own = asyncio.run(fetch())
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    heldout: list[tuple[str, list[dict[str, object]]]] = []
    weights: dict[str, float] = {}
    if own:
        # every fifth correction is held out to show the difference the retraining makes
        heldout = [("corrections (held out)", own[4::5])]
        kept = [r for i, r in enumerate(own) if i % 5 != 4]
        if kept:
            sets.append(("corrections", kept))
            weights["corrections"] = args.correction_weight
    elif not args.no_holdout:
        heldout = [("every tenth shipped reply (held out)",
                    [r for _, rows in sets for r in rows[9::10]])]
        sets = [(n, [r for i, r in enumerate(rows) if i % 10 != 9]) for n, rows in sets]
    rules = ReplyParser(Lexicon.default().extended(**settings.lexicon.words()), recall=False)
    before: Model | None = None
    try:
        used = settings.lexicon.recall()
        before = used if isinstance(used, Model) else (
            Model.load(MODEL_PATH) if used and MODEL_PATH.exists() else None)
    except ModelError:
        before = None
    print(f"training on {sum(len(r) for _, r in sets)} replies from {len(sets)} sets"
          + (f", {len(own)} of them staff corrections" if own else ""), flush=True)
    data, report = learn.train(
        sets, rules, folds=args.folds, heldout=heldout, before=before, weights=weights,
        meta={"sets": [n for n, _ in sets], "corrections": len(own)})
    out = Path(args.out)
    out.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n",
                   encoding="utf-8")
    print("\n".join(report))
    print(f"model written to {out}; use it with [lexicon] recall_model = \"{out}\"")
    return 0


def cmd_corrections_export(args: argparse.Namespace) -> int:
    """The staff's label corrections as JSONL (the format of the labelled sets)."""
    from bot import corrections

    settings = settings_for(args)

    async def run() -> list[dict[str, object]]:
        async with db.database(settings.database.url):
            return await corrections.export_rows()

    rows = asyncio.run(run())
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(rows)} corrected replies written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
