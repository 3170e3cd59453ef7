"""A throwaway PostgreSQL cluster for benchmarks: initdb + pg_ctl on a free loopback port, in a temp dir.

Kept separate from the test fixtures so that the benchmarks run without pytest.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections import Counter
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else None


class PostgresServer:
    """Run as the postgres user when root (initdb refuses root). Durable settings stay on (fsync on)
    so that the figures are those of a real store, not of a RAM disk."""

    def __init__(self, *, fsync: bool = True) -> None:
        initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL (initdb/pg_ctl) is not installed")
        self.pg_ctl = pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="mlr-bench-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run([initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"])
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=100 "
                f"-c fsync={'on' if fsync else 'off'} -c log_lock_waits=on")
        self._run([pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"])
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def postmaster_pid(self) -> int:
        """The server's pid (its backends are its children): for CPU accounting."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def lock_report(self) -> str:
        """What the server logged about locks so far: waits longer than `deadlock_timeout` (1 s;
        ``log_lock_waits`` is on) and deadlocks, each of which stalls the transactions queued behind it."""
        try:
            text = (self.dir / "log").read_text(errors="replace")
        except OSError:
            return "log unreadable"
        kinds = Counter(m.group(1) for m in re.finditer(r"still waiting for \w+ on (advisory lock|transaction|tuple|"
                                                         r"relation|\w+)", text))
        waits = ", ".join(f"{n} on {kind}" for kind, n in kinds.most_common()) or "none"
        return f"lock waits over 1 s: {waits}; {text.count('deadlock detected')} deadlocks"

    def _run(self, cmd: list[str]) -> None:
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        try:
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "fast", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
