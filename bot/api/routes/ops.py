"""`GET /healthz` (open: liveness for probes) and `GET /metrics` (behind the read token)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.api.deps import MetricsDep, Reader, RuntimeDep
from bot.api.schemas import Health
from bot.models import AuditRecord
from bot.runtime import Runtime
from bot.scheduler import Scheduler

log = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])


def store_state(runtime: Runtime) -> str:
    """"ok", "unreachable" or "read-only": a write that is rolled back proves the store takes writes
    (a read-only SQLite file or a PostgreSQL standby answers reads and fails every alert)."""
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError:
        return "unreachable"
    session = runtime.sessions()
    try:
        session.add(AuditRecord(actor="healthz", action="write_probe", subject="store"))
        session.flush()
    except SQLAlchemyError as exc:
        log.warning("healthz: the incident store refuses writes: %s", type(getattr(exc, "orig", exc)).__name__)
        return "read-only"
    finally:
        session.rollback()
        session.close()
    return "ok"


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}}, summary="Liveness")
def healthz(runtime: RuntimeDep) -> JSONResponse:
    state = store_state(runtime)
    if state != "ok":
        return JSONResponse({"status": "degraded", "database": state}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", dependencies=[Reader], summary="Prometheus metrics of mlresponder itself",
            response_class=Response)
def prom_metrics(runtime: RuntimeDep, metrics: MetricsDep) -> Response:
    payload = generate_latest(metrics.registry)
    extra = runtime.parts.get(CollectorRegistry)
    if extra is not None:
        payload += generate_latest(extra)
    scheduler = runtime.parts.get(Scheduler)  # mlresponder_scheduler_leader of this replica
    if scheduler is not None:
        payload += generate_latest(scheduler.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
