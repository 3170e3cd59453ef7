"""`POST` of each registered alert source (`/alerts/alertmanager`, `/alerts/grafana`, `/alerts`): each delivery
stored whole or not at all, answered once committed (`bot.api.intake_writer`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.api.deps import Writer, json_body
from bot.api.intake_writer import intake_writer
from bot.api.schemas import IngestAnswer, Problem
from bot.intake import ALERT_SOURCES, IngestResult, NormalizedAlert
from bot.metrics import ServiceMetrics
from bot.runtime import Runtime

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


def _intake_route(source: str) -> Callable[..., Awaitable[JSONResponse]]:
    parse = ALERT_SOURCES[source].parse

    # The request alone, no dependencies beyond the router's `Writer`: the route every alert of a
    # storm takes, where each dependency FastAPI solves is CPU spent per alert. Parsed on the event
    # loop (a bad body is answered without a thread), routed by the group-commit writer.
    async def handler(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        alerts = parse(await json_body(request))
        result = await intake_writer(runtime).submit(alerts)
        count_delivery(request.app.state.metrics, alerts, result)
        # `IngestAnswer` documents this shape; `IngestResult.to_dict` builds exactly it (validating
        # it again per delivery cost a pydantic round trip on every alert of a storm).
        return JSONResponse(result.to_dict(), status_code=202 if result.opened == 0 else 201)

    return handler


_ANSWERS: dict[int | str, dict[str, Any]] = {201: {"model": IngestAnswer, "description": "an incident was opened"},
            202: {"model": IngestAnswer, "description": "joined, deduplicated or resolved"}}

# one route per registered alert source (`bot.intake.alert_source`)
for _source in ALERT_SOURCES.values():
    router.add_api_route(_source.path, _intake_route(_source.name), methods=["POST"], summary=_source.summary,
                         responses=_ANSWERS)
