"""The HTTP API of docs/contracts.md: alert intake, change events, incidents, health and metrics.

Intake reads the raw body itself so that malformed JSON, wrong shapes and bad values all get
a 4xx naming the field, and each delivery is one transaction: stored whole or not at all.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.db import transaction
from bot.incidents import IncidentNotFound, get_incident, incident_to_dict, list_incidents, normalize_severity
from bot.intake import ALERT_SOURCES, IngestResult, IntakeError, ingest, parse_json, validation_message
from bot.metrics import ServiceMetrics
from bot.models import STATUSES, ChangeEvent
from bot.runtime import Runtime
from diagnostics.log import CHANGE_KINDS
from diagnostics.timeparse import parse_timestamp

log = logging.getLogger(__name__)

INGEST_RETRIES = 5


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: Any  # checked by parse_timestamp (pydantic would take true as 1)
    kind: str
    service: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1)
    from_version: str | None = Field(default=None, max_length=200)
    to_version: str | None = Field(default=None, max_length=200)


class BodyLimit:
    """Refuse bodies over the limit with 413, whether or not Content-Length is declared."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _too_large(self.max_bytes, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(self.max_bytes, send)


class RequestTiming:
    """Request latency by route, as plain ASGI: `@app.middleware("http")` costs a task and a stream
    per request, a fifth of the intake's CPU time."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.request_latency.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - start
            )


class _BodyTooLarge(Exception):
    pass


async def _too_large(limit: int, send: Send) -> None:
    body = f'{{"detail": "body: larger than {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "testserver"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(runtime: Runtime, *, bind_host: str = "127.0.0.1") -> FastAPI:
    settings = runtime.settings
    metrics = ServiceMetrics()
    app = FastAPI(
        title="mlresponder",
        version="0.1.0",
        description="Incident response for production ML systems.",
    )
    app.state.runtime = runtime
    app.state.metrics = metrics

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        orig = getattr(exc, "orig", None)
        log.error("incident store unavailable: %s", type(orig or exc).__name__)
        return JSONResponse({"detail": "incident store unavailable; retry later"}, status_code=503,
                            headers={"Retry-After": "5"})

    # Unreachable, dropped mid-request, or every pooled connection busy: the sender retries later.
    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(unavailable, _db_down)

    def require_token(request: Request) -> None:
        token = settings.api_token
        if not token:
            if not _is_loopback(bind_host):
                raise ApiError(401, "MLRESPONDER_API_TOKEN is not set: this server accepts alerts and "
                                    "changes only when bound to loopback")
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "authorization: a valid 'Bearer <token>' header is required")

    async def body_json(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            raise ApiError(400, "body: empty (expected a JSON object)")
        try:
            return parse_json(raw)
        except IntakeError as exc:
            raise ApiError(400, str(exc)) from None

    def ingest_delivery(source: str, data: Any) -> IngestResult:
        try:
            alerts = ALERT_SOURCES[source].parse(data)
        except IntakeError as exc:
            raise ApiError(422, str(exc)) from None
        for attempt in range(INGEST_RETRIES):
            try:
                with transaction(runtime.sessions) as session:
                    result = ingest(session, alerts, group_window_seconds=settings.group_window_seconds)
                break
            except IntegrityError:
                # Another delivery created the same key first: route again, now seeing its incident.
                if attempt == INGEST_RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        for a in alerts:
            metrics.alerts_received.labels(a.source, a.status).inc()
        for severity in result.opened_severities:
            metrics.incidents_opened.labels(severity).inc()
        if result.duplicates:
            metrics.dedup_hits.inc(result.duplicates)
        return result

    def _intake_route(source: str) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def handler(request: Request) -> JSONResponse:
            require_token(request)
            data = await body_json(request)
            from starlette.concurrency import run_in_threadpool

            result = await run_in_threadpool(ingest_delivery, source, data)
            return JSONResponse(result.to_dict(), status_code=202 if result.opened == 0 else 201)

        return handler

    for alert_source in ALERT_SOURCES.values():
        app.add_api_route(alert_source.path, _intake_route(alert_source.name), methods=["POST"],
                          summary=alert_source.summary, tags=["intake"])

    @app.post("/changes", tags=["changes"], status_code=201)
    async def post_change(request: Request) -> JSONResponse:
        require_token(request)
        data = await body_json(request)
        if not isinstance(data, dict):
            raise ApiError(422, f"body: expected a JSON object, got {type(data).__name__}")
        try:
            change = ChangeIn.model_validate(data)
        except ValidationError as exc:
            raise ApiError(422, validation_message(exc)) from None
        if change.kind not in CHANGE_KINDS:
            expected = ", ".join(CHANGE_KINDS)
            raise ApiError(422, f"kind: unknown change kind {change.kind!r} (expected one of {expected})")
        try:
            ts = parse_timestamp(change.timestamp, "timestamp")
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        from starlette.concurrency import run_in_threadpool

        def store() -> int:
            with transaction(runtime.sessions) as session:
                row = ChangeEvent(
                    timestamp=ts, kind=change.kind, service=change.service, description=change.description,
                    from_version=change.from_version, to_version=change.to_version, origin="api",
                )
                session.add(row)
                session.flush()
                return row.id

        change_id = await run_in_threadpool(store)
        metrics.changes_recorded.labels(change.kind).inc()
        return JSONResponse({"id": change_id}, status_code=201)

    @app.get("/incidents", tags=["incidents"])
    def get_incidents(
        status: str | None = None,
        service: str | None = None,
        severity: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        if status and status != "open" and status not in STATUSES:
            raise ApiError(422, f"status: unknown status {status!r} (expected open or one of {', '.join(STATUSES)})")
        if severity:
            try:
                normalize_severity(severity)
            except ValueError as exc:
                raise ApiError(422, str(exc)) from None
        since_dt: datetime | None = None
        if since:
            try:
                since_dt = parse_timestamp(since, "since")
            except ValueError as exc:
                raise ApiError(422, str(exc)) from None
        if not 1 <= limit <= 1000:
            raise ApiError(422, "limit: must be between 1 and 1000")
        with transaction(runtime.sessions) as session:
            rows = list_incidents(session, status=status, service=service, severity=severity, since=since_dt,
                                  limit=limit)
            return {"incidents": [incident_to_dict(session, i, full=False) for i in rows]}

    @app.get("/incidents/{ref}", tags=["incidents"])
    def get_one(ref: str) -> dict[str, Any]:
        with transaction(runtime.sessions) as session:
            try:
                incident = get_incident(session, ref)
            except IncidentNotFound as exc:
                raise ApiError(404, str(exc)) from None
            return incident_to_dict(session, incident)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError):
            return JSONResponse({"status": "degraded", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/metrics", tags=["ops"])
    def prom_metrics() -> Response:
        payload = generate_latest(metrics.registry)
        extra = runtime.parts.get(CollectorRegistry)
        if extra is not None:
            payload += generate_latest(extra)
        return Response(payload, media_type=CONTENT_TYPE_LATEST)

    for part in list(runtime.parts.values()):
        mount = getattr(part, "mount", None)
        if callable(mount):
            mount(app)

    app.add_middleware(RequestTiming, metrics=metrics)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # type: ignore[arg-type]
    return app
