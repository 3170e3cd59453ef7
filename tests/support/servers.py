"""Real servers for integration tests: free loopback ports, a throwaway PostgreSQL cluster.

Under ``CI=true`` a missing server is a failure, never a skip (`require_server`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks._pg import free_port, pg_binary  # one finder of free ports and PostgreSQL binaries

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_server(what: str) -> None:
    """Fail under CI, skip elsewhere: an integration test never passes silently without its server."""
    message = f"{what} is not available on this machine"
    if IN_CI:
        pytest.fail(message + " (CI=true: integration servers are required)")
    pytest.skip(message)


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port, run as the postgres user when root."""

    def __init__(self) -> None:
        initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
        if not initdb or not pg_ctl:
            require_server("PostgreSQL (initdb/pg_ctl)")
        assert initdb and pg_ctl
        self.pg_ctl = pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="mlr-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run([initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200"
        self._run([pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"])
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._databases = 0

    def _run(self, cmd: list[str]) -> None:
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def new_database(self) -> str:
        import psycopg

        self._databases += 1
        name = f"t{self._databases}_{int(time.time() * 1000) % 100000}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
