"""Compile the reply parser's hot modules with mypyc into ``build/native/surveys/``.

    python scripts/build_native.py [--force]

The parser is plain, typed Python; mypyc (it ships with mypy) turns the modules of
``surveys/understanding/`` that run on every reply (the rules of each concern, the model,
its decisions and the explanation: ``surveys.native.MODULES``) into C extensions that run
the same code about 1.4 times as fast.  Nothing is written beside the sources: the
extensions go to ``build/native/surveys/`` with a stamp of the sources' hashes, and
``surveys/__init__.py`` puts that directory first on the package path only while the stamp
matches the sources
(``surveys/native.py``).  An edited parser is therefore never shadowed by a stale build.

Without a C compiler or the Python headers this prints why and exits 0: everything works on
the source, only slower.  With them, a failed build is an error (exit 1).  ``make run`` and
``make test`` call it; it returns at once when the build is up to date.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WANTED = os.environ.get("SURVEYBOT_NATIVE") != "0"
# this process reads and compiles the sources: importing the package must not switch it to
# (or warn about) an existing build
os.environ["SURVEYBOT_NATIVE"] = "0"

from surveys.native import (  # noqa: E402
    MODULES,
    NATIVE_DIR,
    stamp_of,
    toolchain_missing,
    write_stamp,
)


def build() -> None:
    """Type-check and compile MODULES as one mypyc group into NATIVE_DIR."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    with tempfile.TemporaryDirectory(prefix="survey-bot-native-") as tmp:
        # mypyc names modules by their path from the working directory; a copy of the
        # package keeps the repository's pyproject.toml (and older setuptools' reading of
        # it) out of the build, and its C files out of the tree.
        src = Path(tmp) / "src"
        shutil.copytree(ROOT / "surveys", src / "surveys",
                        ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        out = Path(tmp) / "lib"
        cwd = Path.cwd()
        log = Path(tmp) / "build.log"
        # mypy, setuptools and gcc talk a lot; their words matter only when the build fails
        saved = os.dup(1), os.dup(2)
        sys.stdout.flush()
        sys.stderr.flush()
        failure: BaseException | None = None
        with log.open("wb") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            os.chdir(src)
            try:
                # one group named surveys.native: its shared runtime library is
                # surveys/native__mypyc.*.so, inside the package, not a top-level module
                exts = mypycify([f"surveys/{m}.py" for m in MODULES], opt_level="3",
                                group_name="surveys.native", target_dir=str(Path(tmp) / "c"))
                dist = Distribution({"name": "survey-bot-native", "ext_modules": exts})
                dist.script_name = "build_native"
                dist.script_args = ["build_ext", "--build-lib", str(out),
                                    "--build-temp", str(Path(tmp) / "obj")]
                dist.parse_command_line()
                dist.run_commands()
            except (Exception, SystemExit) as e:
                failure = e
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                for fd, kept in zip((1, 2), saved, strict=True):
                    os.dup2(kept, fd)
                    os.close(kept)
                os.chdir(cwd)
        if failure is not None:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
            raise RuntimeError(f"{failure}\n" + "\n".join(tail)) from failure
        target = ROOT / NATIVE_DIR
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for so in (out / "surveys").rglob("*.so"):
            dest = target / so.relative_to(out / "surveys")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(so, dest)
        write_stamp(ROOT, compiled=src)


def main() -> None:
    """Build unless up to date; never fail the caller for a missing toolchain."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = ap.parse_args()
    if not WANTED:
        print("compiled parser: skipped (SURVEYBOT_NATIVE=0)")
        return
    if not args.force and stamp_of(ROOT) is not None:
        print("compiled parser: up to date")
        return
    why = toolchain_missing()
    if why:
        print(f"compiled parser: not built, {why}; the parser runs from source, "
              "about 1.4 times slower", file=sys.stderr)
        return
    print("compiled parser: building with mypyc (about 30 s) ...", flush=True)
    try:
        build()
    except (Exception, SystemExit) as e:
        # the toolchain is there, so this is a defect in the code (say, a type mypyc rejects)
        raise SystemExit(f"compiled parser: build failed: {e}\n"
                         "run `SURVEYBOT_NATIVE=0 make ...` to work on the source meanwhile") from e
    print(f"compiled parser: built in {NATIVE_DIR}/")


if __name__ == "__main__":
    main()
