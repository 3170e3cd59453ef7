"""`create_app`: the routers, the error handlers and the middleware, wired on one runtime."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot.api.intake_writer import STORE_DOWN, intake_writer
from bot.api.middleware import BodyLimit, RequestTiming
from bot.api.routes import changes, docs, incidents, intake, ops
from bot.api.routes.intake import IntakeFastPath, fast_path_routes
from bot.errors import MlresponderError
from bot.metrics import ServiceMetrics
from bot.redact import redact_text
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def refusal(exc: MlresponderError) -> JSONResponse:
    headers = {"Retry-After": "5"} if exc.status == 503 else None
    return JSONResponse({"detail": redact_text(exc.message)}, status_code=exc.status, headers=headers)


def store_down(exc: Exception) -> JSONResponse:
    orig = getattr(exc, "orig", None)
    log.error("incident store unavailable: %s", type(orig or exc).__name__)
    return JSONResponse({"detail": "incident store unavailable; retry later"}, status_code=503,
                        headers={"Retry-After": "5"})


def error_response(exc: Exception) -> JSONResponse | None:
    """The answer the app's exception handlers give ``exc``; None for an unexpected error (a 500)."""
    if isinstance(exc, MlresponderError):
        return refusal(exc)
    if isinstance(exc, STORE_DOWN):
        return store_down(exc)
    return None


def create_app(runtime: Runtime, *, bind_host: str = "127.0.0.1") -> FastAPI:
    """``bind_host`` is only reported: who may call is decided per request, by token or client address."""
    # FastAPI's own OpenTelemetry hooks off: mlresponder exports its metrics at /metrics, and the
    # hooks look for a configured provider on every request (a storm pays that per alert).
    app = FastAPI(title="mlresponder", version="0.1.0", description="Incident response for production ML systems.",
                  docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.runtime = runtime
    app.state.metrics = metrics = ServiceMetrics()
    app.state.bind_host = bind_host
    intake_writer(runtime).on_commit = metrics.intake_batch.observe

    @app.exception_handler(MlresponderError)
    async def _refused(_: Request, exc: MlresponderError) -> JSONResponse:
        return refusal(exc)

    @app.exception_handler(RequestValidationError)
    async def _bad_params(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(item) for item in err.get("loc", ())[1:]) or "request"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(parts)}, status_code=422)

    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        return store_down(exc)

    for unavailable in STORE_DOWN:
        app.add_exception_handler(unavailable, _db_down)

    for router in (intake.router, changes.router, incidents.router, ops.router, docs.router):
        app.include_router(router)

    for part in list(runtime.parts.values()):
        mount = getattr(part, "mount", None)
        if callable(mount):
            mount(app)

    app.add_middleware(IntakeFastPath, routes=fast_path_routes(), error_response=error_response)  # type: ignore[arg-type]
    app.add_middleware(RequestTiming, metrics=metrics)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes)  # type: ignore[arg-type]
    return app

