"""One story across the draft: header, summary, mitigations and action items all read the same event log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from postmortems.drafter import draft

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def event(minutes: float, kind: str, message: str, actor: str = "mlresponder", **data: Any) -> dict[str, Any]:
    return {"at": iso(minutes), "kind": kind, "actor": actor, "message": message, "data": data}


def change(minutes: float, kind: str, description: str, **extra: Any) -> dict[str, Any]:
    data = {"kind": kind, "service": "scoring", "description": description, "origin": "api", **extra}
    return {"at": iso(minutes), "kind": "change", "actor": "api", "message": description, "data": data}


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "INC-7", "number": 7, "title": "p95 latency high", "status": "resolved", "severity": "sev2",
        "service": "scoring", "source": "alertmanager", "commander": "slack:UALICE01", "summary": "",
        "labels": {}, "created_at": iso(2), "started_at": iso(0), "acknowledged_at": iso(3),
        "mitigated_at": None, "resolved_at": iso(30), "alerts_resolved": True, "alerts_resolved_at": iso(25),
        "diagnosis": None, "alerts": [{"title": "p95 latency high", "status": "resolved", "severity": "sev2",
                                       "service": "scoring", "labels": {"alertname": "ScoringLatencyP95"},
                                       "annotations": {}, "fingerprint": "f", "starts_at": iso(0),
                                       "ends_at": iso(25), "deliveries": 1}],
        "timeline": [], "mitigations": [], "postmortem_path": None,
    }
    base.update(overrides)
    base["timeline"] = sorted(base["timeline"], key=lambda e: e["at"])
    return base


def section(md: str, title: str) -> str:
    start = md.index(title)
    nxt = md.find("\n## ", start + len(title))
    return md[start: nxt if nxt != -1 else None]


def latency_record() -> dict[str, Any]:
    diagnosis = {"cause": "service", "culprit": {"kind": "latency", "name": "latency_ms"}, "confidence": 0.9,
                 "onset": iso(0), "recommended_mitigation": "escalate_service",
                 "findings": [
                     {"cause": "service", "check": "latency", "subject": "latency_ms", "score": 0.9,
                      "severity": "critical", "evidence": "p95 31 -> 362 ms"},
                     {"cause": "data", "check": "feature_drift", "subject": "mean_radius", "score": 0.0,
                      "severity": "low", "evidence": "no drift (PSI 0.00)"},
                 ]}
    return record(diagnosis=diagnosis, timeline=[
        change(-0.1, "infra", "move pods to the small node pool"),
        event(2, "incident_opened", "INC-7 opened: p95 latency high", "alertmanager"),
        event(2.5, "diagnosis", "diagnosis: cause service", diagnosis=diagnosis),
        event(2.6, "escalation", "escalated to scoring-owner: p95 31 -> 362 ms", who=["scoring-owner"]),
        event(3, "status_changed", "INC-7 triggered → acknowledged", "slack:UALICE01", to="acknowledged"),
        event(3.5, "role_assigned", "operations lead: slack:UDAVE001", "slack:UALICE01", role="ops",
              to="slack:UDAVE001"),
        change(9, "infra", "move pods back to the large node pool"),
        event(10, "status_changed", "INC-7 acknowledged → mitigated", "scoring-owner", to="mitigated"),
        event(30, "status_changed", "INC-7 mitigated → resolved", "slack:UALICE01", to="resolved"),
    ])


def test_latency_draft_tells_one_story(tmp_path: Path) -> None:
    md = draft(latency_record(), tmp_path).markdown
    header, summary = section(md, "# Postmortem"), section(md, "## Summary")
    # no mitigated_at on the record: the header, the summary and the timings all use the move to mitigated
    assert "| Mitigated | 2026-11-20 10:10:00 UTC |" in header
    assert ("escalated to scoring-owner, then mitigated by an infra change on `scoring` (move pods back to the "
            "large node pool) after 8.0 min") in summary
    assert "| Time to mitigate | alert → mitigated | 8.0 min |" in md
    mitigations = section(md, "## Mitigations")
    assert "No mitigation was recorded" not in mitigations
    assert "| 2026-11-20 10:09:00 UTC | infra | scoring | move pods back to the large node pool |" in mitigations
    assert "Trigger: infra on `scoring`" in md and "move pods to the small node pool" in md
    items = section(md, "## Action items")
    assert "latency SLO alert" not in items  # it was detected by a p95 alert
    assert "Load-test each model version" not in items  # the trigger was not a model deploy
    assert ("| P1 | Roll infrastructure changes of `scoring` (node pools, resources) out gradually, with a latency "
            "check before all pods move |") in items
    # service follow-ups go to the operations lead, the rest to the commander: nobody is left TBD
    assert "| operations lead |" in items and "| incident commander |" in items and "TBD" not in items
    evidence = section(md, "### Evidence") if "### Evidence" in md else section(md, "## Root cause and trigger")
    assert "feature_drift" not in evidence and "| 0 |" not in evidence  # a check that scored 0 is not evidence


def naive_record(*, reverted: bool) -> dict[str, Any]:
    diagnosis = {"cause": "data", "culprit": {"kind": "feature", "name": "mean_smoothness"}, "confidence": 0.8,
                 "onset": iso(0), "recommended_mitigation": "naive_model",
                 "findings": [{"cause": "data", "check": "drift", "subject": "mean_smoothness", "score": 0.8,
                               "severity": "high", "evidence": "PSI 0.61"}]}
    mitigation = {"id": 4, "action": "naive_model", "target": "tumor-classifier",
                  "status": "reverted" if reverted else "verified", "approval": "required", "params": {},
                  "plan": {}, "approved_by": "slack:UALICE01", "approved_at": iso(4), "executed_at": iso(4.5),
                  "before": {"version": "1"}, "after": {"version": "3"}, "verification": None,
                  "reverted_at": iso(28) if reverted else None, "error": None}
    return record(title="Accuracy below 0.80", diagnosis=diagnosis, mitigations=[mitigation],
                  mitigated_at=iso(6), timeline=[event(2, "incident_opened", "opened", "alertmanager")])


def test_resolved_while_the_naive_fallback_serves_asks_to_restore_the_champion(tmp_path: Path) -> None:
    md = draft(naive_record(reverted=False), tmp_path).markdown
    items = section(md, "## Action items")
    first = items.split("\n")[4]
    assert first.startswith("| P1 | Restore the champion of `tumor-classifier`: fix the cause, then revert "
                            "mitigation 4 so the champion serves instead of the naive fallback |")
    assert "mitigated by a swap to the naive fallback model after 4.0 min" in section(md, "## Summary")
    assert "| Mitigated | 2026-11-20 10:06:00 UTC |" in md
    restored = draft(naive_record(reverted=True), tmp_path / "b").markdown
    assert "Restore the champion" not in restored
