"""The compiled reply parser (surveys/native.py, scripts/build_native.py).

The build is used only while it matches the sources exactly, and compiled it must answer
exactly as the source does.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from surveys import native
from surveys.parser import ReplyParser

ROOT = Path(__file__).resolve().parent.parent


def _tree(tmp_path: Path) -> Path:
    """A source package with a build of it, as scripts/build_native.py leaves them."""
    (tmp_path / "surveys").mkdir(parents=True)
    for m in native.MODULES:
        path = tmp_path / "surveys" / f"{m}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"NAME = {m!r}\n", encoding="utf-8")
    (tmp_path / native.NATIVE_DIR).mkdir(parents=True)
    native.write_stamp(tmp_path)
    return tmp_path


def _edit_source(root: Path) -> None:
    (root / "surveys" / "understanding" / "rules.py").write_text("NAME = 'edited'\n",
                                                              encoding="utf-8")


def _drop_stamp(root: Path) -> None:
    (root / native.NATIVE_DIR / native.STAMP).unlink()


def _corrupt_stamp(root: Path) -> None:
    (root / native.NATIVE_DIR / native.STAMP).write_text("{not json", encoding="utf-8")


def _other_python(root: Path) -> None:
    path = root / native.NATIVE_DIR / native.STAMP
    stamp = json.loads(path.read_text(encoding="utf-8"))
    stamp["python"] = "cpython-399"
    path.write_text(json.dumps(stamp), encoding="utf-8")


def _no_build(root: Path) -> None:
    for f in (root / native.NATIVE_DIR).iterdir():
        f.unlink()
    (root / native.NATIVE_DIR).rmdir()


@pytest.mark.parametrize(("case", "change", "env", "used", "warned"), [
    ("fresh build", None, None, True, False),
    ("source edited after the build", _edit_source, None, False, True),
    ("stamp missing", _drop_stamp, None, False, True),
    ("stamp unreadable", _corrupt_stamp, None, False, True),
    ("built by another Python", _other_python, None, False, True),
    ("never built", _no_build, None, False, False),
    ("switched off", None, "0", False, False),
    ("switched on explicitly", None, "1", True, False),
])
def test_build_is_used_only_when_it_matches_the_sources(
        tmp_path, monkeypatch, caplog, case, change, env, used, warned):
    root = _tree(tmp_path)
    if change is not None:
        change(root)
    if env is None:
        monkeypatch.delenv("SURVEYBOT_NATIVE", raising=False)
    else:
        monkeypatch.setenv("SURVEYBOT_NATIVE", env)
    path = [str(root / "surveys")]
    with caplog.at_level(logging.WARNING, logger="surveys.native"):
        assert native.activate(path, root=root) is used, case
    assert path[0] == (str(root / native.NATIVE_DIR) if used else str(root / "surveys"))
    assert len(path) == (2 if used else 1)
    assert any("make native" in r.getMessage() for r in caplog.records) is warned, case


def test_stamp_names_every_compiled_module_and_the_python(tmp_path):
    root = _tree(tmp_path)
    stamp = native.stamp_of(root)
    assert stamp is not None
    assert set(stamp) == {*native.MODULES, "python"}
    assert stamp["python"] == sys.implementation.cache_tag


def test_a_source_edited_during_the_build_is_not_recorded_as_built(tmp_path):
    root = _tree(tmp_path / "repo")
    copy = tmp_path / "copy"
    (copy / "surveys").mkdir(parents=True)
    for m in native.MODULES:  # what the build compiled ...
        (copy / "surveys" / f"{m}.py").parent.mkdir(parents=True, exist_ok=True)
        (copy / "surveys" / f"{m}.py").write_bytes((root / "surveys" / f"{m}.py").read_bytes())
    _edit_source(root)        # ... while someone saved an edit
    native.write_stamp(root, compiled=copy)
    assert native.stamp_of(root) is None
    native.write_stamp(root)
    assert native.stamp_of(root) is not None


def test_this_process_runs_the_parser_it_should():
    """Compiled whenever a matching build exists; the source when switched off."""
    if os.environ.get("SURVEYBOT_NATIVE") == "0":
        assert not native.compiled()
        return
    fresh = native.stamp_of() is not None
    if not fresh:
        why = native.toolchain_missing()
        if os.environ.get("CI") and not why:
            pytest.fail("CI has a compiler but no up-to-date compiled parser: `make test` "
                        "runs `make native` first")
        pytest.skip(f"no up-to-date compiled parser ({why or 'run `make native`'})")
    assert native.compiled()
    for name in native.MODULES:
        module = importlib.import_module("surveys." + name.replace("/", "."))
        assert str(ROOT / native.NATIVE_DIR) in (module.__file__ or ""), module.__name__


HOSTILE = [
    "", " ", "\u200b5\u200b", "\u202e5分\u202c", "<b>五星</b>&nbsp;好评", "５分", "⭐" * 40,
    "满意，" * 500, "拔牙后一直出血，" * 50, "TD", "[强][强]", "/:strong", "3-4", "4.5分",
    "\x00\x01\x7f", "🀄" * 10, "a" * 5000,
]

_DUMP = """
import json, sys
from pathlib import Path
from surveys.parser import ReplyParser
texts = json.loads(sys.stdin.read())
for parser in (ReplyParser(), ReplyParser(recall=False)):
    for t in texts:
        print(json.dumps(parser.parse(t).to_dict(), ensure_ascii=False, sort_keys=True))
"""


def test_compiled_parser_answers_exactly_as_the_source():
    """Every labelled reply and some hostile ones: the same dict, evidence and all."""
    if not native.compiled():
        pytest.skip("the parser in this process is the source itself")
    texts = [json.loads(line)["text"]
             for path in sorted((ROOT / "tests/data").glob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += HOSTILE
    env = {**os.environ, "SURVEYBOT_NATIVE": "0"}
    done = subprocess.run([sys.executable, "-c", _DUMP], input=json.dumps(texts), env=env,
                          cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    source = done.stdout.splitlines()
    mine = [json.dumps(parser.parse(t).to_dict(), ensure_ascii=False, sort_keys=True)
            for parser in (ReplyParser(), ReplyParser(recall=False)) for t in texts]
    assert len(source) == len(mine) == 2 * len(texts)
    differ = [(t, a, b) for t, a, b in zip(texts * 2, mine, source, strict=True) if a != b]
    assert not differ, f"{len(differ)} replies differ; first: {differ[0]}"


def test_every_module_of_the_parser_package_is_compiled() -> None:
    """A module added to surveys/understanding/ runs compiled too: MODULES names each one
    (but the package's ``__init__`` and ``learn``, which only ``survey-bot train`` runs)."""
    pkg = native.PACKAGE_DIR / "understanding"
    found = {f"understanding/{p.stem}" for p in pkg.glob("*.py")
             if p.stem not in ("__init__", "learn")}
    assert len(found) > 10
    assert found == set(native.MODULES)
