"""The trigger: which recorded change started the regression.

Only a change the evidence supports may be named: one of the culprit's own service (the
service itself, or the dependency found at fault), of a kind that can cause that culprit, and
close before the moment the culprit began to move. A change of any other service is never the
trigger, however close in time: in a busy company something is always being deployed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from diagnostics.findings import Trigger
from diagnostics.log import ChangeRecord

LOOKBACK_S = 3600.0  # a change an hour before the culprit moved is not what started it
ALL_KINDS = frozenset({"model_deploy", "config_change", "pipeline_run", "schema_change", "infra", "other"})

# culprit kind -> change kinds that can start it
KINDS_FOR_CULPRIT: dict[str, frozenset[str]] = {
    "dependency": ALL_KINDS,
    "resource": frozenset({"model_deploy", "config_change", "infra", "other", "pipeline_run"}),
    "latency": frozenset({"model_deploy", "config_change", "infra", "other"}),
    "errors": frozenset({"model_deploy", "config_change", "infra", "other", "schema_change"}),
    "traffic": frozenset({"config_change", "infra", "other", "pipeline_run"}),
    # the service stopped reporting: a crash-looping deploy, a drained node, a bad config
    "downtime": frozenset({"model_deploy", "config_change", "infra", "other"}),
    "model_version": frozenset({"model_deploy"}),
    "feature": frozenset({"pipeline_run", "schema_change", "config_change", "other"}),
}


def same_service(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def pick_trigger(
    changes: Iterable[ChangeRecord],
    *,
    culprit_kind: str,
    at: float,
    services: Collection[str] | None,
    slack_s: float = 150.0,
    culprit_name: str = "",
) -> Trigger | None:
    """The supported change closest before ``at`` (``slack_s`` after it still counts: a
    change event is stamped when the deploy finished, a series moves when it started).

    ``services`` None accepts any service (the log-only diagnosis, which knows none).
    """
    kinds = KINDS_FOR_CULPRIT.get(culprit_kind)
    if kinds is None:
        return None
    best: ChangeRecord | None = None
    for c in changes:
        if c.kind not in kinds:
            continue
        if services is not None and not any(same_service(c.service, s) for s in services):
            continue
        if culprit_kind == "model_version" and c.to_version is not None and str(c.to_version) != culprit_name:
            continue
        if not (at - LOOKBACK_S <= c.timestamp <= at + slack_s):
            continue
        if best is None or _distance(c.timestamp, at) < _distance(best.timestamp, at):
            best = c
    if best is None:
        return None
    return Trigger(timestamp=best.timestamp, kind=best.kind, service=best.service, description=best.description)


def trigger_for_diagnosis(
    changes: Iterable[ChangeRecord],
    *,
    culprit_kind: str,
    culprit_name: str,
    onset: float,
    services: Collection[str] | None,
) -> Trigger | None:
    """The trigger of a prediction-log verdict: a deploy of the culprit version, a pipeline run or
    schema change for a feature, a config/infra change for the service's own symptoms."""
    return pick_trigger(changes, culprit_kind=culprit_kind, at=onset, services=services, culprit_name=culprit_name)


def _distance(t: float, at: float) -> float:
    """Closest before wins; a change stamped after the move counts double its distance."""
    return at - t if t <= at else 2.0 * (t - at)
