"""The localizer: findings in, one verdict out.

Each candidate cause has a score in [0, 1] already discounted by the checks (influence for
features, same-window evidence for versions, residual for concept and segments). The best
candidate wins if it clears `MIN_CAUSE_SCORE`; otherwise the verdict is "none", which is
what a healthy log with ordinary noise must get. Confidence is the winning score, reduced
when a competing cause of another kind is nearly as strong.
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.checks import culprit_name, verdict_checks
from diagnostics.findings import Finding

MIN_CAUSE_SCORE = 0.3


@dataclass
class Verdict:
    cause: str
    culprit_kind: str
    culprit_name: str
    confidence: float
    mitigation: str
    findings: list[Finding]
    summary: str


def _rank_key(f: Finding) -> tuple[float, int, float]:
    # at equal scores a service symptom (requests that failed, slowed or never came) comes first:
    # it is seen directly in the service's own rows, while a feature's move or a loss comparison
    # at the same capped score may be the day's weather or a redeploy's noise
    return (round(f.score, 3), int(f.cause == "service"), float(f.details.get("influence_raw", 0.0)))


def localize(findings: list[Finding]) -> Verdict:
    causes = verdict_checks()
    candidates = [f for f in findings if f.check in causes]
    candidates.sort(key=_rank_key, reverse=True)
    top = candidates[0] if candidates else None
    if top is None or top.score < MIN_CAUSE_SCORE:
        strongest = top.score if top else 0.0
        ranked = sorted(findings, key=_rank_key, reverse=True)
        return Verdict(
            "none",
            "none",
            "",
            round(1.0 - strongest, 4),
            "none",
            ranked,
            "No check found a problem strong enough to explain a regression.",
        )
    spec = causes[top.check]
    cause, kind, mitigation = spec.cause, str(spec.culprit_kind), spec.mitigation
    if top.details.get("carried_by_version"):
        # a service symptom that a version new since the onset carries: roll that version back,
        # as for a model deploy that started the service's trouble (service_diagnosis.mitigation_for)
        mitigation = "rollback"
    # a rival is another explanation; a concept finding that says the top findings explain the
    # drop is support, not competition
    rival = next(
        (
            f
            for f in candidates
            if (causes[f.check].culprit_kind != kind or f.subject != top.subject)
            and not (f.check == "concept_drift" and f.details.get("explained_elsewhere", 0.0) >= MIN_CAUSE_SCORE)
        ),
        None,
    )
    rival_score = rival.score if rival else 0.0
    confidence = top.score * (1.0 - 0.5 * rival_score / max(top.score, 1e-9))
    name = culprit_name(kind, top.subject)
    # the verdict's supporting findings first (same culprit), then everything else by score
    support = [
        f
        for f in findings
        if f.check in causes
        and causes[f.check].culprit_kind == kind
        and (f.subject == top.subject or kind in ("concept",))
    ]
    support.sort(key=_rank_key, reverse=True)
    rest = sorted((f for f in findings if f not in support), key=_rank_key, reverse=True)
    summary = f"cause: {cause} — {kind} {name}; {top.evidence} Recommended: {mitigation}."
    return Verdict(cause, kind, name, round(max(0.0, min(1.0, confidence)), 4), mitigation, support + rest, summary)
