"""A real Prometheus Alertmanager delivers to a running mlresponder, bearer token and all.

The fixture starts `prometheus-alertmanager` on loopback with clustering off and a webhook
receiver pointing at `mlresponder serve`, which requires MLRESPONDER_API_TOKEN. An alert
posted to Alertmanager's API becomes an incident; resolving it there is recorded on the
incident (the incident stays open until a person resolves it).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from intake_support import ServiceProcess, free_port, require_server

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
TOKEN = "am-webhook-token-5b1e"
AUTH = {"authorization": f"Bearer {TOKEN}"}


class Alertmanager:
    def __init__(self, webhook_url: str, token: str) -> None:
        binary = shutil.which("prometheus-alertmanager") or (ALERTMANAGER if Path(ALERTMANAGER).exists() else None)
        if binary is None:
            require_server("Prometheus Alertmanager (Debian package prometheus-alertmanager)")
        assert binary
        self.dir = Path(tempfile.mkdtemp(prefix="mlr-am-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "route": {"receiver": "mlresponder", "group_by": ["alertname", "service"],
                      "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{
                "name": "mlresponder",
                "webhook_configs": [{
                    "url": webhook_url, "send_resolved": True,
                    "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                }],
            }],
        }
        (self.dir / "am.yml").write_text(yaml.safe_dump(config))
        self.log = open(self.dir / "am.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [binary, f"--config.file={self.dir / 'am.yml'}", f"--storage.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
             f"--web.external-url={self.url}"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.dir / "am.log").read_text()
            try:
                if httpx.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("Alertmanager did not become ready:\n" + (self.dir / "am.log").read_text())

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        response = httpx.post(self.url + "/api/v2/alerts", json=alerts, timeout=10)
        assert response.status_code == 200, response.text

    def alerts(self) -> list[dict[str, Any]]:
        return list(httpx.get(self.url + "/api/v2/alerts", timeout=10).json())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def service(start_service: Callable[..., ServiceProcess], tmp_path: Path) -> ServiceProcess:
    return start_service(f"sqlite:///{tmp_path / 'store.db'}", api_token=TOKEN)


@pytest.fixture
def alertmanager(service: ServiceProcess) -> Iterator[Alertmanager]:
    am = Alertmanager(service.url + "/alerts/alertmanager", TOKEN)
    yield am
    am.stop()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_alertmanager_delivers_an_alert_and_its_resolution(service: ServiceProcess, alertmanager: Alertmanager) -> None:
    started = datetime.now(UTC) - timedelta(minutes=2)
    labels = {"alertname": "ModelAccuracyDrop", "service": "fraud-scorer", "severity": "critical",
              "model": "fraud-gbm"}
    annotations = {"summary": "fraud-scorer accuracy fell below 0.90", "description": "rolling 15 min accuracy 0.81",
                   "runbook": "model-regression"}
    alertmanager.post_alerts([{"labels": labels, "annotations": annotations, "startsAt": iso(started),
                               "generatorURL": "http://prometheus.local/graph?g0.expr=accuracy"}])

    def fraud_incidents() -> list[dict[str, Any]]:
        response = httpx.get(service.url + "/incidents", params={"service": "fraud-scorer"}, headers=AUTH, timeout=10)
        return list(response.json()["incidents"])

    opened = wait_for(fraud_incidents, "the incident opened by Alertmanager's webhook")
    assert len(opened) == 1
    ref = opened[0]["id"]
    detail = httpx.get(f"{service.url}/incidents/{ref}", headers=AUTH, timeout=10).json()
    assert detail["severity"] == "sev1"
    assert detail["title"] == annotations["summary"]
    assert detail["status"] == "triggered" and detail["alerts_resolved"] is False
    assert abs(datetime.fromisoformat(detail["started_at"]) - started) < timedelta(seconds=1)
    (alert,) = detail["alerts"]
    am_fingerprint = alertmanager.alerts()[0]["fingerprint"]
    assert alert["fingerprint"] == am_fingerprint  # Alertmanager's own fingerprint is the dedup key
    assert alert["labels"] == labels

    # Resolve it in Alertmanager: endsAt in the past, annotations sent again (or the resolved
    # notification carries none).
    alertmanager.post_alerts([{"labels": labels, "annotations": annotations, "startsAt": iso(started),
                               "endsAt": iso(datetime.now(UTC) - timedelta(seconds=1))}])

    def resolved() -> dict[str, Any] | None:
        data = dict(httpx.get(f"{service.url}/incidents/{ref}", headers=AUTH, timeout=10).json())
        return data if data["alerts_resolved"] else None

    detail = wait_for(resolved, "the resolution delivered by Alertmanager")
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.count("alert_resolved") == 1 and kinds.count("alerts_all_resolved") == 1
    resolved_event = next(e for e in detail["timeline"] if e["kind"] == "alert_resolved")
    assert resolved_event["actor"] == "alertmanager" and resolved_event["data"]["fingerprint"] == am_fingerprint
    assert detail["alerts"][0]["status"] == "resolved" and detail["alerts"][0]["ends_at"]
    assert detail["status"] == "triggered"  # not closed silently: a person resolves the incident
    assert len(fraud_incidents()) == 1

    # Every delivery carried the bearer token: the service counted 2xx answers and no 401.
    metrics = httpx.get(service.url + "/metrics", headers=AUTH, timeout=10).text
    intake_lines = [line for line in metrics.splitlines()
                    if line.startswith("mlresponder_http_request_duration_seconds_count")
                    and 'route="/alerts/alertmanager"' in line]
    assert any('status="201"' in line for line in intake_lines), intake_lines
    assert not any('status="401"' in line for line in intake_lines), intake_lines
    assert TOKEN not in service.log()
