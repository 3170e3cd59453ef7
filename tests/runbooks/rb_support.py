"""Helpers shared by the runbook tests: incidents with alerts, timelines, a fake Prometheus."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.catalog import Catalog, LoadedService, Service
from bot.config import Settings
from bot.db import transaction, utcnow
from bot.incidents import create_incident
from bot.models import Alert, AuditRecord, ChangeEvent, Incident, Mitigation, TimelineEvent
from bot.runtime import Runtime
from bot.wiring import create_runtime


class HasSessions(Protocol):
    """A `Runtime`, or anything else that carries the store's session factory."""

    sessions: sessionmaker[Session]


ALL_ACTIONS = ("rollback", "naive_model", "http")
OWNERS = "S0FRAUDOPS"  # the Slack user group the test services' escalations mention


def catalog_entry(service: str, model: str, log_path: str | None = None,
                  auto_approve: tuple[str, ...] = ALL_ACTIONS, **more: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": service, "model": {"registry": model, "serving_alias": "champion"},
                             "owners": {"slack": OWNERS}, "auto_approve": list(auto_approve), **more}
    if log_path:
        entry["prediction_log"] = log_path
    return entry


def write_catalog(path: Path, *entries: dict[str, Any]) -> str:
    """A catalog file (for processes that load it from settings, e.g. after a restart)."""
    path.write_text(yaml.safe_dump({"services": list(entries)}, sort_keys=False))
    return str(path)


def add_service(rt: Runtime, entry: dict[str, Any]) -> None:
    """Put (or replace) a service in the runtime's catalog, as if MLRESPONDER_CATALOG named it."""
    service = Service.model_validate(entry)
    kept = tuple(e for e in rt.catalog.entries if e.service.name != service.name)
    rt.catalog = Catalog((*kept, LoadedService(service, "<test>", len(kept))))


def open_incident(rt: Runtime, alertname: str, *, model: str, log_path: str | None = None,
                  started: datetime | None = None, service: str = "fraud-api",
                  annotations: dict[str, str] | None = None, in_catalog: bool = True,
                  auto_approve: tuple[str, ...] = ALL_ACTIONS, **catalog_keys: Any) -> int:
    """An incident of ``service``; unless ``in_catalog`` is False the service joins (or replaces its
    entry in) the runtime's catalog with ``model`` and ``log_path``. The alert names nothing."""
    started = started or utcnow() - timedelta(minutes=55)
    notes = dict(annotations or {})
    if in_catalog:
        add_service(rt, catalog_entry(service, model, log_path, auto_approve, **catalog_keys))
    labels = {"alertname": alertname, "service": service}
    with transaction(rt.sessions) as s:
        incident = create_incident(s, title=alertname, severity="sev2", service=service, source="test",
                                   actor="test", labels=labels, started_at=started,
                                   catalog_service=service if in_catalog else None)
        s.add(Alert(incident_id=incident.id, fingerprint=f"fp-{incident.id}", source="test", title=alertname,
                    severity="sev2", service=service, labels=labels, annotations=notes, starts_at=started))
        return incident.id


def record_deploy(rt: Runtime, model: str, at: datetime, from_version: str = "1", to_version: str = "2") -> None:
    with transaction(rt.sessions) as s:
        s.add(ChangeEvent(timestamp=at, kind="model_deploy", service=model, description=f"deploy {model}",
                          from_version=from_version, to_version=to_version, origin="api"))


def timeline(rt: HasSessions, incident_id: int) -> list[TimelineEvent]:
    with transaction(rt.sessions) as s:
        return list(s.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                              .order_by(TimelineEvent.id)))


def kinds(rt: HasSessions, incident_id: int) -> list[str]:
    return [e.kind for e in timeline(rt, incident_id)]


def events_of(rt: HasSessions, incident_id: int, kind: str) -> list[TimelineEvent]:
    return [e for e in timeline(rt, incident_id) if e.kind == kind]


def mitigations_of(rt: HasSessions, incident_id: int) -> list[Mitigation]:
    with transaction(rt.sessions) as s:
        return list(s.scalars(select(Mitigation).where(Mitigation.incident_id == incident_id)
                              .order_by(Mitigation.id)))


def incident_status(rt: HasSessions, incident_id: int) -> str:
    with transaction(rt.sessions) as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None
        return incident.status


def count(rt: HasSessions, model: Any, **where: Any) -> int:
    with transaction(rt.sessions) as s:
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return int(s.scalar(stmt) or 0)


def audit_count(rt: HasSessions, action: str, outcome: str = "ok") -> int:
    return count(rt, AuditRecord, action=action, outcome=outcome)


def shift_execution(rt: Runtime, mitigation_id: int, minutes: float) -> None:
    """Pretend the mitigation ran ``minutes`` ago (time passing, without sleeping in a test)."""
    with transaction(rt.sessions) as s:
        m = s.get(Mitigation, mitigation_id)
        assert m is not None and m.executed_at is not None
        m.executed_at = m.executed_at - timedelta(minutes=minutes)


class FakePrometheus:
    """Answers /api/v1/query_range like Prometheus, from a function of time (epoch seconds)."""

    def __init__(self, value_at: Callable[[float], float]) -> None:
        self.value_at = value_at
        self.queries: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                outer.queries.append(q)
                if url.path != "/api/v1/query_range":
                    self._send(404, {"status": "error", "errorType": "not_found", "error": url.path})
                    return
                start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
                values, t = [], start
                while t <= end:
                    values.append([t, str(outer.value_at(t))])
                    t += step
                self._send(200, {"status": "success", "data": {"resultType": "matrix", "result": [
                    {"metric": {"__name__": "latency"}, "values": values}] if values else []}})

            def _send(self, code: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def epoch(dt: datetime) -> float:
    return dt.astimezone(UTC).timestamp()


def make_runtime(settings: Settings) -> Runtime:
    """Store + scheduler (paused: jobs persist but only run when a test says so) + runbook engine."""
    from bot.wiring import install_runbooks, install_scheduler

    rt = create_runtime(settings, install_parts=False)
    install_scheduler(rt)
    install_runbooks(rt)
    return rt
