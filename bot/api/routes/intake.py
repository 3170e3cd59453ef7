"""`POST` of each registered alert source (`/alerts/alertmanager`, `/alerts/grafana`, `/alerts`): each delivery
stored whole or not at all, answered once committed (`bot.api.intake_writer`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.api.deps import Writer, json_body, require_writer
from bot.api.intake_writer import intake_writer
from bot.api.schemas import IngestAnswer, Problem
from bot.intake import ALERT_SOURCES, AlertSource, IngestResult, NormalizedAlert
from bot.metrics import ServiceMetrics

router = APIRouter(tags=["intake"], dependencies=[Writer],
                   responses={400: {"model": Problem}, 401: {"model": Problem}, 422: {"model": Problem},
                              503: {"model": Problem}})


def count_delivery(metrics: ServiceMetrics, alerts: list[NormalizedAlert], result: IngestResult) -> None:
    for a in alerts:
        metrics.alerts_received.labels(metrics.source_label(a.source), a.status).inc()
    for severity in result.opened_severities:
        metrics.incidents_opened.labels(severity).inc()
    if result.duplicates:
        metrics.dedup_hits.inc(result.duplicates)


async def answer_delivery(request: Request, source: AlertSource) -> JSONResponse:
    """Parse one delivery (on the event loop: a bad body is answered without a thread), route it with
    the group-commit writer, answer once it is committed."""
    alerts = source.parse(await json_body(request))
    result = await intake_writer(request.app.state.runtime).submit(alerts)
    count_delivery(request.app.state.metrics, alerts, result)
    # `IngestAnswer` documents this shape; `IngestResult.to_dict` builds exactly it (validating
    # it again per delivery cost a pydantic round trip on every alert of a storm).
    return JSONResponse(result.to_dict(), status_code=202 if result.opened == 0 else 201)


def _intake_route(source: AlertSource) -> Callable[..., Awaitable[JSONResponse]]:
    async def handler(request: Request) -> JSONResponse:
        return await answer_delivery(request, source)

    return handler


class IntakeFastPath:
    """The intake routes answered as plain ASGI, ahead of FastAPI's router.

    Every alert of a storm is one request: routing it through FastAPI (route matching, solving
    the router's dependencies, its exception and exit-stack middleware) cost about as much CPU
    as parsing and routing the alert itself. Same checks in the same order as the routes
    (`require_writer`, then `answer_delivery`), same error answers (`bot.api.main.error_response`);
    the routes stay registered for the OpenAPI schema and anything this does not take.
    """

    def __init__(self, app: ASGIApp, routes: dict[str, tuple[AlertSource, Any]],
                 error_response: Callable[[Exception], JSONResponse | None]) -> None:
        self.app = app
        self.routes = routes  # path → (source, the route: `RequestTiming` labels requests by its path)
        self.error_response = error_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        source, route = found
        scope["route"] = route
        request = Request(scope, receive)
        try:
            await require_writer(request)
            response = await answer_delivery(request, source)
        except Exception as exc:
            answer = self.error_response(exc)
            if answer is None:
                raise
            response = answer
        await response(scope, receive, send)


def fast_path_routes() -> dict[str, tuple[AlertSource, Any]]:
    """The intake routes, by path (for `IntakeFastPath`).

    Taken from this module's router, not from the app's route list: FastAPI (0.165) lists an
    included router as one entry without paths, so a search of ``app.routes`` found nothing and
    every alert silently went the slow way through FastAPI's router."""
    by_path = {getattr(r, "path", None): r for r in router.routes}
    return {s.path: (s, by_path[s.path]) for s in ALERT_SOURCES.values() if s.path in by_path}


_ANSWERS: dict[int | str, dict[str, Any]] = {201: {"model": IngestAnswer, "description": "an incident was opened"},
            202: {"model": IngestAnswer, "description": "joined, deduplicated or resolved"}}

# one route per registered alert source (`bot.intake.alert_source`)
for _source in ALERT_SOURCES.values():
    router.add_api_route(_source.path, _intake_route(_source), methods=["POST"], summary=_source.summary,
                         responses=_ANSWERS)
