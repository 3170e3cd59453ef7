"""The latency and error runbooks diagnose the incident's catalog service from its Prometheus series
(and its log): the stored diagnosis names the dependency, its trigger, and carries the figure's
numbers; the postmortem draws them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from svc_support import History, open_service_incident

from bot.db import transaction
from bot.incidents import get_incident
from bot.runtime import Runtime
from postmortems.service import draft_postmortem_full
from runbooks.executor import run_diagnose
from runbooks.loader import load_runbooks


@pytest.fixture
def service_runtime(runtime: Runtime, prometheus_history: History) -> Runtime:
    runtime.settings = dataclasses.replace(runtime.settings, prometheus_url=prometheus_history.url)
    return runtime


def test_the_builtin_latency_and_error_runbooks_read_the_series() -> None:
    steps = {rb.name: rb.runbook.steps[0].diagnose for rb in load_runbooks(None)}
    for name in ("latency-regression", "error-spike"):
        assert steps[name] is not None and steps[name].series, name


def test_runbook_diagnosis_names_the_dependency_and_keeps_the_figure(
    service_runtime: Runtime, prometheus_history: History, tmp_path: Path
) -> None:
    sc = prometheus_history.scenarios["two_dependencies"]
    incident_id = open_service_incident(service_runtime, sc)
    d = run_diagnose(service_runtime, incident_id, "", series=True)
    assert d["cause"] == "service" and d["culprit"] == {"kind": "dependency", "name": "feature-store"}
    assert d["trigger"]["service"] == "feature-store"
    figure = d["series_figure"]
    assert figure["series"][0]["culprit"] and figure["series"][0]["label"].startswith("feature-store/")
    with transaction(service_runtime.sessions) as s:
        from bot.incidents import record_diagnosis

        record_diagnosis(s, get_incident(s, incident_id), d)
    result = draft_postmortem_full(service_runtime, incident_id, "U042ALICE", tmp_path / "pm", None)
    assert any(p.name.endswith("-series.png") for p in result.figures)
    assert "dependency `feature-store`, in red" in result.markdown


def test_series_without_a_catalog_service_and_without_a_log_is_refused(
    service_runtime: Runtime, prometheus_history: History
) -> None:
    incident_id = open_service_incident(service_runtime, prometheus_history.scenarios["bad_config"], in_catalog=False)
    with pytest.raises(ValueError, match="no catalog service"):
        run_diagnose(service_runtime, incident_id, "", series=True)


def test_run_diagnosis_by_hand_reads_the_series_of_a_service_without_a_prediction_log(
    service_runtime: Runtime, prometheus_history: History
) -> None:
    """The "Run diagnosis" button and `/incident diagnose` read what the runbook reads: a service whose
    catalog entry names Prometheus series but no prediction log is diagnosed from its series (it
    was refused: "no prediction_log in the catalog"), and the figure goes with the diagnosis."""
    from runbooks.service import RunbookServiceError, run_diagnosis

    sc = prometheus_history.scenarios["two_dependencies"]
    incident_id = open_service_incident(service_runtime, sc)
    d = run_diagnosis(service_runtime, incident_id, "U042ALICE")
    assert d["cause"] == "service" and d["culprit"] == {"kind": "dependency", "name": "feature-store"}
    assert Path(d["series_figure"]["png"]).is_file()
    with transaction(service_runtime.sessions) as s:
        incident = get_incident(s, incident_id)
        assert incident.diagnosis is not None and incident.diagnosis["culprit"] == d["culprit"]
        assert incident.events[-1].kind == "diagnosis" and incident.events[-1].actor == "U042ALICE"

    # without a Prometheus to read, the same service has nothing to diagnose, and says why
    service_runtime.settings = dataclasses.replace(service_runtime.settings, prometheus_url=None)
    with pytest.raises(RunbookServiceError, match="no prediction_log in the catalog and no Prometheus is configured"):
        run_diagnosis(service_runtime, incident_id, "U042ALICE")
