"""Action items that follow from the diagnosed cause, each with an owner placeholder and a priority.

They are the draft's proposal: the kinds of fixes that stop the same cause from reaching
users again (guard the input, gate the deploy, watch the SLO), not a to-do list for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OWNER_PLACEHOLDER = "_owner: TBD_"
DETECTION_BUDGET_MINUTES = 5.0  # 99.95% availability leaves about 5 minutes of outage a week


@dataclass(frozen=True)
class ActionItem:
    title: str
    why: str
    priority: str  # P1 (this sprint) .. P3 (backlog)
    owner: str = OWNER_PLACEHOLDER


def derive_action_items(
    diagnosis: dict[str, Any] | None,
    *,
    service: str,
    mitigation_actions: list[str],
    minutes_to_detect: float | None,
) -> list[ActionItem]:
    diagnosis = diagnosis or {}
    cause = str(diagnosis.get("cause") or "none")
    culprit = diagnosis.get("culprit") or {}
    kind, name = str(culprit.get("kind") or "none"), str(culprit.get("name") or "")
    recommended = str(diagnosis.get("recommended_mitigation") or "none")
    items: list[ActionItem] = []

    if kind == "feature":
        items.append(ActionItem(
            f"Validate feature `{name}` upstream (schema, range and missing-value checks) before it reaches the model",
            f"the regression was localized to input feature `{name}`", "P1"))
        items.append(ActionItem(
            f"Add a drift monitor on feature `{name}` against the training reference",
            "a drift alert on the input fires before the quality metric moves", "P2"))
    top_check = str(((diagnosis.get("findings") or [{}])[0] or {}).get("check") or "")
    if kind == "concept" or recommended == "retrain" or top_check == "drift":
        items.append(ActionItem(
            "Set a retraining cadence and a label-drift monitor for the model",
            "the traffic moved away from the data the model was trained on", "P2"))
    if kind == "segment":
        items.append(ActionItem(
            f"Add a per-segment quality monitor for `{name}`",
            "the overall metric hid a regression concentrated in one segment", "P2"))
    if cause == "model" or kind == "model_version":
        version = f" (here `{name}`)" if name else ""
        items.append(ActionItem(
            "Add a canary stage to model deploys: a small share of traffic with an automatic quality gate",
            f"a new model version{version} reached all traffic before its quality was known", "P1"))
        items.append(ActionItem(
            "Compare every candidate with the champion on a holdout set before promotion",
            "an offline gate stops a worse version before it is deployed", "P2"))
    if kind == "latency":
        items.append(ActionItem(
            f"Add a latency SLO alert (p95) on `{service}`",
            "the regression was in serving latency, not in prediction quality", "P1"))
        items.append(ActionItem(
            "Load-test each model version at production traffic before deploy",
            "latency regressions show up under load before users see them", "P2"))
    if kind == "errors":
        items.append(ActionItem(
            f"Add an error-rate SLO alert on `{service}`", "failed requests were the first symptom", "P1"))
    if kind == "traffic":
        items.append(ActionItem(
            f"Review capacity and autoscaling limits of `{service}`",
            "a change in traffic drove the regression", "P2"))
    if "naive_model" in mitigation_actions or recommended == "naive_model":
        items.append(ActionItem(
            "Keep the naive fallback model registered, tested and one approval away",
            "the fallback was the mitigation; it must stay ready", "P2"))
    if minutes_to_detect is not None and minutes_to_detect > DETECTION_BUDGET_MINUTES:
        items.append(ActionItem(
            "Tighten the alert so that detection fits the 5-minute budget",
            f"detection took {minutes_to_detect:.1f} min", "P2"))
    if cause == "none":
        items.append(ActionItem(
            "Extend the diagnostics or the prediction log so that this cause can be localized next time",
            "the automated diagnosis could not localize the cause", "P2"))
    items.append(ActionItem(
        "Review the runbook that ran for this incident and update its steps",
        "each incident is a rehearsal of the runbook", "P3"))
    return items
