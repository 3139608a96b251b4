"""The repository is self-contained: nothing in it reads or points to a file outside the clone.

A user has only the clone. A test vector, a document or a script that lives beside the
checkout on a developer's machine works there and fails everywhere else, so every tracked file
is searched for paths that leave the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Built from pieces so that this file does not match itself.
_UP = r"\.\./"
OUTSIDE = re.compile(
    "|".join([
        _UP + r"(?:\.\./)*" + "shared",   # the developers' folder beside the checkout
        r"parents\[[2-9]\]",              # a path climbing out of the tests folder
        r"(?<![\w.])/" + "work/",          # a developer machine's absolute path
        r"DOMAIN" + r"\.md",              # the developers' notes, not the user docs
        r"seeds" + "/0",                  # the source policies, outside the clone
    ])
)


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing to compare against")
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_tracked_file_refers_outside_the_repository() -> None:
    offenders: list[str] = []
    for path in _tracked_files():
        if path.suffix in {".png", ".xlsx", ".so", ".json"} and path.stat().st_size > 200_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not offenders, "files refer outside the repository:\n" + "\n".join(offenders)


@pytest.mark.parametrize("line", [
    "see .." + "/shared/x", "p = Path(__file__).parents" + "[2] / 'x'", "open('/" + "work/main/x')",
])
def test_the_check_catches_what_it_should(line: str) -> None:
    assert OUTSIDE.search(line)


@pytest.mark.parametrize("line", ["docs/domain.md", "parents[1]", "a shared machine"])
def test_the_check_lets_the_repository_be(line: str) -> None:
    assert not OUTSIDE.search(line)


# --- every link in the documentation leads somewhere ------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        slug = _slug(line.lstrip("#"))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _broken_links(doc: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in _LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:, tel:
            continue
        name, _, anchor = target.partition("#")
        dest = (doc.parent / name).resolve() if name else doc
        if not dest.exists() or not dest.is_relative_to(root):
            broken.append(f"{doc.relative_to(root)}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{doc.relative_to(root)}: {target} (no such heading)")
    return broken


def test_every_link_in_the_documentation_resolves() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = [b for doc in docs for b in _broken_links(doc)]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_check_finds_a_broken_one(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Its `Title` (x)\n", encoding="utf-8")
    doc = tmp_path / "doc.md"
    doc.write_text("# Here\n\n[a](#here) [b](#gone) [c](missing.md) [d](other.md#its-title-x)"
                   " [e](other.md#nope) [f](../outside.md) [g](https://example.org/x)\n",
                   encoding="utf-8")
    (tmp_path.parent / "outside.md").write_text("# x\n", encoding="utf-8")
    assert [b.split(": ")[1] for b in _broken_links(doc, tmp_path)] == [
        "#gone (no such heading)", "missing.md (no such file)", "other.md#nope (no such heading)",
        "../outside.md (no such file)"]


def test_the_readme_lists_every_command() -> None:
    import argparse

    from bot.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Operation", 1)[1].split("\n### ", 1)[0]
    missing = [name for name in sub.choices if f"survey-bot {name}" not in table and
               f"`{name}`" not in table]
    assert not missing, f"commands the README's Operation table does not name: {missing}"
