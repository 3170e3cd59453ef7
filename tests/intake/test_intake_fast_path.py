"""The alert routes are answered by `IntakeFastPath`, ahead of FastAPI's router.

FastAPI 0.165 lists an included router in ``app.routes`` as one entry without paths: the fast
path, which looked its routes up there, found none and every alert went through the router (and
its dependency solving) without anything failing. These tests see that the fast path holds
every alert source's route and answers it as the router would.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from fastapi.testclient import TestClient
from intake_support import am_alert, am_payload

from bot.api import create_app
from bot.api.routes.intake import IntakeFastPath
from bot.config import Settings
from bot.intake import ALERT_SOURCES
from bot.runtime import Runtime
from bot.wiring import create_runtime


def _fast_path_routes(app: Any) -> dict[str, Any]:
    return next(m.kwargs["routes"] for m in app.user_middleware if m.cls is IntakeFastPath)


def test_the_fast_path_holds_every_alert_source_route(runtime: Runtime) -> None:
    routes = _fast_path_routes(create_app(runtime))
    assert set(routes) == {s.path for s in ALERT_SOURCES.values()}
    for path, (source, route) in routes.items():
        assert source.path == path and route.path == path


def test_the_fast_path_answers_and_refuses_as_the_router(settings: Settings, monkeypatch: Any) -> None:
    """Answered by the fast path (FastAPI's route handler never runs), with the router's answers:
    201/202 and the documented body, 401 without the token, 4xx naming the field."""
    runtime = create_runtime(settings.with_(api_token="fast-path-token-not-a-secret"))
    try:
        _answered_by_the_fast_path(runtime, monkeypatch)
    finally:
        runtime.close()


def _answered_by_the_fast_path(runtime: Runtime, monkeypatch: Any) -> None:
    from bot.api.routes import intake as intake_routes

    app = create_app(runtime)
    taken = []
    real = intake_routes.answer_delivery

    async def spy(request: Any, source: Any) -> Any:
        taken.append((request.scope.get("route").path, source.name))
        return await real(request, source)

    monkeypatch.setattr(intake_routes, "answer_delivery", spy)
    client = TestClient(app, client=("127.0.0.1", 50000))
    auth = {"Authorization": "Bearer fast-path-token-not-a-secret"}
    body = am_payload(am_alert("fp-fast-path", service="fast"))
    assert client.post("/alerts/alertmanager", json=body).status_code == 401
    r = client.post("/alerts/alertmanager", json=body, headers=auth)
    assert r.status_code == 201 and r.json()["opened"] == 1, r.text
    assert client.post("/alerts/alertmanager", json=body, headers=auth).json()["duplicates"] == 1
    bad = client.post("/alerts/alertmanager", json={"version": "4", "alerts": "nope"}, headers=auth)
    assert 400 <= bad.status_code < 500 and "alerts" in bad.json()["detail"]
    assert taken == [("/alerts/alertmanager", "alertmanager")] * 3
    metrics = client.get("/metrics", headers=auth).text
    assert 'route="/alerts/alertmanager",status="201"' in metrics


def test_serve_freezes_what_startup_built() -> None:
    """`freeze_startup_heap` (called by `serve` once the runtime runs) leaves the startup objects
    to no collection: a full collection then walks only what came after."""
    code = ("import gc; from bot.api import create_app; from bot.commands.serve import freeze_startup_heap; "
            "freeze_startup_heap(); print(gc.get_freeze_count(), len(gc.get_objects()))")
    frozen, tracked = map(int, subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                              text=True).stdout.split())
    assert frozen > 10_000 and tracked < frozen / 10
