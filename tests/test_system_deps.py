"""`scripts/ensure-system-deps` decides the same way every time on the same machine.

It once reported installed CJK fonts as missing at random (a pipe under ``pipefail``) and then
tried to reinstall them, which fails offline or without root. Here apt-get and sudo are
replaced by commands that fail loudly: with everything installed, the script must never reach
them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ensure-system-deps"


def _installed() -> bool:
    fonts = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout \
        if shutil.which("fc-list") else ""
    return bool(shutil.which("chromium")) and "noto sans cjk" in fonts.lower()


@pytest.mark.skipif(not _installed(), reason="system packages not installed here")
def test_installed_packages_are_never_reinstalled(tmp_path: Path) -> None:
    for tool in ("apt-get", "sudo"):
        stub = tmp_path / tool
        stub.write_text(f"#!/bin/sh\necho '{tool} must not run' >&2\nexit 97\n")
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    for _ in range(25):
        done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "installing" not in done.stdout
