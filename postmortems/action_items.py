"""Action items that follow from the diagnosed cause, each with an owner placeholder and a priority.

They are the draft's proposal: the kinds of fixes that stop the same cause from reaching
users again (guard the input, gate the deploy, watch the SLO), not a to-do list for a person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

OWNER_PLACEHOLDER = "_owner: TBD_"
DETECTION_BUDGET_MINUTES = 5.0  # 99.95% availability leaves about 5 minutes of outage a week


@dataclass(frozen=True)
class ActionItem:
    title: str
    why: str
    priority: str  # P1 (this sprint) .. P3 (backlog)
    owner: str = OWNER_PLACEHOLDER


# An alert already watching latency: proposing "add a latency alert" would not follow from this incident.
_LATENCY_ALERT = re.compile(r"latency|p9[059]|duration|slow", re.IGNORECASE)
_INFRA_KINDS = ("infra", "config_change")
# Which role owns which kind of follow-up (the role title is shown; people appear by role).
_SERVICE_ITEMS = ("latency", "errors", "traffic", "infra")


def derive_action_items(
    diagnosis: dict[str, Any] | None,
    *,
    service: str,
    mitigation_actions: list[str],
    minutes_to_detect: float | None,
    trigger_kind: str | None = None,
    alert_names: Sequence[str] = (),
    still_in_place: Sequence[dict[str, Any]] = (),
    resolved: bool = False,
    roles: dict[str, str] | None = None,
) -> list[ActionItem]:
    """The follow-ups this incident calls for: from its cause, its trigger, how it was detected and how it ended.

    ``roles`` maps role keys held in the incident (commander, ops...) to their titles; items get the
    role that owns them, so the list never leaves every owner to be found later.
    """
    items = _items(diagnosis or {}, service=service, mitigation_actions=mitigation_actions,
                   minutes_to_detect=minutes_to_detect, trigger_kind=trigger_kind, alert_names=alert_names,
                   still_in_place=still_in_place, resolved=resolved)
    return [_with_owner(item, area, roles or {}) for area, item in items]


def _with_owner(item: ActionItem, area: str, roles: dict[str, str]) -> ActionItem:
    if area in _SERVICE_ITEMS and "ops" in roles:
        return replace(item, owner=roles["ops"])
    if "commander" in roles:
        return replace(item, owner=roles["commander"])
    return item


def _items(
    diagnosis: dict[str, Any],
    *,
    service: str,
    mitigation_actions: list[str],
    minutes_to_detect: float | None,
    trigger_kind: str | None,
    alert_names: Sequence[str],
    still_in_place: Sequence[dict[str, Any]],
    resolved: bool,
) -> list[tuple[str, ActionItem]]:
    cause = str(diagnosis.get("cause") or "none")
    culprit = diagnosis.get("culprit") or {}
    kind, name = str(culprit.get("kind") or "none"), str(culprit.get("name") or "")
    recommended = str(diagnosis.get("recommended_mitigation") or "none")
    items: list[tuple[str, ActionItem]] = []

    if kind == "feature":
        items.append(("data", ActionItem(
            f"Validate feature `{name}` upstream (schema, range and missing-value checks) before it reaches the model",
            f"the regression was localized to input feature `{name}`", "P1")))
        items.append(("data", ActionItem(
            f"Add a drift monitor on feature `{name}` against the training reference",
            "a drift alert on the input fires before the quality metric moves", "P2")))
    top_check = str(((diagnosis.get("findings") or [{}])[0] or {}).get("check") or "")
    if kind == "concept" or recommended == "retrain" or top_check == "drift":
        items.append(("data", ActionItem(
            "Set a retraining cadence and a label-drift monitor for the model",
            "the traffic moved away from the data the model was trained on", "P2")))
    if kind == "segment":
        items.append(("data", ActionItem(
            f"Add a per-segment quality monitor for `{name}`",
            "the overall metric hid a regression concentrated in one segment", "P2")))
    if cause == "model" or kind == "model_version":
        version = f" (here `{name}`)" if name else ""
        items.append(("model", ActionItem(
            "Add a canary stage to model deploys: a small share of traffic with an automatic quality gate",
            f"a new model version{version} reached all traffic before its quality was known", "P1")))
        items.append(("model", ActionItem(
            "Compare every candidate with the champion on a holdout set before promotion",
            "an offline gate stops a worse version before it is deployed", "P2")))
    if kind == "latency":
        if not any(_LATENCY_ALERT.search(name or "") for name in alert_names):
            items.append(("latency", ActionItem(
                f"Add a latency SLO alert (p95) on `{service}`",
                "the regression was in serving latency and no latency alert caught it", "P1")))
        if trigger_kind in _INFRA_KINDS:
            items.append(("infra", ActionItem(
                f"Roll infrastructure changes of `{service}` (node pools, resources) out gradually, with a "
                "latency check before all pods move",
                f"the trigger was an {trigger_kind} change that moved all serving capacity at once"
                if trigger_kind == "infra" else
                f"the trigger was a {trigger_kind} change that moved all serving capacity at once", "P1")))
            items.append(("infra", ActionItem(
                f"Set the resource requests and limits of `{service}` from a load test at production traffic",
                "the serving latency depended on capacity the change took away", "P2")))
        elif trigger_kind == "model_deploy":
            items.append(("latency", ActionItem(
                "Load-test each model version at production traffic before deploy",
                "the new model version was slower under load", "P2")))
        else:
            items.append(("infra", ActionItem(
                f"Record deploys and infrastructure changes of `{service}` as change events (POST /changes)",
                "no recorded change explains the latency regression", "P2")))
    if kind == "errors":
        items.append(("errors", ActionItem(
            f"Add an error-rate SLO alert on `{service}`", "failed requests were the first symptom", "P1")))
    if kind == "traffic":
        items.append(("traffic", ActionItem(
            f"Review capacity and autoscaling limits of `{service}`",
            "a change in traffic drove the regression", "P2")))
    if "naive_model" in mitigation_actions or recommended == "naive_model":
        items.append(("fallback", ActionItem(
            "Keep the naive fallback model registered, tested and one approval away",
            "the fallback was the mitigation; it must stay ready", "P2")))
    if minutes_to_detect is not None and minutes_to_detect > DETECTION_BUDGET_MINUTES:
        items.append(("detection", ActionItem(
            "Tighten the alert so that detection fits the 5-minute budget",
            f"detection took {minutes_to_detect:.1f} min", "P2")))
    if cause == "none":
        items.append(("diagnostics", ActionItem(
            "Extend the diagnostics or the prediction log so that this cause can be localized next time",
            "the automated diagnosis could not localize the cause", "P2")))
    items.append(("process", ActionItem(
        "Review the runbook that ran for this incident and update its steps",
        "each incident is a rehearsal of the runbook", "P3")))
    naive = [m for m in still_in_place if m.get("action") == "naive_model"]
    if naive and resolved:
        m = naive[0]
        items.insert(0, ("model", ActionItem(
            f"Restore the champion of `{m.get('target')}`: fix the cause, then revert mitigation {m.get('id')} "
            "so the champion serves instead of the naive fallback",
            "the incident was resolved while the naive fallback still serves, with lower quality than the champion",
            "P1")))
    return items
