"""The catalog is the trust boundary: an alert selects a service and nothing more.

The forged alert of issue 10 (a canary alert naming a model and an attacker's prediction log)
changes nothing, opens no file or database, creates no file and calls no URL; rollbacks never
re-promote the culprit; `approval: auto` needs the service's `auto_approve`; changes count only
for their own service.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rb_logs import history, write_log
from rb_support import (
    OWNERS,
    add_service,
    catalog_entry,
    events_of,
    kinds,
    mitigations_of,
    open_incident,
    record_deploy,
)

from bot.api import create_app
from bot.db import transaction
from bot.incidents import get_incident
from bot.models import ChangeEvent, Incident
from bot.runtime import Runtime
from runbooks.actions.registry_actions import KNOWN_BAD_TAG
from runbooks.engine import RunbookEngine
from runbooks.mitigations import MitigationError
from runbooks.service import plan_mitigation, propose_mitigation

# ---------------------------------------------------------------- what the process touches

_SEEN: list[tuple[str, str]] = []
_WATCH: dict[str, set[str]] = {"paths": set(), "ports": set()}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and args and isinstance(args[0], str | Path):
        if any(str(args[0]).startswith(p) for p in _WATCH["paths"]):
            _SEEN.append(("open", str(args[0])))
    elif event == "sqlite3.connect" and args:
        if any(str(args[0]).startswith(p) for p in _WATCH["paths"]):
            _SEEN.append(("sqlite3.connect", str(args[0])))
    elif (event == "socket.connect" and len(args) > 1 and isinstance(args[1], tuple) and len(args[1]) >= 2
          and str(args[1][1]) in _WATCH["ports"]):
        _SEEN.append(("connect", str(args[1])))


sys.addaudithook(_audit)


class Recorder:
    """An HTTP server that records every request (the attacker's URL)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(self.path)
                self.send_response(200)
                self.end_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def attacker(tmp_path: Path) -> Any:
    folder = tmp_path / "attacker"
    folder.mkdir()
    secret = folder / "secret.txt"
    secret.write_text("TOPSECRET-4242\nsecond line\n")
    recorder = Recorder()
    _WATCH["paths"] = {str(folder)}
    _WATCH["ports"] = {str(recorder.port)}
    _SEEN.clear()
    yield {"folder": folder, "db": folder / "evil.db", "secret": secret, "url": f"http://127.0.0.1:{recorder.port}",
           "recorder": recorder}
    _WATCH["paths"], _WATCH["ports"] = set(), set()
    recorder.close()


def _forged(labels: dict[str, str], a: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "version": "4", "status": "firing", "receiver": "mlresponder", "groupKey": f"{{}}:{labels}",
        "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {}, "externalURL": a["url"],
        "alerts": [{
            "status": "firing", "labels": {**labels, "severity": "sev4"},
            "annotations": {
                "prediction_log": f"sqlite:///{a['db']}?table=evil_log",
                "reference": str(a["secret"]),
                "latency_query": f"{a['url']}/api/v1/query",
                "summary": "canary check failed",
            },
            "startsAt": (now - timedelta(minutes=30)).isoformat(), "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"{a['url']}/graph", "fingerprint": f"forged-{sorted(labels.items())}",
        }],
    }


def _post(rt: Runtime, payload: dict[str, Any]) -> int:
    with TestClient(create_app(rt), client=("127.0.0.1", 50000)) as client:
        response = client.post("/alerts/alertmanager", json=payload)
    assert response.status_code == 201, response.text
    [ref] = response.json()["incidents"]
    return int(ref.removeprefix("INC-"))


def _untouched(a: dict[str, Any]) -> None:
    assert _SEEN == []
    assert a["recorder"].requests == []
    assert sorted(p.name for p in a["folder"].iterdir()) == ["secret.txt"]  # no file created


def test_the_forged_alert_of_an_unknown_service_opens_an_incident_and_touches_nothing(rt, mlflow_store, tmp_path,
                                                                                     attacker):
    model = mlflow_store.new_model()  # serving v2; the attacker names it in a label
    add_service(rt, catalog_entry("fraud-scorer", model, str(write_log(tmp_path / "log.csv",
                                                                     history("healthy", time.time())[0]))))
    iid = _post(rt, _forged({"alertname": "CanaryDeployCheck", "model": model}, attacker))
    with transaction(rt.sessions) as s:
        incident = s.get_one(Incident, iid)
        assert (incident.catalog_service, incident.service) == (None, model)
    run_id = rt.parts[RunbookEngine].run_for_incident(iid)
    assert run_id is not None  # bad-deploy still runs: the incident is announced and escalated
    skipped = [e.message for e in events_of(rt, iid, "runbook_step") if "catalog" in e.message]
    assert skipped == [f"runbook bad-deploy: steps that read data or change a model are skipped: service "
                       f"{model!r} is not in the catalog, so there is nothing to read or change for it"]
    assert [e.data["who"] for e in events_of(rt, iid, "escalation")] == \
        [[f"owners of {model} (not in the service catalog)"]]
    assert mitigations_of(rt, iid) == []
    assert mlflow_store.serving(model) == "2"
    assert all(KNOWN_BAD_TAG not in v.tags for v in mlflow_store.client().search_model_versions(f"name='{model}'"))
    _untouched(attacker)
    timeline = " ".join(e.message for e in events_of(rt, iid, "runbook_step") + events_of(rt, iid, "notify"))
    assert "TOPSECRET" not in timeline
    # By hand, too: the alert's service has nothing in the catalog to act on.
    with pytest.raises(MitigationError, match="not in the service catalog"):
        plan_mitigation(rt, iid, "rollback", target=model)
    _untouched(attacker)


def test_the_forged_alert_of_a_known_service_reads_only_the_catalog(rt, mlflow_store, tmp_path, attacker):
    model = mlflow_store.new_model()
    log = write_log(tmp_path / "log.csv", history("healthy", time.time())[0])
    add_service(rt, catalog_entry("fraud-scorer", model, str(log)))
    iid = _post(rt, _forged({"alertname": "CanaryDeployCheck", "service": "fraud-scorer", "model": "other"},
                            attacker))
    with transaction(rt.sessions) as s:
        assert s.get_one(Incident, iid).catalog_service == "fraud-scorer"
    rt.parts[RunbookEngine].run_for_incident(iid)
    assert "diagnosis" in kinds(rt, iid)  # the catalog's healthy log, not the attacker's
    with transaction(rt.sessions) as s:
        assert get_incident(s, iid).diagnosis["culprit"]["kind"] != "model_version"
    assert mitigations_of(rt, iid) == []
    assert mlflow_store.serving(model) == "2"
    _untouched(attacker)
    # A person cannot aim a mitigation at another model than the service's either.
    with pytest.raises(MitigationError, match="is not the model of service 'fraud-scorer'"):
        propose_mitigation(rt, iid, "rollback", "U-alice", target="other")


# ---------------------------------------------------------------- rollback never re-promotes the culprit

def test_the_bad_deploy_replayed_twice_never_re_promotes_the_rolled_back_version(rt, mlflow_store, tmp_path):
    model = mlflow_store.new_model()
    rows, onset = history("bad_deploy", time.time())
    log = write_log(tmp_path / "log.csv", rows)
    record_deploy(rt, "fraud-scorer", datetime.fromtimestamp(onset, UTC))  # v1 → v2 at the onset
    add_service(rt, catalog_entry("fraud-scorer", model, str(log), auto_approve=("rollback",)))
    first = open_incident(rt, "CanaryDeployCheck", model=model, service="fraud-scorer", in_catalog=False)
    _set_catalog_service(rt, first, "fraud-scorer")
    rt.parts[RunbookEngine].run_for_incident(first)
    [m] = mitigations_of(rt, first)
    assert (m.action, m.status, m.plan["from_version"], m.plan["to_version"]) == ("rollback", "executed", "2", "1")
    assert mlflow_store.serving(model) == "1"
    with transaction(rt.sessions) as s:  # mlresponder's rollback is recorded as a mitigation, not a deploy
        [own] = s.query(ChangeEvent).filter(ChangeEvent.origin == "mitigation").all()
        assert (own.service, own.from_version, own.to_version) == ("fraud-scorer", "2", "1")

    # The alert fires again: the log still shows v2's bad rows, the diagnosis still names v2.
    second = open_incident(rt, "CanaryDeployCheck", model=model, service="fraud-scorer", in_catalog=False)
    _set_catalog_service(rt, second, "fraud-scorer")
    rt.parts[RunbookEngine].run_for_incident(second)
    [again] = mitigations_of(rt, second)
    assert again.status == "failed"
    assert again.error == (f"refused: the diagnosis blames version 2, but 'champion' of {model!r} serves version "
                           "1; rolling back further would not remove the culprit")
    assert mlflow_store.serving(model) == "1"
    assert [e.data["who"] for e in events_of(rt, second, "escalation")][0] == [OWNERS]
    # By hand: the planner refuses the known-bad v2 and the culprit.
    with pytest.raises(MitigationError, match="refused"):
        plan_mitigation(rt, second, "rollback")
    with transaction(rt.sessions) as s:
        get_incident(s, second).diagnosis = None
    with pytest.raises(MitigationError, match=f"refused: version 2 of {model!r} is tagged {KNOWN_BAD_TAG}"):
        plan_mitigation(rt, second, "rollback", params={"to_version": "2"})
    assert mlflow_store.serving(model) == "1"


def _set_catalog_service(rt: Runtime, incident_id: int, name: str) -> None:
    with transaction(rt.sessions) as s:
        s.get_one(Incident, incident_id).catalog_service = name


# ---------------------------------------------------------------- approval from policy

def test_approval_auto_needs_the_action_in_the_services_auto_approve(rt, mlflow_store, tmp_path):
    model = mlflow_store.new_model()
    rows, onset = history("bad_deploy", time.time())
    log = write_log(tmp_path / "log.csv", rows)
    record_deploy(rt, model, datetime.fromtimestamp(onset, UTC))
    iid = open_incident(rt, "CanaryDeployCheck", model=model, log_path=str(log), auto_approve=())
    rt.parts[RunbookEngine].run_for_incident(iid)
    [m] = mitigations_of(rt, iid)
    assert (m.action, m.approval, m.status) == ("rollback", "required", "proposed")
    assert mlflow_store.serving(model) == "2"  # nothing moved without a click
    [proposed] = events_of(rt, iid, "mitigation_proposed")
    assert proposed.message.endswith("awaits approval (the runbook says approval: auto, but fraud-api does not "
                                     "list rollback in auto_approve)")


# ---------------------------------------------------------------- changes belong to services

def test_interleaved_deploys_of_two_services_each_incident_sees_its_own(rt, mlflow_store, tmp_path):
    fraud, tumor = mlflow_store.new_model(), mlflow_store.new_model()
    now = datetime.now(UTC)
    add_service(rt, catalog_entry("fraud-scorer", fraud, dependencies=[{"name": "feature-store"}]))
    add_service(rt, catalog_entry("tumor-classifier", tumor))
    with transaction(rt.sessions) as s:
        for minutes, service, what in [(50, "tumor-classifier", "tumor v1→v2"), (45, "fraud-scorer", "fraud v1→v2"),
                                       (40, "feature-store", "feature-store config"),
                                       (35, "tumor-classifier", "tumor v2→v3"), (30, "", "global infra"),
                                       (25, "search-ranker", "someone else")]:
            s.add(ChangeEvent(timestamp=now - timedelta(minutes=minutes), kind="model_deploy", service=service,
                              description=what, from_version="1", to_version="2", origin="api"))
    started = now - timedelta(minutes=20)
    fraud_incident = open_incident(rt, "Latency", model=fraud, service="fraud-scorer", in_catalog=False,
                                   started=started)
    tumor_incident = open_incident(rt, "Latency", model=tumor, service="tumor-classifier", in_catalog=False,
                                   started=started)
    _set_catalog_service(rt, fraud_incident, "fraud-scorer")
    _set_catalog_service(rt, tumor_incident, "tumor-classifier")
    from runbooks.context import build_context

    with transaction(rt.sessions) as s:
        seen = {iid: [c["description"] for c in build_context(s, s.get_one(Incident, iid), catalog=rt.catalog)
                      ["changes"]] for iid in (fraud_incident, tumor_incident)}
    assert seen[fraud_incident] == ["fraud v1→v2", "feature-store config", "global infra"]
    assert seen[tumor_incident] == ["tumor v1→v2", "tumor v2→v3", "global infra"]
    with TestClient(create_app(rt), client=("127.0.0.1", 50000)) as client:
        timeline = client.get(f"/incidents/INC-{fraud_incident}").json()["timeline"]
    assert [e["data"]["description"] for e in timeline if e["kind"] == "change"] == \
        ["fraud v1→v2", "feature-store config", "global infra"]
