"""One demo run: set the stage, break something, and let mlresponder handle the incident.

Everything is in-process and on embedded defaults: the incident store is a SQLite file, chat
goes to the console, the MLflow registry is a SQLite file in the demo folder. The demo plays
the roles mlresponder does not: the team that deploys, the monitor that alerts (it posts an
Alertmanager webhook to the real HTTP API) and the on-call who approves and resolves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.config import Settings
from bot.db import transaction
from bot.demo.models import (
    FALLBACK_ALIAS,
    MODEL_NAME,
    SERVING_ALIAS,
    Dataset,
    DemoRegistry,
    build_registry,
    load_dataset,
)
from bot.demo.scenarios import SCENARIOS, Scenario
from bot.demo.server import ApiServer
from bot.demo.serving import NO_FAULT, ServingLoop
from bot.incidents import get_incident, incident_to_dict, transition
from bot.models import TRANSITIONS
from bot.runtime import Runtime
from bot.wiring import create_runtime
from postmortems.worker import PostmortemWorker

log = logging.getLogger(__name__)

RUNBOOKS_DIR = Path(__file__).parent / "runbooks"
ONCALL = "demo-oncall"  # the person the demo plays: approves the mitigation and resolves
SERVICE_OWNER = "tumor-classifier-owner"  # paged by the latency runbook
HISTORY_SECONDS = 600.0
BAD_WINDOW_SECONDS = 8.0
RATE = 40.0


class DemoError(RuntimeError):
    """The demo did not reach the end it expects; the message says where it stopped."""


@dataclass
class Stage:
    """What outlives one scenario: the trained models, the registry and the dataset."""

    folder: Path
    data: Dataset
    registry: DemoRegistry

    def reset(self) -> None:
        """Serve the champion again, so scenarios can run one after another on one registry."""
        self.registry.set_alias(SERVING_ALIAS, self.registry.versions["champion"])


def build_stage(folder: Path) -> Stage:
    data = load_dataset()
    return Stage(folder, data, build_registry(folder / "registry", data))


@dataclass
class DemoOutcome:
    scenario: str
    incident: dict[str, Any]
    postmortem_path: Path
    serving_version: str
    marks: dict[str, float] = field(default_factory=dict)  # event → seconds since the change
    narrative: list[str] = field(default_factory=list)

    @property
    def diagnosis(self) -> dict[str, Any]:
        return self.incident.get("diagnosis") or {}


class Narrator:
    def __init__(self, echo: Callable[[str], None]) -> None:
        self.start = time.monotonic()
        self.echo = echo
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        line = f"[demo {time.monotonic() - self.start:5.1f}s] {text}"
        self.lines.append(line)
        self.echo(line)


def write_demo_catalog(folder: Path, log_path: Path) -> Path:
    """The demo's service catalog: what mlresponder may read and change for the tumor classifier.

    The demo's alerts only name the service; the prediction log and the model come from here.
    """
    path = folder / "catalog.yaml"
    path.write_text(yaml.safe_dump({"services": [{
        "name": MODEL_NAME,
        "owners": {"slack": "S0DEMOOWNR"},
        "model": {"registry": MODEL_NAME, "serving_alias": SERVING_ALIAS, "fallback_alias": FALLBACK_ALIAS},
        "prediction_log": str(log_path),
    }]}, sort_keys=False))
    return path


def demo_settings(folder: Path, registry: DemoRegistry, catalog: Path | None = None) -> Settings:
    return Settings(
        catalog=str(catalog) if catalog else None,
        database_url=f"sqlite:///{folder / 'mlresponder.db'}",
        runbooks=str(RUNBOOKS_DIR),
        mlflow_registry_uri=registry.uri,
        serving_alias=SERVING_ALIAS,
        postmortem_dir=str(folder / "postmortems"),
        scheduler_enabled=True,
    )


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def alertmanager_payload(scenario: Scenario, starts_at: datetime, value: str) -> dict[str, Any]:
    labels = {"alertname": scenario.alertname, "service": MODEL_NAME, "severity": "critical"}
    annotations = {
        "summary": scenario.alert_summary,
        "description": f"{scenario.alert_summary}: {value}",
    }
    alert = {
        "status": "firing", "labels": labels, "annotations": annotations, "startsAt": _iso(starts_at),
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://127.0.0.1/demo-monitor",
        "fingerprint": f"demo-{scenario.name}-{int(starts_at.timestamp())}",
    }
    return {
        "version": "4", "groupKey": f'{{}}:{{alertname="{scenario.alertname}"}}', "truncatedAlerts": 0,
        "status": "firing", "receiver": "mlresponder", "groupLabels": {"alertname": scenario.alertname},
        "commonLabels": labels, "commonAnnotations": annotations, "externalURL": "http://127.0.0.1/demo",
        "alerts": [alert],
    }


class ScenarioRun:
    """Drives one scenario against a running runtime, API server and serving loop."""

    def __init__(self, stage: Stage, scenario: Scenario, folder: Path, narrator: Narrator,
                 timeout: float = 90.0) -> None:
        self.stage = stage
        self.scenario = scenario
        self.folder = folder
        self.say = narrator.say
        self.narrator = narrator
        self.timeout = timeout
        self.marks: dict[str, float] = {}
        self.t_change = 0.0

    def mark(self, name: str) -> None:
        self.marks[name] = round(time.monotonic() - self.t_change, 2)

    def wait_for(self, runtime: Runtime, incident_id: int, what: str,
                 predicate: Callable[[dict[str, Any]], bool], timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        record: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with transaction(runtime.sessions) as session:
                record = incident_to_dict(session, get_incident(session, incident_id))
            if predicate(record):
                return record
            time.sleep(0.2)
        kinds = [e["kind"] for e in record.get("timeline", [])]
        raise DemoError(f"timed out waiting for {what} on INC-{incident_id} (timeline so far: {', '.join(kinds)})")

    def run(self) -> DemoOutcome:
        scenario, stage = self.scenario, self.stage
        stage.reset()
        log_path = self.folder / f"predictions-{scenario.name}.csv"
        (self.folder / scenario.name).mkdir(parents=True, exist_ok=True)
        catalog = write_demo_catalog(self.folder / scenario.name, log_path)
        settings = demo_settings(self.folder / scenario.name, stage.registry, catalog)
        runtime = create_runtime(settings)
        serving = ServingLoop(stage.registry, stage.data, log_path, rate=RATE)
        server = ApiServer(runtime)
        try:
            runtime.start()
            server.start()
            rows = serving.backfill(HISTORY_SECONDS)
            serving.start()
            self.say(f"serving {MODEL_NAME} v{stage.registry.alias_version()} ({SERVING_ALIAS}) at "
                     f"{RATE:.0f} requests/s; prediction log {log_path} ({rows} rows of history)")
            self.say(f"mlresponder API on {server.url} (uvicorn), console chat, runbooks from {RUNBOOKS_DIR}, "
                     f"service catalog {catalog}")
            time.sleep(2.0)
            return self._incident(runtime, server, serving, log_path)
        finally:
            serving.stop()
            server.stop()
            runtime.close()

    def _incident(self, runtime: Runtime, server: ApiServer, serving: ServingLoop, log_path: Path) -> DemoOutcome:
        scenario, registry = self.scenario, self.stage.registry
        client = httpx.Client(base_url=server.url, timeout=30)
        baseline_since = datetime.now(UTC) - timedelta(seconds=30)
        baseline = (serving.accuracy(baseline_since)[0] if scenario.metric == "accuracy"
                    else serving.p95_latency(baseline_since)[0])

        # 1. the change: recorded through the API, then made for real
        changed_at = datetime.now(UTC)
        change = {"timestamp": _iso(changed_at), "kind": scenario.change_kind, "service": MODEL_NAME,
                  "description": scenario.change_description, **scenario.change_versions(registry)}
        response = client.post("/changes", json=change)
        if response.status_code >= 300:
            raise DemoError(f"POST /changes answered {response.status_code}: {response.text}")
        self.t_change = time.monotonic()
        if scenario.deploy_role:
            registry.set_alias(SERVING_ALIAS, registry.versions[scenario.deploy_role])
        serving.fault = scenario.fault
        versions = scenario.change_versions(registry)
        detail = f" v{versions['from_version']} → v{versions['to_version']}" if versions else ""
        self.say(f"change: {scenario.change_kind}{detail}: {scenario.change_description} ({scenario.story})")

        # 2. the monitor notices and alerts through the real HTTP intake
        time.sleep(BAD_WINDOW_SECONDS)
        if scenario.metric == "accuracy":
            value, n = serving.accuracy(changed_at)
            degraded = value < baseline - 0.05
            reading = f"accuracy {value:.2f} over the last {n} requests (baseline {baseline:.2f})"
        else:
            value, n = serving.p95_latency(changed_at)
            degraded = value > 2 * baseline
            reading = f"p95 latency {value:.0f} ms over the last {n} requests (baseline {baseline:.0f} ms)"
        if not degraded:
            raise DemoError(f"the fault did not degrade the metric: {reading}")
        response = client.post("/alerts/alertmanager",
                               json=alertmanager_payload(scenario, changed_at + timedelta(seconds=2), reading))
        if response.status_code >= 300:
            raise DemoError(f"POST /alerts/alertmanager answered {response.status_code}: {response.text}")
        self.mark("alert")
        self.say(f"monitor: {reading} → POST /alerts/alertmanager: {response.status_code}")
        incident_id = self._incident_id(response.json())
        ref = f"INC-{incident_id}"
        with transaction(runtime.sessions) as session:  # the on-call is paged and acknowledges
            incident = get_incident(session, incident_id)
            if incident.status == "triggered":
                transition(session, incident, "acknowledged", actor=ONCALL)
        self.mark("acknowledged")
        self.say(f"{ref}: acknowledged by the on-call ({ONCALL})")

        # 3. the runbook diagnoses
        record = self.wait_for(runtime, incident_id, "the diagnosis", lambda r: bool(r.get("diagnosis")))
        self.mark("diagnosis")
        d = record["diagnosis"]
        culprit = d.get("culprit") or {}
        self.say(f"{ref}: runbook diagnosis: cause {d.get('cause')}, culprit {culprit.get('kind')} "
                 f"{culprit.get('name')}, confidence {float(d.get('confidence') or 0):.2f}, "
                 f"recommends {d.get('recommended_mitigation')} ({float(d.get('runtime_ms') or 0):.0f} ms)")

        # 4. mitigation: approve what the runbook proposes; or the runbook escalates
        if scenario.expected_mitigation == "escalate_service":
            record = self.wait_for(runtime, incident_id, "the escalation",
                                   lambda r: any(e["kind"] == "escalation" for e in r["timeline"]))
            self.mark("mitigation")
            event = next(e for e in record["timeline"] if e["kind"] == "escalation")
            self.say(f"{ref}: escalated: {event['message']}")
            self._service_owner_reverts(runtime, client, serving, incident_id)
        else:
            record = self.wait_for(runtime, incident_id, "a proposed mitigation",
                                   lambda r: bool(r.get("mitigations")))
            mitigation = record["mitigations"][0]
            if mitigation["status"] == "proposed":
                self.say(f"{ref}: runbook proposes {mitigation['action']}: "
                         f"{(mitigation.get('plan') or {}).get('summary', mitigation['target'])}")
                approve_mitigation(runtime, mitigation["id"], ONCALL)
                self.say(f"{ref}: approved by the on-call ({ONCALL}, automatic in the demo)")
            record = self.wait_for(runtime, incident_id, "the mitigation to execute",
                                   lambda r: bool(r["mitigations"][0].get("executed_at")))
            self.mark("mitigation")
            m = record["mitigations"][0]
            self.say(f"{ref}: executed {m['action']}: {SERVING_ALIAS} v{(m.get('before') or {}).get('version')} → "
                     f"v{(m.get('after') or {}).get('version')}; registry now serves "
                     f"v{registry.alias_version()}")
            record = self.wait_for(runtime, incident_id, "the verification",
                                   lambda r: r["mitigations"][0].get("verification") is not None
                                   and r["mitigations"][0]["status"] in ("verified", "failed_verification"))
            self.mark("verification")
            m = record["mitigations"][0]
            verification = m.get("verification") or {}
            self.say(f"{ref}: verification: {m['status']}: "
                     f"{verification.get('summary') or verification.get('message') or verification}")

        # 5. the on-call resolves; the postmortem is drafted on resolution
        with transaction(runtime.sessions) as session:
            incident = get_incident(session, incident_id)
            if incident.status != "resolved":
                transition(session, incident, "resolved", actor=ONCALL,
                           note="service back to normal after the mitigation")
        self.mark("resolved")
        worker = runtime.parts.get(PostmortemWorker)
        if worker is not None:
            worker.wait(timeout=60)
        record = self.wait_for(runtime, incident_id, "the postmortem", lambda r: bool(r.get("postmortem_path")))
        self.mark("postmortem")
        path = Path(record["postmortem_path"])
        self.say(f"{ref}: resolved by the on-call; postmortem drafted: {path}")
        return DemoOutcome(self.scenario.name, record, path, registry.alias_version(), dict(self.marks),
                       list(self.narrator.lines))

    def _service_owner_reverts(self, runtime: Runtime, client: httpx.Client, serving: ServingLoop,
                               incident_id: int) -> None:
        """The paged owner undoes the infra change (recorded like any change) and latency comes back."""
        reverted_at = datetime.now(UTC)
        change = {"timestamp": _iso(reverted_at), "kind": self.scenario.change_kind, "service": MODEL_NAME,
                  "description": "move tumor-classifier pods back to the standard node pool"}
        response = client.post("/changes", json=change)
        if response.status_code >= 300:
            raise DemoError(f"POST /changes answered {response.status_code}: {response.text}")
        serving.fault = NO_FAULT
        time.sleep(3.0)
        p95, n = serving.p95_latency(reverted_at + timedelta(seconds=0.5))
        with transaction(runtime.sessions) as session:
            incident = get_incident(session, incident_id)
            if "mitigated" in TRANSITIONS[incident.status]:
                transition(session, incident, "mitigated", actor=SERVICE_OWNER,
                           note=f"pods back on the standard node pool; p95 latency {p95:.0f} ms")
        self.mark("recovered")
        self.say(f"INC-{incident_id}: the service owner moved the pods back (POST /changes); "
                 f"p95 latency {p95:.0f} ms over the next {n} requests")

    @staticmethod
    def _incident_id(answer: Any) -> int:
        refs = answer.get("incidents") if isinstance(answer, dict) else None
        if not refs:
            raise DemoError(f"the alert opened no incident (the intake answered {answer})")
        return int(str(refs[0]).removeprefix("INC-"))


def approve_mitigation(runtime: Runtime, mitigation_id: int, actor: str) -> None:
    """The on-call's click on Approve: the same service call the Slack button makes."""
    from runbooks.service import approve_mitigation as approve

    approve(runtime, mitigation_id, actor)


def run_demo(scenario_name: str, folder: Path, *, stage: Stage | None = None,
             echo: Callable[[str], None] = print) -> DemoOutcome:
    if scenario_name not in SCENARIOS:
        raise DemoError(f"unknown scenario {scenario_name!r} (expected one of {', '.join(SCENARIOS)})")
    narrator = Narrator(echo)
    folder.mkdir(parents=True, exist_ok=True)
    if stage is None:
        stage = build_stage(folder)
        v = stage.registry.versions
        narrator.say(f"trained and registered {MODEL_NAME} in MLflow ({stage.registry.uri}): v{v['champion']} "
                     f"champion, v{v['candidate']} retrained candidate, v{v['fallback']} naive fallback")
    return ScenarioRun(stage, SCENARIOS[scenario_name], folder, narrator).run()
