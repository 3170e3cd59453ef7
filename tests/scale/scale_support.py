"""A `mlresponder serve` process under test: start, wait until healthy, read /metrics and its log, kill."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
TOKEN = "scale-test-token-not-a-secret"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(database_url: str, tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLRESPONDER_", "SLACK_"))}
    env.update({"PYTHONPATH": str(REPO), "MLRESPONDER_DATABASE_URL": database_url, "MLRESPONDER_API_TOKEN": TOKEN,
                "MLRESPONDER_POSTMORTEM_DIR": str(tmp_path / "postmortems"), "MLFLOW_DISABLE_TELEMETRY": "true"})
    env.update(settings)
    return env


class Replica:
    def __init__(self, env: dict[str, str], workdir: Path, name: str, *, workers: int = 1,
                 host: str | None = None) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("ab")
        args = ["serve", "--port", str(self.port), "--log-level", "info"]
        if workers > 1:
            args += ["--workers", str(workers)]
        cmd = [sys.executable, "-m", "bot.cli", *args]
        if host is not None:  # a replica "on another host": it names itself so (its process ids mean nothing here)
            cmd = [sys.executable, "-c", "import socket, sys; name = sys.argv.pop(1); "
                   "socket.gethostname = lambda: name; from bot.cli import main; sys.exit(main(sys.argv[1:]))",
                   host, *args]
        self.proc = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180.0) -> Replica:
        wait_until(lambda: self._healthy(), timeout, f"{self.name} to answer /healthz ({self.tail()})")
        return self

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def leader(self) -> bool | None:
        """This replica's `mlresponder_scheduler_leader` gauge (None when it does not answer)."""
        try:
            text = httpx.get(f"{self.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).text
        except httpx.TransportError:
            return None
        match = re.search(r"^mlresponder_scheduler_leader ([0-9.]+)$", text, re.M)
        return None if match is None else float(match.group(1)) == 1.0

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, n: int = 3000) -> str:
        return self.log()[-n:]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def alertmanager_body(fingerprint: str, service: str, *, status: str = "firing",
                      summary: str | None = None) -> dict[str, Any]:
    labels = {"alertname": "PredictionLatencyHigh", "service": service, "severity": "warning"}
    summary = summary or f"p99 latency above SLO on {service}"
    alert = {"status": status, "labels": labels, "annotations": {"summary": summary},
             "startsAt": "2026-11-27T03:02:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": fingerprint}
    return {"version": "4", "groupKey": f'{{}}:{{service="{service}"}}', "status": status, "receiver": "mlresponder",
            "groupLabels": {"service": service}, "commonLabels": labels, "commonAnnotations": {}, "alerts": [alert]}
