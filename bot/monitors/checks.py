"""Monitor judgement: the diagnostics engine's checks on the monitor's windows, plus the gauges.

There is one check engine. A monitor's verdict is `diagnostics.diagnose` on the window's rows
against the reference's rows (the same checks, thresholds, `Finding` and `Diagnosis` as
`mlresponder diagnose`); the monitor's `checks:` only choose which check families may raise a
breach. The exported gauges come from the same rows (`gauges`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bot.monitors.gauges import watched_features
from bot.monitors.schema import MonitorSpec
from diagnostics import Diagnosis, PredictionLog, diagnose
from diagnostics.checks import check_families, verdict_checks
from diagnostics.localize import localize


@dataclass
class Evaluation:
    """What one run measured (gauges) and concluded (the engine's diagnosis)."""

    metrics: dict[str, Any] = field(default_factory=dict)
    diagnosis: Diagnosis | None = None

    @property
    def breached(self) -> bool:
        return self.diagnosis is not None and self.diagnosis.cause != "none"


# ---------------------------------------------------------------- judging


def enabled_checks(spec: MonitorSpec) -> frozenset[str] | None:
    """The diagnostics checks allowed to raise a breach (None: all of them)."""
    if spec.engine == "diagnostics":
        return None
    allowed: set[str] = set()
    for family, checks in check_families().items():  # the check registry says which family a check is in
        if getattr(spec.checks, family, None) is not None:
            allowed |= checks
    return frozenset(allowed)


def judge(spec: MonitorSpec, current: PredictionLog, reference: PredictionLog, onset: float) -> Diagnosis:
    """`diagnose` on the monitor's windows; findings of families the monitor does not enable cannot win."""
    keep = watched_features(spec.checks, list(reference.features))
    current = dataclasses.replace(current, features={k: v for k, v in current.features.items() if k in keep})
    reference = dataclasses.replace(reference, features={k: v for k, v in reference.features.items() if k in keep})
    result = diagnose(current, reference=reference, onset=onset)
    allowed = enabled_checks(spec)
    if allowed is None:
        return result
    causes = verdict_checks()
    findings = [f for f in result.findings if f.check not in causes or f.check in allowed]
    verdict = localize(findings)
    return dataclasses.replace(
        result,
        cause=verdict.cause,  # type: ignore[arg-type]
        culprit_kind=verdict.culprit_kind,  # type: ignore[arg-type]
        culprit_name=verdict.culprit_name,
        confidence=verdict.confidence,
        recommended_mitigation=verdict.mitigation,  # type: ignore[arg-type]
        findings=verdict.findings,
        summary=verdict.summary,
    )
