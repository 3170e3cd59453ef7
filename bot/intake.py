"""Alert intake: parse Alertmanager, Grafana and generic payloads, then route each alert to an incident.

Routing, in order: an open incident that already holds the fingerprint (deduplication), an
open incident of the same Alertmanager group, an open incident of the same service opened
within the grouping window; otherwise a new incident. A unique key per fingerprint
(`DedupKey`) makes "never a second incident" hold when the same payload races itself; on
PostgreSQL per-key advisory locks make the racers wait instead of failing and retrying.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import ColumnElement, Engine, Table, bindparam, func, literal, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, defer

from bot.catalog import Catalog
from bot.db import UTCDateTime, utcnow
from bot.errors import InvalidInput, MalformedBody
from bot.incidents import create_incident, log_event, normalize_severity
from bot.models import OPEN_STATUSES, STATUSES, Alert, DedupKey, Incident
from bot.textcheck import check_text, check_text_tree
from bot.timeparse import parse_optional_end, parse_timestamp


class IntakeError(InvalidInput):
    """A payload that cannot be accepted; the message names the field at fault."""


class MalformedPayload(IntakeError, MalformedBody):
    """The body is not JSON (or too deep, too large to parse): 400, not 422."""

    status = 400


# ---------------------------------------------------------------- payload shapes


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow")


class AMAlert(_Strict):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class AlertmanagerPayload(_Strict):
    version: str
    groupKey: str | None = None
    status: Literal["firing", "resolved"]
    receiver: str | None = None
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str | None = None
    alerts: list[AMAlert] = Field(min_length=1)


class GrafanaAlert(_Strict):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None
    dashboardURL: str | None = None
    panelURL: str | None = None
    valueString: str | None = None


class GrafanaPayload(_Strict):
    receiver: str | None = None
    status: Literal["firing", "resolved"]
    groupKey: str | None = None
    title: str | None = None
    message: str | None = None
    alerts: list[GrafanaAlert] = Field(min_length=1)


class GenericAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    source: str = Field(min_length=1, max_length=40)
    severity: str
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    # Checked by parse_timestamp, whose message names the field (pydantic would take true as 1).
    starts_at: Any
    fingerprint: str | None = Field(default=None, max_length=200)
    status: Literal["firing", "resolved"] = "firing"
    ends_at: Any = None


@dataclass(frozen=True)
class NormalizedAlert:
    fingerprint: str
    source: str
    status: str
    title: str
    severity: str
    service: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    group_key: str | None = None
    generator_url: str | None = None
    # Set by `ingest` when the catalog knows the service the labels select.
    catalog_service: str | None = None


@dataclass
class IngestResult:
    incidents: list[str] = field(default_factory=list)
    opened: int = 0
    joined: int = 0
    duplicates: int = 0
    resolved: int = 0
    ignored: int = 0
    # Severity of each incident this delivery opened (for the incidents-opened metric).
    opened_severities: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "incidents": self.incidents, "opened": self.opened, "joined": self.joined,
            "duplicates": self.duplicates, "resolved": self.resolved, "ignored": self.ignored,
        }


# ---------------------------------------------------------------- parsing


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"body: not UTF-8 JSON ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise MalformedPayload(f"body: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise MalformedPayload("body: JSON nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise MalformedPayload(f"body: JSON value out of range ({str(exc)[:80]})") from None


# Column widths of the store (bot/models.py): longer values are refused before the database sees them.
_LIMITS = {"fingerprint": 200, "source": 40, "title": 500, "service": 200, "group_key": 500,
           "generator_url": 2000}


def _checked(a: NormalizedAlert, where: str, fields: dict[str, str]) -> NormalizedAlert:
    """``a`` when every text in it fits the store; else an error naming the field as sent."""
    for name, limit in _LIMITS.items():
        value = getattr(a, name)
        if value is not None:
            check_text(value, f"{where}{fields.get(name, name)}", max_length=limit)
    # Labels and annotations are JSON of any length (the body limit bounds them): only NULs matter.
    check_text_tree(a.labels, f"{where}labels")
    check_text_tree(a.annotations, f"{where}annotations")
    return a


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ""
        for item in err["loc"]:
            loc += f"[{item}]" if isinstance(item, int) else (f".{item}" if loc else str(item))
        parts.append(f"{loc or 'body'}: {err['msg']}")
    return "; ".join(parts)


def _validate(model: type[BaseModel], data: Any) -> Any:
    if not isinstance(data, dict):
        raise IntakeError(f"body: expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise IntakeError(validation_message(exc)) from None


def _service_of(labels: dict[str, str]) -> str:
    for key in ("service", "app", "model", "job", "namespace"):
        if labels.get(key):
            return labels[key]
    return "unknown"


def _severity_of(labels: dict[str, str], field_name: str) -> str:
    raw = labels.get("severity")
    if raw is None or raw == "":
        return "sev3"
    try:
        return normalize_severity(raw, field_name)
    except ValueError as exc:
        raise IntakeError(str(exc)) from None


def _fingerprint(source: str, labels: dict[str, str], title: str) -> str:
    canon = json.dumps({"source": source, "labels": labels, "title": title}, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:32]


def _ts(value: Any, field_name: str) -> datetime:
    try:
        return parse_timestamp(value, field_name)
    except ValueError as exc:
        raise IntakeError(str(exc)) from None


def _end(value: Any, field_name: str) -> datetime | None:
    try:
        return parse_optional_end(value, field_name)
    except ValueError as exc:
        raise IntakeError(str(exc)) from None


def _from_webhook_alert(
    a: AMAlert | GrafanaAlert, i: int, *, source: str, title: str, annotations: dict[str, str],
    group_key: str | None,
) -> NormalizedAlert:
    """Alertmanager and Grafana alerts share one shape; field names in errors point into ``alerts[i]``."""
    labels = dict(a.labels)
    service_field = next((f"labels.{k}" for k in ("service", "app", "model", "job", "namespace") if labels.get(k)),
                         "labels.service")
    return _checked(NormalizedAlert(
        fingerprint=a.fingerprint or _fingerprint(source, labels, title),
        source=source,
        status=a.status,
        title=title[:500],
        severity=_severity_of(labels, f"alerts[{i}].labels.severity"),
        service=_service_of(labels),
        labels=labels,
        annotations=annotations,
        starts_at=_ts(a.startsAt, f"alerts[{i}].startsAt"),
        ends_at=_end(a.endsAt, f"alerts[{i}].endsAt"),
        group_key=group_key,
        generator_url=a.generatorURL,
    ), f"alerts[{i}].", {"service": service_field, "generator_url": "generatorURL",
                         "title": "annotations.summary"})


Parser = Callable[[Any], list["NormalizedAlert"]]


@dataclass(frozen=True)
class AlertSource:
    """One kind of alert sender: the route it posts to and the parser that normalizes its payload."""

    name: str
    path: str
    summary: str
    parse: Callable[[Any], list[NormalizedAlert]]


# name → source; the API serves one `POST` route per entry (`bot.api`), in this order.
ALERT_SOURCES: dict[str, AlertSource] = {}


def alert_source(name: str, path: str, summary: str) -> Callable[[Parser], Parser]:
    """Register a parser as an alert source (the one way to add one)."""

    def register(parse: Parser) -> Parser:
        if name in ALERT_SOURCES or any(s.path == path for s in ALERT_SOURCES.values()):
            raise ValueError(f"alert source {name!r} or its path {path!r} is already registered")
        ALERT_SOURCES[name] = AlertSource(name=name, path=path, summary=summary, parse=parse)
        return parse

    return register


@alert_source("alertmanager", "/alerts/alertmanager", "Prometheus Alertmanager webhook (version 4)")
def parse_alertmanager(data: Any) -> list[NormalizedAlert]:
    payload: AlertmanagerPayload = _validate(AlertmanagerPayload, data)
    if payload.version != "4":
        raise IntakeError(f"version: unsupported Alertmanager webhook version {payload.version[:20]!r} "
                          "(expected '4')")
    if payload.groupKey:
        check_text(payload.groupKey, "groupKey", max_length=_LIMITS["group_key"])
    return [
        _from_webhook_alert(
            a, i, source="alertmanager",
            title=a.annotations.get("summary") or a.labels.get("alertname") or "alert",
            annotations=dict(a.annotations), group_key=payload.groupKey,
        )
        for i, a in enumerate(payload.alerts)
    ]


@alert_source("grafana", "/alerts/grafana", "Grafana alerting webhook")
def parse_grafana(data: Any) -> list[NormalizedAlert]:
    payload: GrafanaPayload = _validate(GrafanaPayload, data)
    if payload.groupKey:
        check_text(payload.groupKey, "groupKey", max_length=_LIMITS["group_key"] - len("grafana:"))
    group_key = f"grafana:{payload.groupKey}" if payload.groupKey else None
    out = []
    for i, a in enumerate(payload.alerts):
        title = a.annotations.get("summary") or a.labels.get("alertname") or payload.title or "grafana alert"
        annotations = dict(a.annotations)
        for key in ("dashboardURL", "panelURL", "valueString"):
            if getattr(a, key):
                annotations.setdefault(key, str(getattr(a, key)))
        out.append(_from_webhook_alert(a, i, source="grafana", title=title, annotations=annotations,
                                       group_key=group_key))
    return out


@alert_source("generic", "/alerts", "Generic alert")
def parse_generic(data: Any) -> list[NormalizedAlert]:
    a: GenericAlert = _validate(GenericAlert, data)
    try:
        severity = normalize_severity(a.severity)
    except ValueError as exc:
        raise IntakeError(str(exc)) from None
    labels = dict(a.labels)
    service_field = next((f"labels.{k}" for k in ("service", "app", "model", "job", "namespace") if labels.get(k)),
                         "labels.service")
    return [
        _checked(NormalizedAlert(
            fingerprint=a.fingerprint or _fingerprint(a.source, labels, a.title),
            source=a.source,
            status=a.status,
            title=a.title,
            severity=severity,
            service=_service_of(labels),
            labels=labels,
            annotations=dict(a.annotations),
            starts_at=_ts(a.starts_at, "starts_at"),
            ends_at=_end(a.ends_at, "ends_at"),
        ), "", {"service": service_field})
    ]




# ---------------------------------------------------------------- routing


# The statements of the routing path, built once: building a SQLAlchemy statement costs several
# times more CPU than running it, and intake runs these for every delivery.
_LOCK_KEYS = text(
    # One round trip; unnest yields the ids in the (sorted) order given.
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
)
# Routing reads an incident's state, never its large documents (a diagnosis, a postmortem): they
# stay unloaded, not decoded for every alert that joins (loaded if anything asks for them).
_UNREAD = (defer(Incident.diagnosis), defer(Incident.postmortem_md), defer(Incident.labels), defer(Incident.summary))
_INCIDENT_FOR_KEY = (
    select(DedupKey, Incident)
    .join(Incident, Incident.id == DedupKey.incident_id)
    .where(DedupKey.key == bindparam("key"))
    .options(*_UNREAD)
)
_INCIDENTS_FOR_KEYS = (
    select(DedupKey, Incident)
    .join(Incident, Incident.id == DedupKey.incident_id)
    .where(DedupKey.key.in_(bindparam("keys", expanding=True)))
    .options(*_UNREAD)
)
# Open = not resolved (`OPEN_STATUSES`), said as one comparison: an IN list is an "expanding"
# parameter that SQLAlchemy rewrites into the SQL on every execution.
assert set(OPEN_STATUSES) == set(STATUSES) - {"resolved"}
_SERVICE_INCIDENT = (
    select(Incident)
    .where(Incident.service == bindparam("service"), Incident.status != "resolved",
           Incident.created_at >= bindparam("since", type_=UTCDateTime()))
    .order_by(Incident.id.desc())
    .limit(1)
    .options(*_UNREAD)
)
_LATEST_ALERT = (
    select(Alert)
    .where(Alert.incident_id == bindparam("incident_id"), Alert.fingerprint == bindparam("fingerprint"))
    .order_by(Alert.id.desc())
    .limit(1)
)
# The latest alert rows of several (incident, fingerprint) pairs, read at once: a superset (every
# fingerprint in every incident named), the caller keeps the pairs it asked for, the newest of each.
_ALERTS_FOR_PAIRS = (
    select(Alert)
    .where(Alert.incident_id.in_(bindparam("incident_ids", expanding=True)),
           Alert.fingerprint.in_(bindparam("fingerprints", expanding=True)))
    .order_by(Alert.id)
)
# Which of these fp keys name an open incident (a read: no lock, no row locked).
_OPEN_FP_KEYS = (
    select(DedupKey.key)
    .join(Incident, Incident.id == DedupKey.incident_id)
    .where(DedupKey.key.in_(bindparam("keys", expanding=True)), Incident.status != "resolved")
)
_alerts: Table = Alert.__table__  # type: ignore[assignment]
_keys: Table = DedupKey.__table__  # type: ignore[assignment]
_incidents: Table = Incident.__table__  # type: ignore[assignment]
_COUNT_RESEND = (
    update(_alerts)
    .where(
        _alerts.c.id == select(func.max(_alerts.c.id))
        .select_from(
            _alerts.join(_keys, (_keys.c.incident_id == _alerts.c.incident_id) & (_keys.c.key == bindparam("b_key")))
            .join(_incidents, _incidents.c.id == _alerts.c.incident_id)
        )
        .where(_alerts.c.fingerprint == bindparam("b_fingerprint"), _incidents.c.status != "resolved")
        .scalar_subquery(),
        _alerts.c.status == "firing",
    )
    .values(deliveries=_alerts.c.deliveries + 1, last_received_at=bindparam("b_now", type_=UTCDateTime()))
    .returning(_alerts.c.incident_id)
)


# The re-sends of a whole batch counted by one statement: the latest alert row of each fingerprint,
# in the open incident its fp key names, still firing. Returns the fingerprints it counted.
_COUNT_RESENDS = (
    update(_alerts)
    .where(
        _alerts.c.id.in_(
            select(func.max(_alerts.c.id))
            .select_from(
                _alerts.join(_keys, (_keys.c.incident_id == _alerts.c.incident_id)
                             & (_keys.c.key == literal("fp:") + _alerts.c.fingerprint))
                .join(_incidents, _incidents.c.id == _alerts.c.incident_id)
            )
            .where(_keys.c.key.in_(bindparam("b_keys", expanding=True)),
                   _alerts.c.fingerprint.in_(bindparam("b_fingerprints", expanding=True)),
                   _incidents.c.status != "resolved")
            .group_by(_alerts.c.fingerprint)
        ),
        _alerts.c.status == "firing",
    )
    .values(deliveries=_alerts.c.deliveries + 1, last_received_at=bindparam("b_now", type_=UTCDateTime()))
    .returning(_alerts.c.fingerprint, _alerts.c.incident_id)
)

def _lock_keys(session: Session, keys: list[str]) -> None:
    """On PostgreSQL, serialize deliveries that touch the same keys (sorted: no deadlocks)."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite transactions already begin IMMEDIATE: one writer at a time
    session.execute(_LOCK_KEYS, {"ids": _lock_ids(keys)})


