"""Running a monitor: claim the tick, read the windows, judge them, and raise or clear the alert.

One run is three steps. (1) Claim: insert the `MonitorRun` row for (monitor, tick) in its own
transaction; a replica that loses the insert race skips the tick. (2) Read and judge, outside
any store transaction (the source may be slow). (3) Publish, in one transaction: the breach (or
the unreadable source) goes through `bot.intake.ingest` exactly like an external alert, the
diagnosis is attached, alerts that cleared are resolved, and the run row is completed. A crash
before (3) leaves the row ``running``; after its lease another run may take the tick over, and
the next scheduled run of the monitor records a tick cut by its replica's death as interrupted.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import transaction, utcnow
from bot.monitors.checks import Evaluation, judge
from bot.monitors.gauges import window_metrics
from bot.monitors.loader import LoadedConfig
from bot.monitors.models import MonitorRun
from bot.monitors.schema import MonitorSpec, ScheduleSpec
from bot.monitors.sources import SourceError, Window, open_source, restrict
from diagnostics.reference import complete_reference

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.runtime import Runtime

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)
MAX_MISSED_RECORDED = 100
FINISHED = ("ok", "breach", "error")


class UnknownMonitor(KeyError):
    pass


@dataclass
class RunOutcome:
    monitor: str
    tick: datetime
    status: str  # ok | breach | error | skipped
    run_id: int | None = None
    incidents: list[str] = field(default_factory=list)
    diagnosis: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor, "tick": self.tick.isoformat(), "status": self.status, "run_id": self.run_id,
            "incidents": self.incidents, "diagnosis": self.diagnosis, "metrics": self.metrics, "error": self.error,
            "duration_ms": round(self.duration_ms, 1),
        }


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def tick_for(schedule: ScheduleSpec, now: datetime) -> datetime:
    """The schedule slot ``now`` belongs to: the same on every replica, whatever its clock jitter."""
    epoch = now.timestamp()
    if schedule.every is not None:
        step = float(schedule.every)
        return datetime.fromtimestamp(math.floor(epoch / step) * step, tz=UTC)
    return datetime.fromtimestamp(math.floor(epoch / 60.0) * 60.0, tz=UTC)


def fingerprint(monitor: str, kind: str, name: str) -> str:
    """Stable per monitor and culprit, so a breach that persists dedups into the same alert."""
    return "monitor-" + hashlib.sha256(f"{monitor}\x00{kind}\x00{name}".encode()).hexdigest()[:24]


@dataclass
class Judgement:
    status: str  # ok | breach | error
    window: Window
    evaluation: Evaluation | None = None
    diagnosis: dict[str, Any] | None = None
    error: str | None = None
    rows: int | None = None


class MonitorService:
    """The ``monitors`` part: the loaded configuration, the source engines, and runs."""

    def __init__(self, runtime: Runtime, config: LoadedConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.engines: dict[str, Engine] = {}
        self.replica = replica_id()

    def spec(self, name: str) -> MonitorSpec:
        try:
            return self.config.monitors[name]
        except KeyError:
            known = ", ".join(sorted(self.config.monitors)) or "none configured"
            raise UnknownMonitor(f"no monitor named {name!r} (known: {known})") from None

    def stop(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
        self.engines.clear()

    # ------------------------------------------------------------ one run

    def run(self, name: str, *, now: datetime | None = None, tick: datetime | None = None,
            trigger: str = "manual", publish: bool = True) -> RunOutcome:
        """Run ``name`` for slot ``tick`` over the window ending at ``now`` (both default to the wall clock).

        Skipped when another run (another replica, or a retry) holds the slot.
        """
        spec = self.spec(name)
        wall = utcnow()
        # A manual run's slot is the moment it was asked for; its window may end elsewhere (``now``).
        tick = tick or wall
        end = now or tick
        started = time.perf_counter()
        run_id = self._claim(spec, tick, trigger, wall) if publish else None
        if publish and run_id is None:
            return RunOutcome(name, tick, "skipped")
        judgement = self.judge(spec, end)
        duration = (time.perf_counter() - started) * 1000.0
        outcome = RunOutcome(
            name, tick, judgement.status, run_id=run_id, diagnosis=judgement.diagnosis,
            metrics=judgement.evaluation.metrics if judgement.evaluation else {}, error=judgement.error,
            duration_ms=duration,
        )
        if publish and run_id is not None:
            outcome.incidents = self._publish(spec, run_id, judgement, duration)
        return outcome

    def judge(self, spec: MonitorSpec, end: datetime) -> Judgement:
        """Read the reference and current windows ending at ``end`` and judge them (no store writes).

        One read per window: the database counts its rows, then sends the rows the diagnostics
        engine judges — all of them up to ``max_rows`` per window, beyond that the same random
        share of both windows, drawn by the database, so memory stays bounded and rates stay
        comparable. The gauges are computed from those same rows (`bot.monitors.gauges`).
        """
        window = Window(end - timedelta(seconds=spec.window), end)
        t0 = time.perf_counter()
        try:
            source = open_source(spec.source, self.engines)
            layout = source.probe(spec.task)
            if spec.reference.source is not None:
                ref_source = open_source(spec.reference.source, self.engines)
                ref_layout = restrict(ref_source.probe(layout.task, need_timestamp=False), layout)
                ref_window, ref_minutes = None, None
            else:
                ref_source, ref_layout = source, layout
                ref_window = self._reference_window(spec, window)
                ref_minutes = ref_window.minutes
            if spec.source.mode == "aggregate":
                rows = source.count(layout, window)
                _require_rows(spec, source.description, window, rows)
                ref_rows = ref_source.count(ref_layout, ref_window)
                fraction = min(1.0, spec.max_rows / max(rows, ref_rows, 1))
                cur_frame = source.frame(layout, window, fraction)
                ref_frame = ref_source.frame(ref_layout, ref_window, fraction)
            else:  # load: every row, counted once fetched (the baseline)
                fraction = 1.0
                cur_frame = source.frame(layout, window)
                rows = len(cur_frame)
                _require_rows(spec, source.description, window, rows)
                ref_frame = ref_source.frame(ref_layout, ref_window)
                ref_rows = len(ref_frame)
            cur_frame = _engine_frame(cur_frame, layout.timestamp)
            ref_frame = _engine_frame(ref_frame, ref_layout.timestamp)
            if ref_window is None:
                ref_frame = _timeless_reference(ref_frame, cur_frame, window)
            cur_log = self._rows(spec, source, cur_frame, fraction, "window")
            ref_log = self._rows(spec, ref_source, ref_frame, fraction, "reference")
            if ref_window is None:
                ref_log = complete_reference(ref_log, cur_log)
            metrics = window_metrics(spec.checks, layout.task, ref_log, cur_log, rows=rows, reference_rows=ref_rows,
                                     current_minutes=window.minutes, reference_minutes=ref_minutes)
            result = judge(spec, cur_log, ref_log, window.start.timestamp())
        except SourceError as exc:
            return Judgement("error", window, error=str(exc))
        except Exception as exc:  # a bug or an unexpected source failure must not look like a quiet run
            log.exception("monitor %s failed", spec.name)
            return Judgement("error", window, error=f"monitor failed: {type(exc).__name__}: {str(exc)[:300]}")
        metrics.update(judged_rows=len(cur_log), judged_reference_rows=len(ref_log), sample_fraction=fraction,
                       cause=result.cause)
        diagnosis = result.to_dict()
        diagnosis["runtime_ms"] = round((time.perf_counter() - t0) * 1000.0, 1)
        ev = Evaluation(metrics=metrics, diagnosis=result)
        return Judgement("breach" if ev.breached else "ok", window, ev, diagnosis, rows=rows)

    @staticmethod
    def _reference_window(spec: MonitorSpec, window: Window) -> Window:
        trailing = timedelta(seconds=float(spec.reference.trailing or 0))
        return Window(window.start - trailing, window.start)

    @staticmethod
    def _rows(spec: MonitorSpec, source: Any, frame: Any, fraction: float, what: str) -> Any:
        """The rows of one window as a diagnostics `PredictionLog` (sampled at ``fraction``)."""
        from diagnostics.loader import LogError, frame_to_log

        if frame.empty:
            raise SourceError(f"{source.description}: no rows in the {what} to judge")
        try:
            rows = frame_to_log(frame, name=f"{spec.name} {what}")
        except LogError as exc:
            raise SourceError(f"{source.description}: {exc}") from None
        rows.sample_fraction = fraction
        return rows

    # ------------------------------------------------------------ claiming

    def _claim(self, spec: MonitorSpec, tick: datetime, trigger: str, now: datetime) -> int | None:
        try:
            with transaction(self.runtime.sessions) as session:
                row = MonitorRun(monitor=spec.name, tick=tick, trigger=trigger, status="running",
                                 replica=self.replica, started_at=now, metrics={}, firing=[], incidents=[])
                session.add(row)
                session.flush()
                if trigger == "schedule":
                    self._settle_interrupted(session, spec, tick)
                    self._record_missed(session, spec, tick)
                return row.id
        except IntegrityError:
            pass
        # The tick is taken. Take it over only if its run died (still "running" past the lease).
        with transaction(self.runtime.sessions) as session:
            result = session.execute(
                update(MonitorRun)
                .where(MonitorRun.monitor == spec.name, MonitorRun.tick == tick, MonitorRun.status == "running",
                       MonitorRun.started_at < now - LEASE)
                .values(replica=self.replica, started_at=now, trigger="catch_up")
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return session.scalar(select(MonitorRun.id).where(MonitorRun.monitor == spec.name,
                                                              MonitorRun.tick == tick))

    def _settle_interrupted(self, session: Session, spec: MonitorSpec, tick: datetime) -> None:
        """Earlier scheduled ticks another replica left ``running``: it led the scheduler and is gone.

        Only the scheduler leader runs scheduled ticks, and this replica leads now, so such a run
        was cut by its replica's death (APScheduler does not run a started job again). It is
        recorded as interrupted, its window covered by this run, rather than left running forever.
        """
        session.execute(
            update(MonitorRun)
            .where(MonitorRun.monitor == spec.name, MonitorRun.tick < tick, MonitorRun.status == "running",
                   MonitorRun.trigger.in_(("schedule", "catch_up")), MonitorRun.replica != self.replica)
            .values(status="missed", finished_at=utcnow(),
                    error=f"interrupted: the replica running this tick stopped before finishing (the scheduler "
                          f"moved to another replica); its window is covered by the run at {tick.isoformat()}")
        )

    def _record_missed(self, session: Session, spec: MonitorSpec, tick: datetime) -> None:
        """Slots skipped while nothing ran (downtime, an overrunning run) are recorded, never silent."""
        if spec.schedule.every is None:
            return
        last = session.scalar(
            select(MonitorRun.tick).where(MonitorRun.monitor == spec.name, MonitorRun.tick < tick,
                                          MonitorRun.trigger != "manual")
            .order_by(MonitorRun.tick.desc()).limit(1)
        )
        if last is None:
            return
        step = timedelta(seconds=float(spec.schedule.every))
        slot = last + step
        recorded = 0
        while slot < tick and recorded < MAX_MISSED_RECORDED:
            try:
                with session.begin_nested():
                    session.add(MonitorRun(
                        monitor=spec.name, tick=slot, trigger="schedule", status="missed", replica=self.replica,
                        started_at=utcnow(), finished_at=utcnow(), metrics={}, firing=[], incidents=[],
                        error=f"no run at this slot (scheduler down or previous run overran); "
                              f"coalesced into the run at {tick.isoformat()}",
                    ))
            except IntegrityError:
                pass
            slot += step
            recorded += 1

    # ------------------------------------------------------------ publishing

    def _publish(self, spec: MonitorSpec, run_id: int, judgement: Judgement, duration_ms: float) -> list[str]:
        from bot.incidents import get_incident, log_event, record_diagnosis
        from bot.intake import NormalizedAlert, ingest

        now = utcnow()
        with transaction(self.runtime.sessions) as session:
            previous = session.scalar(
                select(MonitorRun.firing).where(MonitorRun.monitor == spec.name, MonitorRun.id != run_id,
                                                MonitorRun.status.in_(FINISHED))
                .order_by(MonitorRun.finished_at.desc(), MonitorRun.id.desc()).limit(1)
            ) or []
            alerts: list[NormalizedAlert] = []
            firing: list[str] = []
            new_alert = _alert_for(spec, judgement, now)
            if new_alert is not None:
                alerts.append(new_alert)
                firing.append(new_alert.fingerprint)
            if judgement.status == "error":
                # Not being able to look is not a recovery: earlier breaches stay firing.
                firing += [fp for fp in previous if fp not in firing]
            for fp in previous:
                if fp not in firing:
                    alerts.append(NormalizedAlert(
                        fingerprint=fp, source="monitor", status="resolved", title=f"{spec.name}: back to normal",
                        severity=spec.severity, service=spec.service, labels={"alertname": spec.name},
                        annotations={}, starts_at=now, ends_at=now,
                    ))
            refs: list[str] = []
            if alerts:
                result = ingest(session, alerts, group_window_seconds=self.runtime.settings.group_window_seconds,
                                catalog=self.runtime.catalog)
                refs = list(result.incidents)
                if new_alert is not None and (result.opened or result.joined):
                    incident = get_incident(session, refs[0])
                    if judgement.status == "breach" and judgement.diagnosis is not None:
                        record_diagnosis(session, incident, judgement.diagnosis, actor=f"monitor:{spec.name}")
                    elif judgement.status == "error":
                        log_event(session, incident, "monitor_error", f"monitor {spec.name}: {judgement.error}",
                                  actor=f"monitor:{spec.name}", data={"monitor": spec.name})
            row = session.get(MonitorRun, run_id)
            assert row is not None
            row.status = judgement.status
            row.finished_at = utcnow()
            row.duration_ms = duration_ms
            row.rows = judgement.rows
            row.window_start, row.window_end = judgement.window.start, judgement.window.end
            row.metrics = judgement.evaluation.metrics if judgement.evaluation else {}
            row.diagnosis = judgement.diagnosis
            row.firing = firing
            row.incidents = refs
            row.error = judgement.error
        return refs


def _engine_frame(frame: Any, timestamp: str) -> Any:
    """Timestamps as aware datetimes under the contract's column name, whatever the source stored."""
    import pandas as pd

    from bot.monitors.layout import epoch_seconds

    if timestamp in frame.columns:
        stamps = pd.to_datetime(epoch_seconds(frame[timestamp]), unit="s", utc=True)
        frame = frame.drop(columns=[timestamp]).assign(timestamp=stamps)
    return frame


