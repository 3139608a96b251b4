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
