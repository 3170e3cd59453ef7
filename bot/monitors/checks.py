"""Monitor judgement: the diagnostics engine's checks on the monitor's windows, plus the gauges.

There is one check engine. A monitor's verdict is `diagnostics.diagnose` on the window's rows
against the reference's rows (the same checks, thresholds, `Finding` and `Diagnosis` as
`mlresponder diagnose`); the monitor's `checks:` only choose which check families may raise a
breach. The window summaries (counts and histograms computed by the database, `summary`) give
the exported gauges and the exact row counts that size the sample the engine judges.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.monitors.schema import ChecksSpec, MonitorSpec
from bot.monitors.summary import NULL_KEY, TOP_CATEGORIES, Layout, NumericStats, VersionStats, WindowSummary
from diagnostics import Diagnosis, PredictionLog, diagnose
from diagnostics.checks import verdict_checks
from diagnostics.localize import localize
from diagnostics.stats import psi_from_counts

PSI_GROUPS = 10
# `checks:` key -> the diagnostics checks it lets raise a breach
FAMILIES: dict[str, frozenset[str]] = {
    "drift": frozenset({"drift", "unit_change", "out_of_range", "unseen_categories", "schema_change"}),
    "missing": frozenset({"missing_rate"}),
    "stuck": frozenset({"stuck_values"}),
    "quality": frozenset({"version_change", "concept_drift", "segment"}),
    "latency": frozenset({"latency"}),
    "errors": frozenset({"error_rate"}),
    "traffic": frozenset({"traffic", "traffic_gap"}),
}


@dataclass
class Evaluation:
    """What one run measured (gauges) and concluded (the engine's diagnosis)."""

    metrics: dict[str, Any] = field(default_factory=dict)
    diagnosis: Diagnosis | None = None

    @property
    def breached(self) -> bool:
        return self.diagnosis is not None and self.diagnosis.cause != "none"


# ---------------------------------------------------------------- distributions


def numeric_bins(st: NumericStats) -> np.ndarray:
    """Counts in the fine bins: below range, then one bin per edge interval, then above range."""
    cum = np.asarray(st.cum, dtype=float)
    inner = np.diff(np.concatenate([[st.below], cum]))
    return np.concatenate([[st.below], inner, [st.count - (cum[-1] if cum.size else 0)]])


def psi_numeric(ref: NumericStats, cur: NumericStats) -> float:
    r, c = numeric_bins(ref), numeric_bins(cur)
    if r.sum() <= 0 or c.sum() <= 0:
        return 0.0
    frac_end = np.cumsum(r) / r.sum()
    groups = np.floor(np.clip(frac_end - 1e-9, 0.0, 1.0 - 1e-12) * PSI_GROUPS).astype(int)
    rg = np.bincount(groups, weights=r, minlength=PSI_GROUPS)
    cg = np.bincount(groups, weights=c, minlength=PSI_GROUPS)
    keep = (rg > 0) | (cg > 0)
    return _psi(rg[keep], cg[keep])


def _psi(r: np.ndarray, c: np.ndarray) -> float:
    return psi_from_counts(r, c)


def psi_categorical(ref: dict[str, int], cur: dict[str, int]) -> tuple[float, float]:
    """PSI over categories and the current share of categories never seen in the reference."""
    r = {k: v for k, v in ref.items() if k != NULL_KEY}
    c = {k: v for k, v in cur.items() if k != NULL_KEY}
    if not r or not c:
        return 0.0, 0.0
    keys = sorted(set(r) | set(c))
    rv = np.asarray([r.get(k, 0) for k in keys], dtype=float)
    cv = np.asarray([c.get(k, 0) for k in keys], dtype=float)
    unseen = sum(v for k, v in c.items() if k not in r) / max(sum(c.values()), 1)
    if len(r) >= TOP_CATEGORIES:
        unseen = 0.0  # the reference list was truncated: "unseen" would be a guess
    return _psi(rv, cv), float(unseen)


# ---------------------------------------------------------------- quality


def quality_value(v: VersionStats, metric: str) -> float | None:
    if metric == "accuracy":
        return v.correct / v.labelled if v.labelled else None
    if not v.pairs:
        return None
    return v.abs_err / v.pairs if metric == "mae" else math.sqrt(v.sq_err / v.pairs)


# ---------------------------------------------------------------- judging


def enabled_checks(spec: MonitorSpec) -> frozenset[str] | None:
    """The diagnostics checks allowed to raise a breach (None: all of them)."""
    if spec.engine == "diagnostics":
        return None
    allowed: set[str] = set()
    for key, checks in FAMILIES.items():
        if getattr(spec.checks, key) is not None:
            allowed |= checks
    return frozenset(allowed)


def watched_features(checks: ChecksSpec, names: list[str]) -> list[str]:
    drift = checks.drift
    if drift is None:
        return names
    keep = [n for n in names if drift.features is None or n in drift.features]
    return [n for n in keep if n not in set(drift.ignore)]


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


# ---------------------------------------------------------------- gauges


def window_metrics(checks: ChecksSpec, layout: Layout, ref: WindowSummary, cur: WindowSummary, *,
                   current_minutes: float, reference_minutes: float | None) -> dict[str, Any]:
    """The exported gauges of one run, from the window summaries (no rows needed)."""
    metrics: dict[str, Any] = {"rows": cur.rows, "reference_rows": ref.rows}
    drift: dict[str, float] = {}
    missing: dict[str, float] = {}
    for name in watched_features(checks, [*layout.numeric, *layout.categorical]):
        if name in cur.numeric and name in ref.numeric:
            r, c = ref.numeric[name], cur.numeric[name]
            if r.cum and c.cum and r.count and c.count:
                drift[name] = psi_numeric(r, c)
            missing[name] = c.nulls / cur.rows if cur.rows else 0.0
        elif name in cur.categorical and name in ref.categorical:
            drift[name] = psi_categorical(ref.categorical[name], cur.categorical[name])[0]
            missing[name] = cur.categorical[name].get(NULL_KEY, 0) / cur.rows if cur.rows else 0.0
    metrics["drift"] = {k: round(v, 6) for k, v in drift.items()}
    metrics["missing"] = {k: round(v, 6) for k, v in missing.items()}
    q = checks.quality
    metric = (q.metric if q is not None and q.metric else None) or (
        "accuracy" if layout.task == "classification" else "mae")
    per_version = {v: quality_value(s, metric) for v, s in cur.versions.items()}
    metrics["quality"] = {"metric": metric, "value": quality_value(cur.total(), metric),
                          "reference": quality_value(ref.total(), metric),
                          "per_version": {k: v for k, v in per_version.items() if v is not None}}
    quantile = checks.latency.quantile if checks.latency is not None else 0.95
    metrics["latency"] = {"quantile": quantile, "value_ms": cur.latency_quantile(quantile),
                          "reference_ms": ref.latency_quantile(quantile)}
    metrics["error_rate"] = cur.errors / cur.error_count if cur.error_count else None
    metrics["rows_per_minute"] = cur.rows / current_minutes if current_minutes > 0 else None
    if reference_minutes:
        metrics["reference_rows_per_minute"] = ref.rows / reference_minutes
    return metrics