def _timeless_reference(reference: Any, current: Any, window: Window) -> Any:
    """A training set as a reference: it has features (maybe labels) but no time, predictions or versions.

    Its rows are laid out just before the window at the window's own rate, so the traffic checks
    compare nothing (they need a trailing reference); a missing prediction column is empty (typed
    like the window's by `diagnostics.reference.complete_reference`) and the version is the window's main one.
    """
    import numpy as np
    import pandas as pd

    out = reference.copy()
    n = len(out)
    if "timestamp" not in out.columns or out["timestamp"].isna().all():
        span = max(window.minutes * 60.0 * n / max(len(current), 1), 1.0)
        start = window.start.timestamp() - span
        out["timestamp"] = pd.to_datetime(start + np.arange(n) * (span / max(n, 1)), unit="s", utc=True)
    if "model_version" not in out.columns:  # the window's main version: a training set announces no version
        versions = current["model_version"].dropna() if "model_version" in current else None
        out["model_version"] = versions.mode().iloc[0] if versions is not None and len(versions) else "reference"
    if "prediction" not in out.columns:
        numeric = pd.api.types.is_numeric_dtype(current["prediction"].dtype) if "prediction" in current else False
        out["prediction"] = np.full(n, np.nan) if numeric else np.full(n, None, dtype=object)
    return out


