"""The store down, the service killed: intake never answers 2xx for an alert it did not keep.

* A database that is down gives 503 (with Retry-After), never a 200 that dropped the alert,
  and intake works again, by itself, once the database is back.
* `mlresponder serve` killed with SIGKILL mid-stream and restarted still has every alert it
  acknowledged with a 2xx (one transaction per delivery, committed before the answer).
"""

from __future__ import annotations

import shlex
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from intake_support import ServiceProcess, am_alert, am_payload, store_counts

from bot.api import create_app
from bot.config import Settings
from bot.wiring import create_runtime
from tests.support.servers import PostgresServer


def delivery(i: int, prefix: str) -> dict[str, Any]:
    """A delivery that opens its own incident: own fingerprint, service and group."""
    service = f"{prefix}-svc-{i}"
    return am_payload(am_alert(f"{prefix}-fp-{i}", service=service), group_key=f'{{}}:{{service="{service}"}}')


# ---------------------------------------------------------------- the database is down


class StoppablePostgres:
    """A PostgreSQL cluster of its own (the shared one keeps running), stopped and started at will."""

    def __init__(self) -> None:
        self.server = PostgresServer()
        self.url: str = self.server.new_database()
        self.running = True

    def stop(self) -> None:
        self.server._run([self.server.pg_ctl, "-D", str(self.server.data), "-m", "fast", "-w", "stop"])
        self.running = False

    def start(self) -> None:
        # pg_ctl wrote the options of the first start to postmaster.opts: start it the same way.
        argv = shlex.split((self.server.data / "postmaster.opts").read_text())
        options = [arg for i, arg in enumerate(argv[1:], 1) if arg != "-D" and argv[i - 1] != "-D"]
        self.server._run([self.server.pg_ctl, "-D", str(self.server.data), "-o", shlex.join(options),
                          "-l", str(self.server.dir / "log"), "-w", "start"])
        self.running = True

    def close(self) -> None:
        if self.running:
            self.server.stop()
        else:  # a test that failed while it was down: nothing to stop, only files to remove
            shutil.rmtree(self.server.dir, ignore_errors=True)


@pytest.fixture
def stoppable_postgres() -> Iterator[StoppablePostgres]:
    pg = StoppablePostgres()
    yield pg
    pg.close()


def test_postgres_down_gives_503_never_2xx_and_intake_recovers(
    stoppable_postgres: StoppablePostgres, start_service: Callable[..., ServiceProcess]
) -> None:
    service = start_service(stoppable_postgres.url)
    assert httpx.post(service.url + "/alerts/alertmanager", json=delivery(1, "down"), timeout=10).status_code == 201

    stoppable_postgres.stop()
    refused = [
        httpx.post(service.url + "/alerts/alertmanager", json=delivery(2, "down"), timeout=30),
        httpx.post(service.url + "/alerts/alertmanager", json=delivery(1, "down"), timeout=30),  # a re-send
        httpx.post(service.url + "/alerts", timeout=30, json={
            "title": "t", "source": "script", "severity": "sev2", "starts_at": "2026-11-27T03:00:00Z"}),
        httpx.post(service.url + "/changes", timeout=30, json={
            "timestamp": "2026-11-27T03:00:00Z", "kind": "infra", "service": "db", "description": "failover"}),
        httpx.get(service.url + "/incidents", timeout=30),
    ]
    for response in refused:
        assert response.status_code == 503, response.text
        assert response.json()["detail"] == "incident store unavailable; retry later"
    assert refused[0].headers["retry-after"] == "5"
    health = httpx.get(service.url + "/healthz", timeout=30)
    assert health.status_code == 503 and health.json()["database"] == "unreachable"

    stoppable_postgres.start()
    # What Alertmanager does after a 5xx: deliver again. The service reconnects by itself.
    retried = httpx.post(service.url + "/alerts/alertmanager", json=delivery(2, "down"), timeout=30)
    assert retried.status_code == 201, retried.text
    assert httpx.get(service.url + "/healthz", timeout=10).status_code == 200
    services = {i["service"] for i in httpx.get(service.url + "/incidents", timeout=10).json()["incidents"]}
    assert services == {"down-svc-1", "down-svc-2"}
    counts = store_counts(stoppable_postgres.url)
    assert counts["incidents"] == 2 and counts["alerts"] == 2 and counts["change_events"] == 0


def test_sqlite_file_unreachable_gives_503(settings: Settings) -> None:
    runtime = create_runtime(settings)
    try:
        client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
        assert client.post("/alerts/alertmanager", json=delivery(1, "file")).status_code == 201
        # The volume holding the store goes away: new connections cannot open it.
        runtime.engine.dispose()
        db = Path(settings.database_url.removeprefix("sqlite:///"))
        for path in db.parent.glob(db.name + "*"):
            path.unlink()
        db.mkdir()
        response = client.post("/alerts/alertmanager", json=delivery(2, "file"))
        assert response.status_code == 503, response.text
        assert client.get("/healthz").status_code == 503
    finally:
        runtime.close()


# ---------------------------------------------------------------- the service is killed


def test_sigkill_keeps_every_acknowledged_alert(database_url: str,
                                                start_service: Callable[..., ServiceProcess]) -> None:
    service = start_service(database_url)
    acknowledged: set[int] = set()
    lock = threading.Lock()
    counter = iter(range(100_000))
    killed = threading.Event()

    def sender() -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                with lock:
                    i = next(counter)
                try:
                    response = client.post(service.url + "/alerts/alertmanager", json=delivery(i, "crash"))
                except httpx.TransportError:
                    if killed.is_set():
                        return
                    raise
                assert response.status_code == 201, response.text
                with lock:
                    acknowledged.add(i)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.set()
    service.kill()  # SIGKILL while six deliveries are in flight
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert len(acknowledged) >= 50

    restarted = start_service(database_url)
    listed = httpx.get(restarted.url + "/incidents", params={"limit": "1000"}, timeout=30).json()["incidents"]
    with httpx.Client(base_url=restarted.url, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        details = list(pool.map(lambda item: client.get(f"/incidents/{item['id']}").json(), listed))
    fingerprints: set[str] = set()
    for detail in details:
        fingerprints.update(a["fingerprint"] for a in detail["alerts"])
        assert [e["kind"] for e in detail["timeline"]][:2] == ["incident_opened", "alert_fired"]
    missing = {f"crash-fp-{i}" for i in acknowledged} - fingerprints
    assert not missing, f"acknowledged with 201 but lost after SIGKILL: {sorted(missing)}"
    # Deliveries in flight at the kill were either kept whole or not at all: never half.
    assert len(fingerprints) == len(listed)
    # The dedup state survived too: a re-send of an acknowledged alert is a duplicate.
    again = httpx.post(restarted.url + "/alerts/alertmanager", json=delivery(min(acknowledged), "crash"), timeout=10)
    assert again.status_code == 202 and again.json()["duplicates"] == 1
