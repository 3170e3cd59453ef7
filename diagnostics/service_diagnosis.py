"""One diagnosis of a catalog service from both sources: its Prometheus series and its prediction log.

Either source alone is enough. Together they are weighed, not concatenated: the series see
upstream (a dependency, a resource, a traffic surge) where the log cannot, and the log sees
which model version and which feature where the series cannot. So an upstream culprit in the
series wins over the log's symptoms — a version switch in the very minute the feature store
slowed down is not the version's fault if the feature store moved — while the service's own
latency or errors with nothing upstream are better explained by the log when it names a model
version or a feature (and the deploy that brought it).
"""

from __future__ import annotations

from diagnostics.findings import Diagnosis, Finding, Trigger
from diagnostics.log import ChangeRecord
from diagnostics.service_causes import SeriesVerdict
from diagnostics.trigger import same_service, trigger_for_diagnosis

UPSTREAM = frozenset({"dependency", "resource", "traffic"})
OWN_SYMPTOMS = frozenset({"latency", "errors"})


def mitigation_for(culprit_kind: str, trigger: Trigger | None, service: str, own_names: tuple[str, ...] = ()) -> str:
    """Roll back a model deploy of the service that started its own trouble (its latency, errors,
    resources, or its going down); otherwise the service's owners (or the dependency's) have to act."""
    own_deploy = (
        trigger is not None
        and trigger.kind == "model_deploy"
        and any(same_service(trigger.service, n) for n in (service, *own_names))
    )
    # a model deploy is never the trigger of a traffic surge, only of the service going down
    own_trouble = culprit_kind in ("latency", "errors", "resource", "traffic")
    return "rollback" if own_deploy and own_trouble else "escalate_service"


def from_series(v: SeriesVerdict, service: str, runtime_ms: float = 0.0, own_names: tuple[str, ...] = ()) -> Diagnosis:
    if not v.found:
        return Diagnosis(
            "none",
            "none",
            "",
            v.confidence,
            v.onset,
            "none",
            v.findings,
            runtime_ms,
            v.onset_detected,
            "No series of the service or its dependencies moved beyond its usual range.",
            None,
        )
    mitigation = mitigation_for(v.culprit_kind, v.trigger, service, own_names)
    top = v.findings[0].evidence if v.findings else ""
    summary = f"cause: service — {v.culprit_kind} {v.culprit_name}; {top} Recommended: {mitigation}."
    return Diagnosis(
        "service",
        v.culprit_kind,  # type: ignore[arg-type]
        v.culprit_name,
        v.confidence,
        v.onset,
        mitigation,  # type: ignore[arg-type]
        v.findings,
        runtime_ms,
        v.onset_detected,
        summary,
        v.trigger,
    )


def combine(
    series: SeriesVerdict | None,
    log: Diagnosis | None,
    *,
    service: str,
    own_names: tuple[str, ...] = (),
    changes: list[ChangeRecord],
    notes: list[Finding],
    runtime_ms: float,
) -> Diagnosis:
    """The verdict of both sources; ``notes`` (a source that could not be read) always shown."""
    if log is not None and log.cause != "none" and log.trigger is None:
        # the log-only engine knows no service; here only this service's changes may be named
        log.trigger = trigger_for_diagnosis(
            changes,
            culprit_kind=log.culprit_kind,
            culprit_name=log.culprit_name,
            onset=log.onset,
            services=[service, *own_names],
        )
    elif (
        log is not None
        and log.trigger is not None
        and not any(same_service(log.trigger.service, n) for n in (service, *own_names))
    ):
        log.trigger = trigger_for_diagnosis(
            changes,
            culprit_kind=log.culprit_kind,
            culprit_name=log.culprit_name,
            onset=log.onset,
            services=[service, *own_names],
        )
    s = from_series(series, service, own_names=own_names) if series is not None else None
    if s is None and log is None:
        return Diagnosis(
            "none",
            "none",
            "",
            0.0,
            0.0,
            "none",
            list(notes),
            runtime_ms,
            False,
            "Neither the series nor the prediction log could be read.",
            None,
        )
    winner: Diagnosis
    other: Diagnosis | None
    if s is None or (s.cause == "none" and log is not None and log.cause != "none"):
        winner, other = log, s  # type: ignore[assignment]
    elif log is None or log.cause == "none" or s.culprit_kind in UPSTREAM:
        winner, other = s, log
    elif s.culprit_kind in OWN_SYMPTOMS and log.cause in ("model", "data"):
        winner, other = log, s
    else:
        winner, other = s, log
    if winner is log and log is not None and log.cause != "none":
        log.recommended_mitigation = (
            log.recommended_mitigation
            if log.cause != "service"
            else mitigation_for(log.culprit_kind, log.trigger, service, own_names)  # type: ignore[assignment]
        )
    findings = list(winner.findings) + (sorted(other.findings, key=lambda f: -f.score) if other else [])
    winner.findings = findings + list(notes)
    winner.runtime_ms = runtime_ms
    if winner.onset == 0.0 and other is not None:
        winner.onset = other.onset
    return winner