def _require_rows(spec: MonitorSpec, description: str, window: Window, rows: int) -> None:
    if rows < spec.min_rows:
        raise SourceError(
            f"{description} returned {rows} rows for the window {window.start.isoformat()} .. "
            f"{window.end.isoformat()} (expected at least {spec.min_rows}); the pipeline that writes the "
            "prediction log may be broken")


def _alert_for(spec: MonitorSpec, judgement: Judgement, now: datetime) -> Any:
    from bot.intake import NormalizedAlert

    labels = {**spec.labels, "alertname": spec.name, "service": spec.service, "severity": spec.severity,
              "monitor": spec.name}
    if judgement.status == "error":
        title = f"Monitor {spec.name} cannot read its source"
        return NormalizedAlert(
            fingerprint=fingerprint(spec.name, "source", ""), source="monitor", status="firing", title=title,
            severity=spec.severity, service=spec.service, labels={**labels, "culprit": "source"},
            annotations={"summary": title, "description": judgement.error or ""}, starts_at=now,
        )
    if judgement.status != "breach" or judgement.diagnosis is None:
        return None
    diagnosis = judgement.diagnosis
    culprit = diagnosis.get("culprit") or {}
    findings = diagnosis.get("findings") or [{}]
    top = findings[0]
    title = f"Monitor {spec.name}: {diagnosis.get('cause')} — {top.get('check')} on {top.get('subject')}"
    description = " ".join(str(f.get("evidence", "")) for f in findings[:4])
    return NormalizedAlert(
        fingerprint=fingerprint(spec.name, str(culprit.get("kind")), str(culprit.get("name"))), source="monitor",
        status="firing", title=title[:500], severity=spec.severity, service=spec.service,
        labels={**labels, "culprit_kind": str(culprit.get("kind")), "culprit": str(culprit.get("name"))},
        annotations={"summary": title[:500], "description": description},
        starts_at=judgement.window.start,
    )


