"""The compiled reply parser: used when built and exactly matching the sources.

``scripts/build_native.py`` (run by ``make run`` and ``make test``) compiles :data:`MODULES`
with mypyc into ``build/native/surveys/`` and records the SHA-256 of each source there.
:func:`activate` puts that directory first on the package path only while every recorded
hash matches the source beside it, so an edited ``surveys/understanding/rules.py`` is never
shadowed by an
older build: the source runs (with a warning) until the build is redone.
``SURVEYBOT_NATIVE=0`` runs the source regardless.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import sysconfig
from collections.abc import MutableSequence
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

# the parser and the modules it calls on every reply (scripts/build_native.py); a path
# under surveys/ ("understanding/model": surveys/understanding/model.py)
MODULES: Final = tuple(f"understanding/{m}" for m in (
    "normalize", "compose", "text", "evidence", "explain", "numbers", "scores", "resolution",
    "circumstance", "selfharm", "safety",
    "redflag", "optout", "contact", "complaint", "questions", "dispute", "model", "decide",
    "rules"))
NATIVE_DIR: Final = "build/native/surveys"
STAMP: Final = "stamp.json"

# this module is never compiled: its own file is always in the source package
PACKAGE_DIR: Final = Path(__file__).resolve().parent
_SOURCE_ROOT: Final = PACKAGE_DIR.parent


def _wanted(root: Path) -> dict[str, str]:
    """What a build of the sources under ``root`` by this Python would record."""
    want = {m: hashlib.sha256((root / "surveys" / f"{m}.py").read_bytes()).hexdigest()
            for m in MODULES}
    want["python"] = sys.implementation.cache_tag or ""
    return want


def stamp_of(root: Path = _SOURCE_ROOT) -> dict[str, str] | None:
    """The build's stamp if the build under ``root`` matches its sources, else None."""
    path = root / NATIVE_DIR / STAMP
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
        want = _wanted(root)
    except (OSError, ValueError):
        return None
    return stamp if stamp == want else None


def write_stamp(root: Path = _SOURCE_ROOT, compiled: Path | None = None) -> None:
    """Record the sources compiled (called by scripts/build_native.py).

    ``compiled``: the root of the copy that was compiled, so that a source edited during the
    build is not recorded as built.
    """
    (root / NATIVE_DIR / STAMP).write_text(
        json.dumps(_wanted(compiled or root), indent=1) + "\n", encoding="utf-8")


def activate(package_path: MutableSequence[str], sub: str = "",
             root: Path = _SOURCE_ROOT) -> bool:
    """Put the compiled modules first on ``package_path`` if they match the sources.

    ``sub``: a subpackage of ``surveys`` ("understanding"), whose compiled modules are in the
    same build, one directory down.
    """
    native = root / NATIVE_DIR / sub if sub else root / NATIVE_DIR
    if os.environ.get("SURVEYBOT_NATIVE") == "0" or not native.is_dir():
        return False
    if stamp_of(root) is None:
        if sub:
            return False  # (said once, for the package)
        log.warning("the compiled parser in %s is out of date with surveys/*.py; running "
                    "the source (slower) until `make native` rebuilds it", NATIVE_DIR)
        return False
    package_path.insert(0, str(native))
    return True


def toolchain_missing() -> str:
    """What this machine lacks to build the compiled parser, or '' if nothing."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc}; install gcc)"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "no Python headers (install python3-dev)"
    if importlib.util.find_spec("mypyc") is None:
        return "mypyc is not installed (it comes with mypy: pip install -e '.[native]')"
    return ""


def compiled() -> bool:
    """Whether the reply parser in use is the compiled one."""
    from surveys.understanding import rules

    return not (rules.__file__ or "").endswith(".py")
