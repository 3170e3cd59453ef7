"""Recorded incidents for the postmortem tests, built with the incident store's own functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from bot.db import transaction, utcnow
from bot.incidents import (
    add_note,
    assign_commander,
    create_incident,
    get_incident,
    log_event,
    record_diagnosis,
    transition,
)
from bot.models import ChangeEvent, Mitigation, TimelineEvent
from bot.runtime import Runtime

SECRET = "xoxb-test-secret-token-1234"


@dataclass
class Story:
    """The times of a recorded incident, all UTC."""

    deploy: datetime
    onset: datetime
    alert: datetime
    ack: datetime
    rollback: datetime
    resolved: datetime


def story(now: datetime | None = None) -> Story:
    now = (now or utcnow()).replace(microsecond=0)
    return Story(
        deploy=now - timedelta(minutes=41),
        onset=now - timedelta(minutes=40),
        alert=now - timedelta(minutes=36),
        ack=now - timedelta(minutes=34),
        rollback=now - timedelta(minutes=25),
        resolved=now - timedelta(minutes=5),
    )


def model_diagnosis(s: Story) -> dict[str, Any]:
    return {
        "cause": "model",
        "culprit": {"kind": "model_version", "name": "v2"},
        "confidence": 0.91,
        "onset": s.onset.isoformat(),
        "recommended_mitigation": "rollback",
        "findings": [
            {"cause": "model", "check": "model_version_change", "subject": "v2", "score": 0.91,
             "severity": "high", "evidence": "accuracy fell from 0.95 under v1 to 0.71 under v2 at the deploy"},
            {"cause": "data", "check": "feature_drift", "subject": "mean_radius", "score": 0.12,
             "severity": "medium", "evidence": "mean_radius PSI 0.12, below the alert level"},
        ],
        "runtime_ms": 420.0,
    }


def feature_diagnosis(s: Story) -> dict[str, Any]:
    return {
        "cause": "data",
        "culprit": {"kind": "feature", "name": "mean_radius"},
        "confidence": 0.88,
        "onset": s.onset.isoformat(),
        "recommended_mitigation": "naive_model",
        "findings": [
            {"cause": "data", "check": "feature_null_rate", "subject": "mean_radius", "score": 0.6,
             "severity": "high", "evidence": "mean_radius is null in 60% of rows since the onset (0% before)"},
        ],
        "runtime_ms": 380.0,
    }


def write_log(path: Path, s: Story, *, broken_feature: bool = False) -> Path:
    """Ten-second traffic for two hours: v2 (worse) between deploy and rollback."""
    rng = np.random.default_rng(7)
    ts = pd.date_range(s.onset - timedelta(minutes=80), s.resolved, freq="10s", tz="UTC")
    n = len(ts)
    label = rng.integers(0, 2, n)
    bad = (ts >= pd.Timestamp(s.deploy)) & (ts < pd.Timestamp(s.rollback))
    correct = rng.random(n) < np.where(bad, 0.7, 0.95)
    score = np.where(correct == (label == 1), rng.uniform(0.55, 1.0, n), rng.uniform(0.0, 0.45, n))
    radius = rng.normal(14.0, 3.0, n)
    if broken_feature:
        radius = np.where(bad & (rng.random(n) < 0.6), np.nan, radius * np.where(bad, 1.8, 1.0))
    frame = pd.DataFrame({
        "timestamp": [t.isoformat() for t in ts],
        "model_version": np.where(bad, "v2", "v1"),
        "prediction": score.round(4),
        "label": label,
        "latency_ms": rng.gamma(4.0, 5.0, n).round(2),
        "error": (rng.random(n) < 0.01).astype(int),
        "mean_radius": radius,
        "region": rng.choice(["eu", "us", "apac"], n),
    })
    frame.to_csv(path, index=False)
    return path


def _retime(session: Any, incident_id: int, kind: str, at: datetime) -> None:
    event = session.scalars(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == kind)
        .order_by(TimelineEvent.id.desc())
    ).first()
    event.occurred_at = at


def record_incident(runtime: Runtime, s: Story, diagnosis: dict[str, Any], *,
                    action: str = "rollback", labels: dict[str, Any] | None = None,
                    resolve: bool = True, catalog_service: str | None = None) -> int:
    """A full incident: deploy, alert, ack, diagnosis, mitigation with verification, notes, resolution."""
    with transaction(runtime.sessions) as session:
        session.add(ChangeEvent(timestamp=s.deploy, kind="model_deploy", service="scoring",
                                description="deploy scoring model v2", from_version="v1", to_version="v2"))
        incident = create_incident(session, title="Accuracy of scoring dropped", severity="sev2",
                                   service="scoring", source="alertmanager", actor="alertmanager",
                                   labels=labels or {}, started_at=s.alert, catalog_service=catalog_service)
        incident.created_at = s.alert
        _retime(session, incident.id, "incident_opened", s.alert)
        assign_commander(session, incident, "U042ALICE", actor="U042ALICE")
        _retime(session, incident.id, "commander_assigned", s.ack)
        transition(session, incident, "acknowledged", actor="U042ALICE")
        incident.acknowledged_at = s.ack
        _retime(session, incident.id, "status_changed", s.ack)
        record_diagnosis(session, incident, diagnosis, actor="runbook:model-quality")
        _retime(session, incident.id, "diagnosis", s.ack + timedelta(minutes=1))
        add_note(session, incident, "Bob broke the pipeline with a careless deploy", actor="U077BOB")
        _retime(session, incident.id, "note", s.ack + timedelta(minutes=2))
        add_note(session, incident, f"paged the owner, token {SECRET} rotated", actor="U077BOB")
        _retime(session, incident.id, "note", s.ack + timedelta(minutes=3))
        mitigation = Mitigation(
            incident_id=incident.id, idempotency_key=f"{incident.id}:1:rollback", action=action,
            target="models:/scoring", status="verified", approval="required",
            approved_by="U099CAROL", approved_at=s.rollback - timedelta(minutes=1), executed_at=s.rollback,
            before={"alias": "champion", "version": "2"}, after={"alias": "champion", "version": "1"},
            verification={"recovered": True, "summary": "accuracy 0.71 → 0.95 within 5 min"},
        )
        session.add(mitigation)
        session.flush()
        log_event(session, incident, "mitigation_executed", f"{action} executed by U099CAROL",
                  actor="U099CAROL", at=s.rollback)
        session.add(ChangeEvent(timestamp=s.rollback, kind="model_deploy", service="scoring",
                                description="rollback to v1", from_version="v2", to_version="v1",
                                origin="mitigation", mitigation_id=mitigation.id))
        transition(session, incident, "mitigated", actor="U042ALICE")
        incident.mitigated_at = s.rollback + timedelta(minutes=1)
        _retime(session, incident.id, "status_changed", s.rollback + timedelta(minutes=1))
        incident_id = incident.id
    if resolve:
        with transaction(runtime.sessions) as session:
            incident = get_incident(session, incident_id)
            transition(session, incident, "resolved", actor="U042ALICE", note="fault of Bob, he should have known")
            incident.resolved_at = s.resolved
            _retime(session, incident.id, "status_changed", s.resolved)
    return incident_id
