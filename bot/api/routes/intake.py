"""`POST` of each registered alert source (`/alerts/alertmanager`, `/alerts/grafana`, `/alerts`): one delivery,
one transaction."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from bot.api.deps import Writer, json_body
from bot.api.schemas import IngestAnswer, Problem
from bot.db import transaction
from bot.intake import ALERT_SOURCES, IngestResult, RecentFingerprints, count_resends, ingest
from bot.metrics import ServiceMetrics
from bot.runtime import Runtime

INGEST_RETRIES = 5

router = APIRouter(tags=["intake"], dependencies=[Writer],
                   responses={400: {"model": Problem}, 401: {"model": Problem}, 422: {"model": Problem},
                              503: {"model": Problem}})


def ingest_delivery(runtime: Runtime, metrics: ServiceMetrics, source: str, data: object) -> IngestResult:
    alerts = ALERT_SOURCES[source].parse(data)
    # Most deliveries of a storm are re-sends: counted without an ORM session when that is all they are.
    recent = runtime.parts.setdefault(RecentFingerprints, RecentFingerprints())
    tried = recent.all_seen(alerts)
    result = count_resends(runtime.engine, alerts) if tried else None
    attempt = 0
    while result is None:
        try:
            with transaction(runtime.sessions) as session:
                result = ingest(session, alerts, group_window_seconds=runtime.settings.group_window_seconds,
                                catalog=runtime.catalog, count_resends=not tried)
        except IntegrityError:
            # Another delivery created the same key first: route again, now seeing its incident.
            attempt += 1
            if attempt == INGEST_RETRIES:
                raise
            time.sleep(0.01 * attempt)
    if not tried:
        recent.add(alerts)
    for a in alerts:
        metrics.alerts_received.labels(metrics.source_label(a.source), a.status).inc()
    for severity in result.opened_severities:
        metrics.incidents_opened.labels(severity).inc()
    if result.duplicates:
        metrics.dedup_hits.inc(result.duplicates)
    return result


def _intake_route(source: str) -> Callable[..., Awaitable[JSONResponse]]:
    # The request alone, no dependencies beyond the router's `Writer`: the route every alert of a
    # storm takes, where each dependency FastAPI solves is CPU spent per alert.
    async def handler(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        metrics: ServiceMetrics = request.app.state.metrics
        data = await json_body(request)
        result = await run_in_threadpool(ingest_delivery, runtime, metrics, source, data)
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
