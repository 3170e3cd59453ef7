"""Helpers for the intake tests: a real `mlresponder serve` process, payload builders, store counts.

The module name is unique on purpose: test folders have no ``__init__.py``, so pytest puts
this folder on ``sys.path`` and a generic name would clash with other areas' helpers.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, inspect, select, table

from bot.db import make_engine
from bot.models import Alert as AlertRow
from bot.models import AuditRecord, ChangeEvent, DedupKey, Incident, Mitigation, TimelineEvent
from tests.support.servers import free_port, require_server  # noqa: F401  (used by the intake tests)

STORE_TABLES = (Incident, AlertRow, DedupKey, TimelineEvent, ChangeEvent, Mitigation, AuditRecord)


def mlresponder_command() -> list[str]:
    """The installed console script when present (what users run), else the module."""
    script = Path(sys.executable).parent / "mlresponder"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


class ServiceProcess:
    """`mlresponder serve` in a subprocess on a free loopback port, with its own environment."""

    def __init__(self, database_url: str, *, api_token: str | None = None, host: str = "127.0.0.1",
                 extra_env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.database_url = database_url
        self.host = host
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = Path(tempfile.mkdtemp(prefix="mlr-serve-"))
        self.log_path = self.workdir / "serve.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLRESPONDER_", "SLACK_"))}
        env.update({
            "MLRESPONDER_DATABASE_URL": database_url,
            "MLRESPONDER_SCHEDULER": "0",
            "MLRESPONDER_POSTMORTEM_DIR": str(self.workdir / "postmortems"),
        })
        if api_token:
            env["MLRESPONDER_API_TOKEN"] = api_token
        env.update(extra_env or {})
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> ServiceProcess:  # a loaded CI machine took over 30 s
        cmd = [*mlresponder_command(), "serve", "--host", self.host, "--port", str(self.port),
               "--log-level", "warning"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlresponder serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code in (200, 503):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mlresponder serve did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what a crash or an OOM kill looks like."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def am_alert(fingerprint: str, *, status: str = "firing", alertname: str = "AccuracyDrop",
             service: str = "fraud-model", severity: str = "critical", summary: str | None = None,
             starts_at: str = "2026-11-27T03:02:00.123456789Z", ends_at: str = "0001-01-01T00:00:00Z",
             extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    labels = {"alertname": alertname, "service": service, "severity": severity, **(extra_labels or {})}
    return {
        "status": status, "labels": labels,
        "annotations": {"summary": summary or f"{alertname} on {service}", "description": "from the tests"},
        "startsAt": starts_at, "endsAt": ends_at, "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fingerprint,
    }


def am_payload(*alerts: dict[str, Any], group_key: str = '{}:{alertname="AccuracyDrop"}',
               status: str | None = None) -> dict[str, Any]:
    """An Alertmanager webhook (version 4) delivery holding ``alerts``."""
    if not alerts:
        alerts = (am_alert("fp-default"),)
    overall = status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved")
    return {
        "version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": overall, "receiver": "mlresponder",
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager.local", "alerts": list(alerts),
    }


def store_counts(database_url: str) -> dict[str, int]:
    """Rows in every table of the store, other domains' tables included: the "nothing stored" check."""
    engine = make_engine(database_url)
    try:
        names = sorted(set(inspect(engine).get_table_names()) | {m.__tablename__ for m in STORE_TABLES})
        with engine.connect() as conn:
            return {name: int(conn.scalar(select(func.count()).select_from(table(name))) or 0) for name in names}
    finally:
        engine.dispose()
