"""The four demo scenarios: what changes, what breaks, which alert fires and what should follow.

Each scenario is one recorded change (a deploy, a pipeline run, an infra move) that really
changes the serving path, and the expected end: the cause the diagnosis should name and the
mitigation the runbook should carry out. The expectations are what the tests assert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.demo.models import DemoRegistry
from bot.demo.serving import Fault


@dataclass(frozen=True)
class Scenario:
    name: str
    story: str
    change_kind: str
    change_description: str
    alertname: str
    alert_summary: str
    # "accuracy" (lower is worse) or "latency" (higher is worse): what the demo's monitor watches.
    metric: str
    fault: Fault = field(default_factory=Fault)
    # The serving alias moves to this registry role when the change happens (a deploy).
    deploy_role: str | None = None
    expected_cause: str = "none"
    expected_culprit_kind: str = "none"
    expected_culprit: str = ""
    expected_mitigation: str = "none"
    # Registry role the serving alias should point at after the mitigation.
    expected_serving_role: str = "champion"

    def expected_culprit_name(self, registry: DemoRegistry) -> str:
        """Culprits that are versions are only known once the registry numbered them."""
        if self.expected_culprit_kind == "model_version" and self.deploy_role:
            return registry.versions[self.deploy_role]
        return self.expected_culprit

    def change_versions(self, registry: DemoRegistry) -> dict[str, Any]:
        if not self.deploy_role:
            return {}
        return {"from_version": registry.versions["champion"], "to_version": registry.versions[self.deploy_role]}


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="bad-deploy",
            story="a retrained candidate with mis-joined labels is deployed over the champion",
            change_kind="model_deploy",
            change_description="deploy the retrained tumor-classifier candidate",
            alertname="ModelAccuracyLow",
            alert_summary="tumor-classifier accuracy below 0.85",
            metric="accuracy",
            deploy_role="candidate",
            expected_cause="model",
            expected_culprit_kind="model_version",
            expected_mitigation="rollback",
            expected_serving_role="champion",
        ),
        Scenario(
            name="data-drift",
            story="a new imaging site calibrates mean_smoothness 60% higher than the training data",
            change_kind="other",
            change_description="onboard imaging site 4 (new scanner calibration)",
            alertname="ModelAccuracyLow",
            alert_summary="tumor-classifier accuracy below 0.85",
            metric="accuracy",
            fault=Fault(feature="mean_smoothness", mode="scale", factor=1.6),
            expected_cause="data",
            expected_culprit_kind="feature",
            expected_culprit="mean_smoothness",
            expected_mitigation="naive_model",
            expected_serving_role="fallback",
        ),
        Scenario(
            name="broken-feature",
            story="a feature-pipeline release defaults mean_texture to 0 after a failed join",
            change_kind="pipeline_run",
            change_description="feature pipeline release 14: new join for texture features",
            alertname="ModelAccuracyLow",
            alert_summary="tumor-classifier accuracy below 0.85",
            metric="accuracy",
            fault=Fault(feature="mean_texture", mode="zero"),
            expected_cause="data",
            expected_culprit_kind="feature",
            expected_culprit="mean_texture",
            expected_mitigation="naive_model",
            expected_serving_role="fallback",
        ),
        Scenario(
            name="latency",
            story="the serving pods move to a smaller node pool and latency rises twelvefold",
            change_kind="infra",
            change_description="move tumor-classifier pods to the small node pool",
            alertname="ModelLatencyHigh",
            alert_summary="tumor-classifier p95 latency above 150 ms",
            metric="latency",
            fault=Fault(latency_factor=12.0),
            expected_cause="service",
            expected_culprit_kind="latency",
            expected_culprit="latency_ms",
            expected_mitigation="escalate_service",
            expected_serving_role="champion",
        ),
    )
}
