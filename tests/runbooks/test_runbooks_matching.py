"""Which runbook an incident gets: alertname, service, labels and annotations, exact or regex;
severity filters; the first match in file order wins."""

from __future__ import annotations

from pathlib import Path

from bot.models import Alert, Incident
from runbooks.engine import RunbookEngine, incident_matches
from runbooks.loader import load_runbooks

RUNBOOKS = {
    "a.yaml": """
name: a-fraud-critical
match:
  alertname: {regex: "Fraud.*Drop"}
  service: fraud-api
  labels: {team: risk, model: {regex: "fraud-v[0-9]+"}}
severity: sev2
steps: [{notify: {message: a}}]
""",
    "b.yaml": """
name: b-anything-with-a-log
match:
  annotations: {prediction_log: {regex: ".+"}}
severity: [sev3, sev4]
steps: [{notify: {message: b}}]
""",
}


def _incident(title: str, severity: str, service: str, labels: dict[str, str],
              annotations: dict[str, str] | None = None) -> Incident:
    from bot.db import utcnow

    incident = Incident(title=title, severity=severity, service=service, labels=dict(labels))
    incident.alerts = [Alert(fingerprint="f", source="t", title=title, severity=severity, service=service,
                             labels={"alertname": title, **labels}, annotations=annotations or {},
                             starts_at=utcnow())]
    return incident


def test_matching_rules(tmp_path: Path) -> None:
    for name, text in RUNBOOKS.items():
        (tmp_path / name).write_text(text)
    a, b = load_runbooks([tmp_path])
    fraud = {"team": "risk", "model": "fraud-v3"}
    assert incident_matches(a, _incident("FraudPrecisionDrop", "sev1", "fraud-api", fraud))
    assert incident_matches(a, _incident("FraudPrecisionDrop", "sev2", "fraud-api", fraud))
    assert not incident_matches(a, _incident("FraudPrecisionDrop", "sev3", "fraud-api", fraud))  # not severe
    assert not incident_matches(a, _incident("FraudPrecisionDropped", "sev1", "fraud-api", fraud))  # full match
    assert not incident_matches(a, _incident("FraudPrecisionDrop", "sev1", "other-api", fraud))
    assert not incident_matches(a, _incident("FraudPrecisionDrop", "sev1", "fraud-api",
                                             {"team": "risk", "model": "fraud-x"}))
    assert not incident_matches(a, _incident("FraudPrecisionDrop", "sev1", "fraud-api", {"model": "fraud-v3"}))
    assert incident_matches(b, _incident("Anything", "sev3", "svc", {}, {"prediction_log": "/x.csv"}))
    assert not incident_matches(b, _incident("Anything", "sev3", "svc", {}, {"prediction_log": ""}))
    assert not incident_matches(b, _incident("Anything", "sev2", "svc", {}, {"prediction_log": "/x.csv"}))

    engine = RunbookEngine(runtime=None, runbooks=[a, b])  # type: ignore[arg-type]
    both = _incident("FraudPrecisionDrop", "sev2", "fraud-api", fraud, {"prediction_log": "/x.csv"})
    assert engine.match_incident(both) is a
    assert engine.match_incident(_incident("Other", "sev1", "svc", {})) is None