_TRY_LOCK_KEYS = text(
    "SELECT bool_and(pg_try_advisory_xact_lock(k)) FROM unnest(CAST(:ids AS bigint[])) AS t(k)"
)


def _lock_ids(keys: list[str]) -> list[int]:
    return sorted({int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big", signed=True)
                   for k in keys})


def _try_lock_keys(session: Session, keys: list[str]) -> bool:
    """PostgreSQL: take these keys only if no other transaction holds one (never waits)."""
    return bool(session.execute(_TRY_LOCK_KEYS, {"ids": _lock_ids(keys)}).scalar())


class _Routing:
    """What routing one transaction has read and written, so that it reads the store without flushing.

    Autoflush would write the pending rows before each query, a flush per routed alert. Routing
    instead looks first at what it wrote itself (key rows, alert rows, the incidents it touched)
    and reads the rest from the store, which nobody else changes meanwhile (the keys are locked on
    PostgreSQL; SQLite has one writer). Also keeps strong references: the session's identity map
    holds rows only weakly, so a key read a moment ago would otherwise be selected again to be set.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.keys: dict[str, DedupKey | None] = {}
        self.incidents: dict[int, Incident] = {}
        self.alerts: dict[tuple[int, str], Alert] = {}


def _read_keys(state: _Routing, alerts: list[NormalizedAlert]) -> None:
    """The fp and group keys routing will look up, read in one query instead of one each."""
    keys = {f"fp:{a.fingerprint}" for a in alerts} | {f"group:{a.group_key}" for a in alerts if a.group_key}
    keys -= state.keys.keys()
    if not keys:
        return
    for row, incident in state.session.execute(_INCIDENTS_FOR_KEYS, {"keys": sorted(keys)}):
        keys.discard(row.key)
        if incident.status in OPEN_STATUSES:  # a key of a closed incident: `_open_incident_for_key` drops it
            state.keys[row.key] = row
            state.incidents[incident.id] = incident
    for key in keys:
        state.keys[key] = None


def _read_batch(state: _Routing, alerts: list[NormalizedAlert]) -> None:
    """What routing a whole batch will read, in two queries instead of two per delivery: the keys
    of every alert (`_read_keys`), and the latest alert row of each fingerprint whose key names an
    open incident (a re-send this process had not routed itself, a resolve). Nothing else changes
    these rows meanwhile (their keys are locked; SQLite has one writer), and what routing the batch
    writes it records in ``state`` as it goes, so later deliveries of the batch see it."""
    with state.session.no_autoflush:
        _read_keys(state, alerts)
        pairs: set[tuple[int, str]] = set()
        for a in alerts:
            row = state.keys.get(f"fp:{a.fingerprint}")
            if row is not None and row.incident_id in state.incidents:
                pairs.add((row.incident_id, a.fingerprint))
        if not pairs:
            return
        found = state.session.scalars(_ALERTS_FOR_PAIRS, {
            "incident_ids": sorted({i for i, _ in pairs}), "fingerprints": sorted({fp for _, fp in pairs}),
        }).all()
        for alert in found:  # in id order: the newest of each pair is kept
            if (alert.incident_id, alert.fingerprint) in pairs:
                state.alerts[(alert.incident_id, alert.fingerprint)] = alert


def _open_incident_for_key(state: _Routing, key: str) -> Incident | None:
    if key in state.keys:
        row = state.keys[key]
        if row is None:
            return None
        incident = state.incidents.get(row.incident_id)
        if incident is not None:
            return incident
    session = state.session
    found = session.execute(_INCIDENT_FOR_KEY, {"key": key}).first()
    if found is None:
        state.keys[key] = None
        return None
    row, incident = found
    if incident.status not in OPEN_STATUSES:
        session.delete(row)
        session.flush()
        state.keys[key] = None
        return None
    state.keys[key] = row
    state.incidents[incident.id] = incident
    return incident


def _set_key(state: _Routing, key: str, incident: Incident) -> None:
    row = state.keys[key] if key in state.keys else state.session.get(DedupKey, key)
    if row is None:
        row = DedupKey(key=key, incident_id=incident.id)
        state.session.add(row)
    elif row.incident_id != incident.id:
        row.incident_id = incident.id
    state.keys[key] = row


def _service_incident(session: Session, service: str, window_seconds: int) -> Incident | None:
    if service == "unknown" or window_seconds <= 0:
        return None
    since = utcnow() - timedelta(seconds=window_seconds)
    return session.scalars(_SERVICE_INCIDENT, {"service": service, "since": since}).first()


def _count_resend(session: Session, a: NormalizedAlert, now: datetime) -> int | None:
    """A re-send of an alert still firing in its open incident, counted in one statement.

    Most deliveries are these (Alertmanager repeats firing groups), so they skip the advisory
    locks and the ORM. Returns the incident id, or None when the alert needs full routing. Safe
    without the locks: it only counts, and a concurrent resolve makes its WHERE fail.
    """
    incident_id: int | None = session.connection().execute(_COUNT_RESEND, _resend_params(a, now)).scalar_one_or_none()
    return incident_id


def _resend_params(a: NormalizedAlert, now: datetime) -> dict[str, Any]:
    return {"b_key": f"fp:{a.fingerprint}", "b_fingerprint": a.fingerprint, "b_now": now}


def count_resends(engine: Engine, alerts: list[NormalizedAlert]) -> IngestResult | None:
    """A delivery of re-sends only (Alertmanager's steady state, most deliveries of a storm), counted
    in one transaction of plain statements, without an ORM session.

    Returns None, having changed nothing, unless every alert of the delivery is a firing re-send
    of an alert firing in its open incident: the caller then routes the delivery with `ingest`
    (``count_resends=False``: it has just been tried). Nothing here opens, joins or logs, so
    there is nothing for the event bus or the chat to hear of.
    """
    if not alerts or any(a.status != "firing" for a in alerts):
        return None
    result = IngestResult()
    now = utcnow()
    with engine.connect() as conn, conn.begin() as tx:
        for a in alerts:
            incident_id = conn.execute(_COUNT_RESEND, _resend_params(a, now)).scalar_one_or_none()
            if incident_id is None:
                tx.rollback()
                return None
            result.duplicates += 1
            if f"INC-{incident_id}" not in result.incidents:
                result.incidents.append(f"INC-{incident_id}")
    return result


class RecentFingerprints:
    """Fingerprints this process has routed lately, the newest `size` of them.

    Only a hint of which deliveries are re-sends, so that a new alert does not first pay for a
    re-send count that finds nothing: a miss (another replica's alert, one forgotten) is routed
    in full, which counts re-sends too, and a stale hit costs one statement that changes nothing.
    """

    def __init__(self, size: int = 65_536) -> None:
        self.size = size
        self._seen: dict[str, None] = {}
        self._lock = threading.Lock()

    def __contains__(self, fingerprint: object) -> bool:
        return fingerprint in self._seen

    def all_seen(self, alerts: list[NormalizedAlert]) -> bool:
        return bool(alerts) and all(a.fingerprint in self._seen for a in alerts)

    def add(self, alerts: list[NormalizedAlert]) -> None:
        with self._lock:
            for a in alerts:
                self._seen[a.fingerprint] = None
            while len(self._seen) > self.size:
                del self._seen[next(iter(self._seen))]


def _moves_start(a: NormalizedAlert, incident: Incident, group_window_seconds: int) -> bool:
    """A joining alert that fired earlier moves the incident's start back, but by no more than the
    grouping window: an alert firing for days (or a sender's wrong clock) joining later must not
    rewrite when the incident began."""
    earliest = incident.started_at - timedelta(seconds=max(group_window_seconds, 900))
    return earliest <= a.starts_at < incident.started_at


def ingest(session: Session, alerts: list[NormalizedAlert], *, group_window_seconds: int,
           catalog: Catalog | None = None, count_resends: bool = True) -> IngestResult:
    """Route every alert of one delivery; the caller commits (one transaction per delivery).

    The catalog only names the service an alert's labels select (the incident records it);
    nothing else of the alert becomes configuration. ``count_resends=False`` skips the one-statement
    count of re-sends (the caller has just tried `count_resends`); routing counts them as well.
    """
    result = IngestResult()
    now = utcnow()
    routed: list[NormalizedAlert] = []
    known = catalog or Catalog()
    alerts = [_with_catalog_service(a, known) for a in alerts]
    for a in alerts:
        incident_id = _count_resend(session, a, now) if count_resends and a.status == "firing" else None
        if incident_id is None:
            routed.append(a)
            continue
        _note_duplicate(result, incident_id)
    if not routed:
        return result
    _lock_keys(session, _routing_keys(routed))
    _route(session, routed, result, now, group_window_seconds)
    return result


class BatchContended(Exception):
    """A batch needs a key another transaction holds: route its deliveries one by one instead."""


def ingest_batch(session: Session, deliveries: list[list[NormalizedAlert]], *, group_window_seconds: int,
                 catalog: Catalog | None = None, seen: Callable[[str], bool] = lambda _: True) -> list[IngestResult]:
    """Route several deliveries in one transaction, in order, as `ingest` routes each alone.

    Group commit (`bot.api.intake_writer`): one transaction, one commit and one flush of the
    chat rows for every delivery that arrived while the previous batch committed. Re-sends
    (fingerprints ``seen`` routed before) are counted first, then everything else is routed; an
    alert is counted only when no earlier alert of its fingerprint in the batch was routed, so
    the order of a fingerprint's deliveries is kept.

    On PostgreSQL several replicas commit batches at once. Every advisory lock a batch needs is
    taken in one sorted statement before it changes any row: a batch never waits for a lock
    while holding a row another batch waits for (counting re-sends first and locking after, as
    a single delivery does, could deadlock two batches). A count that finds nothing needs the
    group and service keys of its alert too: taken without waiting, and when another
    transaction holds one, `BatchContended` is raised (the caller rolls back and routes the
    deliveries one by one).
    """
    now = utcnow()
    known = catalog or Catalog()
    batch = [[_with_catalog_service(a, known) for a in alerts] for alerts in deliveries]
    postgres = session.get_bind().dialect.name == "postgresql"
    locked: set[str] = set()
    if postgres:
        seen = _seen_in_store(session, batch, seen)
        # fp keys of every alert; group and service keys of those that will be routed in full.
        wanted = [f"fp:{a.fingerprint}" for alerts in batch for a in alerts]
        wanted += _routing_keys([a for alerts in batch for a in alerts
                                 if a.status != "firing" or not seen(a.fingerprint)])
        locked = set(wanted)
        _lock_keys(session, wanted)
    # Which alerts are re-send candidates: firing, seen, and no earlier alert of the fingerprint in
    # the batch is routed (a resolve, or one not seen). All of a fingerprint's candidates are counted
    # or none: the row a count finds firing stays so until something routed touches it.
    candidates: dict[str, int] = {}
    routed_before: set[str] = set()
    for alerts in batch:
        for a in alerts:
            if a.status == "firing" and a.fingerprint not in routed_before and seen(a.fingerprint):
                candidates[a.fingerprint] = candidates.get(a.fingerprint, 0) + 1
            else:
                routed_before.add(a.fingerprint)
    counted = _count_resends_of(session, candidates, now)
    results: list[IngestResult] = []
    plans: list[list[NormalizedAlert]] = []
    for alerts in batch:
        result = IngestResult()
        routed: list[NormalizedAlert] = []
        for a in alerts:
            incident_id = counted.get(a.fingerprint) if a.status == "firing" else None
            if incident_id is not None and a.fingerprint in candidates:
                candidates[a.fingerprint] -= 1
                if candidates[a.fingerprint] >= 0:
                    _note_duplicate(result, incident_id)
                    continue
            routed.append(a)
        results.append(result)
        plans.append(routed)
    if postgres:
        missing = [k for k in _routing_keys([a for routed in plans for a in routed]) if k not in locked]
        if missing and not _try_lock_keys(session, missing):
            raise BatchContended(f"{len(missing)} routing keys held elsewhere")
    state = _Routing(session)
    _read_batch(state, [a for routed in plans for a in routed])
    for result, routed in zip(results, plans, strict=True):
        if routed:
            _route(session, routed, result, now, group_window_seconds, state)
    return results


def _seen_in_store(session: Session, batch: list[list[NormalizedAlert]],
                   seen: Callable[[str], bool]) -> Callable[[str], bool]:
    """``seen``, and the firing fingerprints it misses whose key names an open incident in the store.

    The ``seen`` hint is this process's: with several replicas, a re-send of an alert another
    replica routed is not in it, and routing it in full locks its group and service keys, which
    the other replicas' batches of that service then wait for. One read (no lock taken) finds
    those in the store: they are counted as re-sends, under their fp key only. Only a hint still:
    a key that changes before the batch locks it makes the count find nothing, and the alert is
    routed in full, as any candidate the count does not find is (`ingest_batch`).
    """
    unseen = sorted({a.fingerprint for alerts in batch for a in alerts
                     if a.status == "firing" and not seen(a.fingerprint)})
    if not unseen:
        return seen
    stored = set(session.execute(_OPEN_FP_KEYS, {"keys": [f"fp:{fp}" for fp in unseen]}).scalars())
    if not stored:
        return seen
    return lambda fp: seen(fp) or f"fp:{fp}" in stored


def _count_resends_of(session: Session, counts: dict[str, int], now: datetime) -> dict[str, int]:
    """Count re-sends (fingerprint → how many in this batch) in one statement; the incident id of
    each fingerprint counted. A fingerprint sent more than once is counted again for each."""
    if not counts:
        return {}
    rows = session.connection().execute(_COUNT_RESENDS, {
        "b_keys": [f"fp:{fp}" for fp in counts], "b_fingerprints": list(counts), "b_now": now,
    }).all()
    found = {fp: incident_id for fp, incident_id in rows}
    for fp in found:
        for _ in range(counts[fp] - 1):
            session.connection().execute(_COUNT_RESEND, {"b_key": f"fp:{fp}", "b_fingerprint": fp, "b_now": now})
    return found


def _routing_keys(alerts: list[NormalizedAlert]) -> list[str]:
    """The advisory-lock keys routing these alerts may read or set."""
    keys = [f"fp:{a.fingerprint}" for a in alerts] + [f"group:{a.group_key}" for a in alerts if a.group_key]
    return keys + [f"service:{a.service}" for a in alerts]


def _note_duplicate(result: IngestResult, incident_id: int) -> None:
    result.duplicates += 1
    if f"INC-{incident_id}" not in result.incidents:
        result.incidents.append(f"INC-{incident_id}")


def _route(session: Session, routed: list[NormalizedAlert], result: IngestResult, now: datetime,
           group_window_seconds: int, state: _Routing | None = None) -> None:
    """Route alerts in full (their keys locked): dedup, group, service window, else a new incident.

    Without autoflush (see `_Routing`): the rows and events of a batch are written by the flush
    before the commit, not one flush per alert.
    """
    state = state or _Routing(session)
    with session.no_autoflush:
        _read_keys(state, routed)
        for a in routed:
            _route_one(state, a, result, now, group_window_seconds)


def _route_one(state: _Routing, a: NormalizedAlert, result: IngestResult, now: datetime,
               group_window_seconds: int) -> None:
    session = state.session
    fp_key = f"fp:{a.fingerprint}"
    incident = _open_incident_for_key(state, fp_key)
    if a.status == "resolved":
        _resolve(state, a, incident, result, now)
        return
    if incident is not None:
        _repeat(state, a, incident, result, now)
        return
    via = None
    if a.group_key:
        incident = _open_incident_for_key(state, f"group:{a.group_key}")
        via = "group"
    if incident is None:
        incident = _service_incident(session, a.service, group_window_seconds)
        via = "service"
    if incident is None:
        incident = create_incident(
            session, title=a.title, severity=a.severity, service=a.service, source=a.source,
            actor=a.source, labels=a.labels, started_at=a.starts_at, group_key=a.group_key,
            summary=a.annotations.get("description", ""), catalog_service=a.catalog_service,
        )
        result.opened += 1
        result.opened_severities.append(incident.severity)
        kind, message = "alert_fired", f"alert fired: {a.title}"
    else:
        result.joined += 1
        kind, message = "alert_joined", f"alert joined ({via}): {a.title}"
        if _moves_start(a, incident, group_window_seconds):
            incident.started_at = a.starts_at
        incident.alerts_resolved_at = None
    state.incidents[incident.id] = incident
    row = _alert_row(a, incident, now)
    session.add(row)
    state.alerts[(incident.id, a.fingerprint)] = row
    _set_key(state, fp_key, incident)
    if a.group_key:
        _set_key(state, f"group:{a.group_key}", incident)
    # A joined alert changes its rows and the timeline, not the incident (unless its start moves
    # or its alerts had all resolved, which the ORM writes as changes of their own).
    log_event(session, incident, kind, message, actor=a.source, data=_event_data(a), flush=False,
              touch=kind != "alert_joined")
    _note_ref(result, incident)


def _with_catalog_service(a: NormalizedAlert, catalog: Catalog) -> NormalizedAlert:
    """The alert routed under its catalog service's name, so alerts of one service group together.

    Matched on the labels, with ``service`` defaulting to the one intake derived (a monitor's alert
    carries its service that way).
    """
    service = catalog.match({"service": a.service, **a.labels})
    if service is None:
        return a
    return replace(a, service=service.name, catalog_service=service.name)


def _alert_row(a: NormalizedAlert, incident: Incident, now: datetime) -> Alert:
    return Alert(
        incident_id=incident.id, fingerprint=a.fingerprint, source=a.source, status="firing", title=a.title,
        severity=a.severity, service=a.service, labels=a.labels, annotations=a.annotations,
        group_key=a.group_key, generator_url=a.generator_url, starts_at=a.starts_at, ends_at=None,
        first_received_at=now, last_received_at=now, deliveries=1,
    )


def _event_data(a: NormalizedAlert) -> dict[str, Any]:
    return {
        "fingerprint": a.fingerprint, "severity": a.severity, "service": a.service, "labels": a.labels,
        "annotations": a.annotations, "starts_at": a.starts_at.isoformat(),
    }


def _latest_alert(state: _Routing, incident: Incident, fingerprint: str) -> Alert | None:
    row = state.alerts.get((incident.id, fingerprint))
    if row is None:
        row = state.session.scalars(_LATEST_ALERT, {"incident_id": incident.id, "fingerprint": fingerprint}).first()
        if row is not None:
            state.alerts[(incident.id, fingerprint)] = row
    return row


def _count_delivery(row: Alert, now: datetime) -> None:
    """One more delivery of this alert: in SQL for a stored row (re-sends counted without the locks
    race it), added to what this transaction already counted when it has not been flushed since."""
    current = row.__dict__.get("deliveries")
    if isinstance(current, ColumnElement):
        row.deliveries = current + 1  # type: ignore[assignment]
    elif sa_inspect(row).pending:
        row.deliveries = (current or 0) + 1
    else:
        row.deliveries = Alert.deliveries + 1  # type: ignore[assignment]
    row.last_received_at = now


def _repeat(state: _Routing, a: NormalizedAlert, incident: Incident, result: IngestResult, now: datetime) -> None:
    session = state.session
    row = _latest_alert(state, incident, a.fingerprint)
    result.duplicates += 1
    _note_ref(result, incident)
    if row is None:
        row = _alert_row(a, incident, now)
        session.add(row)
        state.alerts[(incident.id, a.fingerprint)] = row
        return
    _count_delivery(row, now)
    if row.status == "resolved":
        # It fired again while the incident is still open: same incident, and say so.
        row.status = "firing"
        row.ends_at = None
        incident.alerts_resolved_at = None
        log_event(session, incident, "alert_refired", f"alert fired again: {a.title}", actor=a.source,
                  data=_event_data(a), flush=False)


def _resolve(
    state: _Routing, a: NormalizedAlert, incident: Incident | None, result: IngestResult, now: datetime
) -> None:
    session = state.session
    row = _latest_alert(state, incident, a.fingerprint) if incident is not None else None
    if incident is None or row is None:
        result.ignored += 1  # never seen firing (or its incident is closed): nothing to attach it to
        return
    _note_ref(result, incident)
    if row.status == "resolved":
        result.duplicates += 1
        _count_delivery(row, now)
        return
    row.status = "resolved"
    row.ends_at = a.ends_at or now
    _count_delivery(row, now)
    result.resolved += 1
    log_event(session, incident, "alert_resolved", f"alert resolved: {a.title}", actor=a.source,
              data={"fingerprint": a.fingerprint, "ends_at": row.ends_at.isoformat()})
    still_firing = session.scalars(
        select(Alert.id).where(Alert.incident_id == incident.id, Alert.status == "firing").limit(1)
    ).first()
    if still_firing is None and incident.alerts_resolved_at is None:
        incident.alerts_resolved_at = now
        log_event(
            session, incident, "alerts_all_resolved",
            f"all alerts of {incident.ref} have resolved; a responder resolves the incident", actor="mlresponder",
        )


def _note_ref(result: IngestResult, incident: Incident) -> None:
    if incident.ref not in result.incidents:
        result.incidents.append(incident.ref)
