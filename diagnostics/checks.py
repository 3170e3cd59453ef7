"""The registry of diagnostic checks: what each check's finding means for the verdict.

Every check that can emit a `Finding` is registered here once, with the cause it points at,
the kind of culprit it names, the mitigation that answers it and how a report phrases that
culprit. The localizer, the renderers (chat card, console, postmortem) and the shared tests
read this table instead of keeping parallel lists; a new check (e.g. a Prometheus series
check naming a dependency) registers itself with `register_check`.

Checks without a culprit kind are symptoms (`performance`, `prediction_shift`) or notes
(`input_quality`, `high_cardinality`): reported for context, never a verdict on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.findings import Cause, CulpritKind, Mitigation


@dataclass(frozen=True)
class CheckSpec:
    """What a check's finding stands for when it is the strongest one."""

    name: str
    cause: Cause
    culprit_kind: CulpritKind | None  # None: a symptom or a note, never the verdict
    mitigation: Mitigation
    description: str
    # the family a monitor's `checks:` key enables (drift, missing, stuck, quality, latency,
    # errors, traffic); symptoms and notes have none, they never decide a verdict
    family: str | None = None


@dataclass(frozen=True)
class CulpritSpec:
    """How a culprit kind is named in the contract and phrased in reports."""

    kind: CulpritKind
    phrase: str  # format string with {name}
    fixed_name: str | None = None  # the contract's culprit name when the subject is not a name


CHECKS: dict[str, CheckSpec] = {}
CULPRITS: dict[str, CulpritSpec] = {}


def register_check(spec: CheckSpec) -> CheckSpec:
    """Add a check to the registry (its culprit kind must be registered first)."""
    if spec.culprit_kind is not None and spec.culprit_kind not in CULPRITS:
        raise ValueError(f"check {spec.name!r}: culprit kind {spec.culprit_kind!r} is not registered")
    CHECKS[spec.name] = spec
    return spec


def register_culprit(spec: CulpritSpec) -> CulpritSpec:
    CULPRITS[spec.kind] = spec
    return spec


def verdict_checks() -> dict[str, CheckSpec]:
    """The checks whose finding can become the verdict."""
    return {name: spec for name, spec in CHECKS.items() if spec.culprit_kind is not None}


def check_families() -> dict[str, frozenset[str]]:
    """Family -> the verdict checks in it: what a monitor's `checks:` key lets raise a breach."""
    out: dict[str, set[str]] = {}
    for name, spec in verdict_checks().items():
        if spec.family is not None:
            out.setdefault(spec.family, set()).add(name)
    return {family: frozenset(names) for family, names in out.items()}


def culprit_phrase(kind: str, name: str, cause: str = "") -> str:
    """A culprit in words for reports ("model version `v7`"); unknown kinds say the cause."""
    spec = CULPRITS.get(kind)
    if spec is None:
        return f"a {cause or 'undetermined'} issue"
    return spec.phrase.format(name=name or "?")


def culprit_name(kind: str, subject: str) -> str:
    """The contract's culprit name for a finding's subject (fixed for service kinds and concept)."""
    spec = CULPRITS.get(kind)
    return spec.fixed_name if spec is not None and spec.fixed_name is not None else subject


for _culprit in (
    CulpritSpec("feature", "a change in input feature `{name}`"),
    CulpritSpec("model_version", "model version `{name}`"),
    CulpritSpec("concept", "concept drift (the input-label relation moved)", "concept"),
    CulpritSpec("segment", "a regression concentrated in segment `{name}`"),
    CulpritSpec("latency", "a serving latency regression", "latency_ms"),
    CulpritSpec("errors", "serving errors", "error"),
    CulpritSpec("traffic", "a change in traffic", "traffic"),
    CulpritSpec("dependency", "a failing dependency `{name}`"),
    CulpritSpec("resource", "resource saturation (`{name}`)"),
):
    register_culprit(_culprit)

for _check in (
    CheckSpec("drift", "data", "feature", "naive_model", "a used feature's distribution moved", "drift"),
    CheckSpec("missing_rate", "data", "feature", "naive_model", "more values arrive empty", "missing"),
    CheckSpec("schema_change", "data", "feature", "naive_model", "a column vanished, emptied or changed type", "drift"),
    CheckSpec("unit_change", "data", "feature", "naive_model", "a feature rescaled by a unit factor", "drift"),
    CheckSpec("value_grid", "data", "feature", "naive_model", "values moved off the grid (rounded, remapped)", "drift"),
    CheckSpec("stuck_values", "data", "feature", "naive_model", "a feature repeats one value", "stuck"),
    CheckSpec("unseen_categories", "data", "feature", "naive_model", "categories never seen in the reference", "drift"),
    CheckSpec("out_of_range", "data", "feature", "naive_model", "values outside the reference range", "drift"),
    CheckSpec(
        "relation_break", "data", "feature", "naive_model", "a feature lost its relation to the other inputs", "drift"
    ),
    CheckSpec(
        "stale_values", "data", "feature", "naive_model", "values from a stale snapshot (frozen, lagged)", "drift"
    ),
    CheckSpec(
        "population_shift", "data", "feature", "retrain", "the traffic moved onto a segment the model is worse on",
        "drift",
    ),
    CheckSpec("version_change", "model", "model_version", "rollback", "a new model version performs worse", "quality"),
    CheckSpec(
        "answers_changed", "model", "model_version", "rollback", "the same version answers the same inputs worse",
        "quality",
    ),
    CheckSpec("concept_drift", "model", "concept", "retrain", "quality fell everywhere, nothing else moved", "quality"),
    CheckSpec("segment", "model", "segment", "retrain", "quality fell in one slice of the traffic", "quality"),
    CheckSpec("latency", "service", "latency", "escalate_service", "requests got slower", "latency"),
    CheckSpec("error_rate", "service", "errors", "escalate_service", "more requests failed", "errors"),
    CheckSpec("traffic", "service", "traffic", "escalate_service", "the request rate dropped or spiked", "traffic"),
    CheckSpec("traffic_gap", "service", "traffic", "escalate_service", "no predictions for a while", "traffic"),
    CheckSpec(
        "replayed_requests", "service", "traffic", "escalate_service", "requests repeat earlier ones exactly", "traffic"
    ),
    CheckSpec(
        "segment_traffic", "service", "traffic", "escalate_service", "one segment's requests fell", "traffic"
    ),
    CheckSpec("performance", "model", None, "none", "quality per window (symptom)"),
    CheckSpec("prediction_shift", "model", None, "none", "the prediction distribution moved (symptom)"),
    CheckSpec("input_quality", "data", None, "none", "loader notes and mixed types (note)"),
    CheckSpec("high_cardinality", "data", None, "none", "an identifier-like column (note)"),
):
    register_check(_check)
