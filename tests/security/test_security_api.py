"""Who may call the HTTP API: the token guards every route but /healthz (reads included), a
read-only token may only read, and without a token only clients on this host are served."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from intake_support import ServiceProcess, am_alert, am_payload, require_server, store_counts

from bot.api import create_app
from bot.config import Settings
from bot.runtime import Runtime
from bot.wiring import create_runtime

TOKEN = "api-token-3f9c1d"
READ = "read-token-77ab20"
LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("192.0.2.10", 40000)
READS = ["/incidents", "/incidents/INC-1", "/metrics", "/docs", "/openapi.json"]
GENERIC = {"title": "accuracy drop", "source": "custom", "severity": "high", "labels": {"service": "ranker",
           "customer_ssn": "123-45-6789"}, "annotations": {}, "starts_at": "2026-11-27T03:00:00Z"}


@pytest.fixture
def guarded(settings: Settings) -> Iterator[Runtime]:
    runtime = create_runtime(settings.with_(api_token=TOKEN, read_token=READ))
    yield runtime
    runtime.close()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", READS)
def test_reads_need_a_token_when_one_is_set(guarded: Runtime, path: str) -> None:
    client = TestClient(create_app(guarded, bind_host="0.0.0.0"), client=REMOTE)
    assert client.post("/alerts", json=GENERIC, headers=_bearer(TOKEN)).status_code == 201
    refused = client.get(path)
    assert refused.status_code == 401
    assert "123-45-6789" not in refused.text
    assert client.get(path, headers=_bearer("wrong-token")).status_code == 401
    for token in (TOKEN, READ):
        assert client.get(path, headers=_bearer(token)).status_code == 200, path
    # Loopback is no excuse once a token is configured.
    assert TestClient(create_app(guarded), client=LOOPBACK).get(path).status_code == 401


def test_the_read_token_cannot_write(guarded: Runtime) -> None:
    client = TestClient(create_app(guarded), client=REMOTE)
    before = store_counts(guarded.settings.database_url)
    for route, body in (("/alerts", GENERIC), ("/alerts/alertmanager", am_payload(am_alert("fp-r"))),
                        ("/changes", {"timestamp": "2026-11-27T03:00:00Z", "kind": "other", "service": "x",
                                      "description": "y"})):
        response = client.post(route, json=body, headers=_bearer(READ))
        assert response.status_code == 403, route
        assert "read-only" in response.json()["detail"]
    assert store_counts(guarded.settings.database_url) == before


def test_healthz_answers_anyone(guarded: Runtime) -> None:
    assert TestClient(create_app(guarded), client=REMOTE).get("/healthz").json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("path", ["/alerts", *READS])
def test_without_a_token_only_loopback_clients_are_served(settings: Settings, path: str) -> None:
    runtime = create_runtime(settings)
    try:
        # The bind address does not matter: the client's does.
        app = create_app(runtime, bind_host="127.0.0.1")
        remote, local = TestClient(app, client=REMOTE), TestClient(app, client=LOOPBACK)
        if path == "/alerts":
            assert remote.post(path, json=GENERIC).status_code == 401
            assert local.post(path, json=GENERIC).status_code == 201
        else:
            local.post("/alerts", json=GENERIC)
            assert remote.get(path).status_code == 401
            assert local.get(path).status_code == 200
        assert TestClient(app, client=("::1", 50000)).get("/healthz").status_code == 200
    finally:
        runtime.close()


def test_a_forwarded_request_from_another_host_is_not_a_loopback_client(settings: Settings) -> None:
    """An HTTP proxy on this host relaying a remote client says so in X-Forwarded-For / Forwarded."""
    runtime = create_runtime(settings)
    try:
        client = TestClient(create_app(runtime), client=LOOPBACK)
        for headers in ({"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "198.51.100.7, 127.0.0.1"},
                        {"Forwarded": "for=198.51.100.7;proto=http"}, {"X-Real-IP": "198.51.100.7"}):
            assert client.post("/alerts", json=GENERIC, headers=headers).status_code == 401, headers
        assert client.post("/alerts", json=GENERIC, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 201
    finally:
        runtime.close()


# ---------------------------------------------------------------- a real server on 0.0.0.0


def _non_loopback_address() -> str | None:
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = str(s.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


@pytest.mark.integration
def test_serve_on_all_interfaces_without_a_token_warns_and_serves_only_this_host(
        start_service: Callable[..., ServiceProcess], tmp_path: object) -> None:
    address = _non_loopback_address()
    if address is None:
        require_server("a non-loopback network interface")
        return
    service = start_service(f"sqlite:///{tmp_path}/store.db", host="0.0.0.0")
    assert "MLRESPONDER_API_TOKEN is not set" in service.log()
    port = service.port
    remote = httpx.post(f"http://{address}:{port}/alerts", json=GENERIC, timeout=10)
    assert remote.status_code == 401, remote.text
    assert httpx.get(f"http://{address}:{port}/incidents", timeout=10).status_code == 401
    assert httpx.get(f"http://{address}:{port}/healthz", timeout=10).status_code == 200
    assert store_counts(service.database_url)["incidents"] == 0
    assert httpx.post(f"http://127.0.0.1:{port}/alerts", json=GENERIC, timeout=10).status_code == 201