# ---------------------------------------------------------------- scheduler entry points


def scheduled_run(name: str) -> None:
    """APScheduler job: run ``name`` for the current slot (module-level so the job store can keep it)."""
    from bot.scheduler import current_runtime

    runtime = current_runtime()
    service: MonitorService | None = runtime.parts.get(MonitorService)
    if service is None or name not in service.config.monitors:
        log.warning("scheduled monitor %s is not configured any more; skipping", name)
        return
    spec = service.spec(name)
    now = utcnow()
    tick = tick_for(spec.schedule, now)
    outcome = service.run(name, now=tick, tick=tick, trigger="schedule")
    log.info("monitor %s tick %s: %s", name, outcome.tick.isoformat(), outcome.status)


def history(session: Session, name: str, limit: int = 20) -> list[MonitorRun]:
    stmt = select(MonitorRun).where(MonitorRun.monitor == name).order_by(MonitorRun.tick.desc()).limit(limit)
    return list(session.scalars(stmt))


def last_runs(session: Session, statuses: tuple[str, ...] = FINISHED) -> dict[str, MonitorRun]:
    """The latest run of every monitor among runs with one of ``statuses``."""
    from sqlalchemy import func

    latest = select(func.max(MonitorRun.id)).where(MonitorRun.status.in_(statuses)).group_by(MonitorRun.monitor)
    return {row.monitor: row for row in session.scalars(select(MonitorRun).where(MonitorRun.id.in_(latest)))}
