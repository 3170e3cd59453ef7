"""/healthz reports a store that refuses writes; /metrics label values stay bounded."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from bot.api import create_app
from bot.config import Settings
from bot.metrics import MAX_SOURCES
from bot.wiring import create_runtime

LOCAL = ("127.0.0.1", 50000)


def test_healthz_reports_a_read_only_store(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    writable = create_runtime(Settings(database_url=f"sqlite:///{db}", scheduler_enabled=False), install_parts=False)
    client = TestClient(create_app(writable), client=LOCAL)
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    writable.close()
    # The same file opened read-only (as a read-only mount or a full disk leaves it): reads work,
    # every write fails, and the probe says so.
    read_only = create_runtime(Settings(database_url=f"sqlite:///file:{db}?mode=ro&uri=true", scheduler_enabled=False),
                               migrate=False, install_parts=False)
    try:
        client = TestClient(create_app(read_only), client=LOCAL)
        assert client.get("/incidents").status_code == 200
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {"status": "degraded", "database": "read-only"}
        alert = {"title": "t", "source": "s", "severity": "high", "labels": {}, "annotations": {},
                 "starts_at": "2026-11-27T03:00:00Z"}
        assert client.post("/alerts", json=alert).status_code == 503
    finally:
        read_only.close()


def test_metrics_labels_are_bounded_whatever_the_sources(tmp_path: Path) -> None:
    runtime = create_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", scheduler_enabled=False),
                             install_parts=False)
    try:
        client = TestClient(create_app(runtime), client=LOCAL)
        for i in range(200):
            body = {"title": f"t{i}", "source": f"src-{i}", "severity": "high", "labels": {"service": f"svc{i % 3}"},
                    "annotations": {}, "starts_at": "2026-11-27T03:00:00Z"}
            assert client.post("/alerts", json=body).status_code in (201, 202)
        for path in ("/nope-1", "/nope-2", "/incidents/INC-1", "/incidents/INC-2"):
            client.get(path)
        text = client.get("/metrics").text
        sources = {line.split('source="')[1].split('"')[0] for line in text.splitlines()
                   if line.startswith("mlresponder_alerts_received_total{")}
        assert len(sources) <= MAX_SOURCES and "other" in sources
        routes = {line.split('route="')[1].split('"')[0] for line in text.splitlines()
                  if line.startswith("mlresponder_http_request_duration_seconds_count{")}
        assert "/incidents/{ref}" in routes and "/incidents/INC-1" not in routes and "/nope-1" not in routes
    finally:
        runtime.close()
