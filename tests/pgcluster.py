"""A throwaway PostgreSQL cluster for the test run: initdb, start on a free port, remove after.

Uses the Debian package's binaries (``scripts/ensure-system-deps`` installs them when missing).
PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` user the
package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _bindir() -> Path:
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(cand, "initdb").exists():
            return Path(cand)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError(
        "PostgreSQL server binaries not found: run `make test` (it installs the Debian "
        "package 'postgresql') or `apt-get install postgresql`"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A running throwaway cluster."""

    root: Path
    port: int
    bindir: Path
    as_user: list[str]

    @property
    def admin_url(self) -> str:
        """URL of the maintenance database."""
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str) -> str:
        """URL of database ``dbname``."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run one SQL statement as the superuser; return its output."""
        out = subprocess.run(
            [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
             "postgres", "-d", dbname, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
            check=True, capture_output=True, text=True,
        )
        return out.stdout

    def stop(self) -> None:
        """Stop the server and delete its files."""
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m",
             "immediate", "stop"], capture_output=True, check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Cluster:
    """initdb and start a cluster on a free loopback port (trust auth, fsync off)."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="surveybot-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
         "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
        check=True, capture_output=True,
    )
    port = _free_port()
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200")
    subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
         str(root / "log"), "-w", "-t", "60", "start"],
        check=True, capture_output=True,
    )
    cluster = Cluster(root, port, bindir, as_user)
    deadline = time.monotonic() + 30
    while True:
        try:
            cluster.psql("SELECT 1")
            return cluster
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                cluster.stop()
                raise
            time.sleep(0.2)
