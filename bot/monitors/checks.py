"""Monitor checks: compare the current window's summary with the reference's and name what broke.

Everything here works on `WindowSummary` counts, never rows: PSI on reference-quantile bins
(the fine equal-width histogram merged where the reference CDF crosses each decile), missing
share, stuck values, unseen categories, accuracy/MAE overall and per model version, a latency
quantile from the log-spaced histogram, the error rate and rows per minute. A breach becomes
a finding shaped like the diagnostics engine's (cause/check/subject/score/severity/evidence),
and the findings become a diagnosis in the docs/contracts.md contract so runbooks and chat need no
special case for monitors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from bot.monitors.schema import ChecksSpec, MonitorSpec
from bot.monitors.summary import NULL_KEY, TOP_CATEGORIES, Layout, NumericStats, VersionStats, WindowSummary
from bot.timeparse import iso
from diagnostics.findings import severity_for
from diagnostics.stats import psi_from_counts

PSI_GROUPS = 10
MITIGATION = {"feature": "naive_model", "model_version": "rollback", "concept": "retrain",
              "latency": "escalate_service", "errors": "escalate_service", "traffic": "escalate_service"}


@dataclass(frozen=True)
class Finding:
    """A breached check. ``value`` is what was measured (PSI, share, ratio, drop); ``strength`` is
    value/threshold. The exported ``score`` maps strength onto the diagnostics engine's 0..1 scale
    (0.5 at the threshold), so severities mean the same on a monitor's finding and the engine's."""

    cause: str  # data | model | service
    check: str
    subject: str
    value: float
    evidence: str
    culprit_kind: str = "none"
    strength: float = 1.0
    priority: int = 1

    @property
    def score(self) -> float:
        return 1.0 - 1.0 / (1.0 + max(self.strength, 0.0))

    @property
    def severity(self) -> str:
        return severity_for(self.score)

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "check": self.check, "subject": self.subject, "score": round(self.score, 4),
                "severity": self.severity, "evidence": self.evidence}


@dataclass
class Evaluation:
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def breached(self) -> bool:
        return bool(self.findings)


def _fmt(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.4g}"


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


def degradation(ref: float, cur: float, metric: str) -> float:
    """How much worse ``cur`` is: an absolute accuracy drop, or a relative error rise."""
    if metric == "accuracy":
        return ref - cur
    return (cur - ref) / max(abs(ref), 1e-12)


# ---------------------------------------------------------------- the checks


def evaluate(spec: MonitorSpec, layout: Layout, ref: WindowSummary, cur: WindowSummary,
             *, current_minutes: float, reference_minutes: float | None) -> Evaluation:
    checks: ChecksSpec = spec.checks
    ev = Evaluation(metrics={"rows": cur.rows, "reference_rows": ref.rows})
    _data_checks(checks, layout, ref, cur, ev)
    _quality_check(checks, layout, ref, cur, ev)
    _service_checks(checks, ref, cur, ev, current_minutes, reference_minutes)
    ev.findings.sort(key=lambda f: (-f.priority, -f.strength))
    return ev


def _features(checks: ChecksSpec, layout: Layout) -> list[str]:
    names = [*layout.numeric, *layout.categorical]
    if checks.drift is not None and checks.drift.features is not None:
        names = [n for n in names if n in checks.drift.features]
    ignore = set(checks.drift.ignore) if checks.drift is not None else set()
    return [n for n in names if n not in ignore]


def _data_checks(checks: ChecksSpec, layout: Layout, ref: WindowSummary, cur: WindowSummary,
                 ev: Evaluation) -> None:
    drift_scores: dict[str, float] = {}
    missing_rates: dict[str, float] = {}
    for name in _features(checks, layout):
        if name in cur.numeric and name in ref.numeric:
            r, c = ref.numeric[name], cur.numeric[name]
            ref_missing = r.nulls / ref.rows if ref.rows else 0.0
            cur_missing = c.nulls / cur.rows if cur.rows else 0.0
            if r.cum and c.cum and r.count and c.count:
                drift_scores[name] = psi_numeric(r, c)
            _numeric_findings(checks, name, r, c, drift_scores.get(name), ev)
        elif name in cur.categorical and name in ref.categorical:
            rc, cc = ref.categorical[name], cur.categorical[name]
            ref_missing = rc.get(NULL_KEY, 0) / ref.rows if ref.rows else 0.0
            cur_missing = cc.get(NULL_KEY, 0) / cur.rows if cur.rows else 0.0
            score, unseen = psi_categorical(rc, cc)
            drift_scores[name] = score
            _categorical_findings(checks, name, rc, cc, score, unseen, ev)
        else:
            continue
        missing_rates[name] = cur_missing
        m = checks.missing
        if m is not None and cur.rows >= 1 and cur_missing - ref_missing >= m.increase:
            rise = cur_missing - ref_missing
            strength = rise / m.increase
            ev.findings.append(Finding(
                "data", "missing_rate", name, rise,
                f"feature {name}: {cur_missing:.1%} of rows missing vs {ref_missing:.1%} in the reference "
                f"(threshold +{m.increase:.0%}); check the upstream pipeline that fills it.",
                "feature", strength, 3))
    ev.metrics["drift"] = {k: round(v, 6) for k, v in drift_scores.items()}
    ev.metrics["missing"] = {k: round(v, 6) for k, v in missing_rates.items()}


def _numeric_findings(checks: ChecksSpec, name: str, r: NumericStats, c: NumericStats, psi: float | None,
                      ev: Evaluation) -> None:
    d = checks.drift
    if checks.stuck is not None and c.count >= checks.stuck.min_rows and r.min is not None and r.max is not None \
            and c.min is not None and c.min == c.max and r.max > r.min:
        ev.findings.append(Finding(
            "data", "stuck_values", name, 1.0,
            f"feature {name}: every one of {c.count} values in the window is {_fmt(c.min)} "
            f"(reference ranges {_fmt(r.min)}..{_fmt(r.max)}); the feature looks stuck at a default.",
            "feature", 3.0, 3))
        return
    if d is None or psi is None or c.count < d.min_rows:
        return
    outside = (c.below + (c.count - c.cum[-1])) / c.count if c.cum else 0.0
    strength = max(psi / d.psi, outside / d.out_of_range_share)
    if strength >= 1.0:
        scale = ""
        if r.mean and c.mean and r.mean != 0 and abs(c.mean / r.mean) > 5:
            scale = f" (mean ×{c.mean / r.mean:.3g}: a unit or scale change?)"
        ev.findings.append(Finding(
            "data", "psi", name, psi,
            f"feature {name}: PSI {psi:.2f} against the reference (threshold {d.psi}); mean "
            f"{_fmt(r.mean)} → {_fmt(c.mean)}{scale}, {outside:.0%} of values outside the reference range "
            f"{_fmt(r.min)}..{_fmt(r.max)}.",
            "feature", strength, 2))


def _categorical_findings(checks: ChecksSpec, name: str, rc: dict[str, int], cc: dict[str, int], psi: float,
                          unseen: float, ev: Evaluation) -> None:
    d = checks.drift
    seen = sum(v for k, v in cc.items() if k != NULL_KEY)
    if checks.stuck is not None and seen >= checks.stuck.min_rows:
        live = [k for k, v in cc.items() if k != NULL_KEY and v > 0]
        ref_total = sum(v for k, v in rc.items() if k != NULL_KEY)
        ref_top = max((v for k, v in rc.items() if k != NULL_KEY), default=0)
        if len(live) == 1 and ref_total and ref_top / ref_total < 0.95:
            ev.findings.append(Finding(
                "data", "stuck_values", name, 1.0,
                f"feature {name}: every value in the window is {live[0]!r}, while the reference "
                f"has {len([k for k in rc if k != NULL_KEY])} values; the feature looks stuck.",
                "feature", 3.0, 3))
            return
    if d is None or seen < d.min_rows:
        return
    strength = max(psi / d.psi, unseen / d.unseen_share)
    if strength >= 1.0:
        new = sorted((k for k in cc if k not in rc and k != NULL_KEY), key=lambda k: -cc[k])[:3]
        extra = f"; unseen values {', '.join(repr(x) for x in new)} make up {unseen:.0%}" if new else ""
        ev.findings.append(Finding(
            "data", "unseen_categories" if unseen >= d.unseen_share else "psi", name,
            max(psi, unseen),
            f"feature {name}: category PSI {psi:.2f} against the reference (threshold {d.psi}){extra}.",
            "feature", strength, 2))


def _quality_check(checks: ChecksSpec, layout: Layout, ref: WindowSummary, cur: WindowSummary,
                   ev: Evaluation) -> None:
    q = checks.quality
    metric = (q.metric if q is not None and q.metric else None) or (
        "accuracy" if layout.task == "classification" else "mae")
    ref_total, cur_total = ref.total(), cur.total()
    ref_value, cur_value = quality_value(ref_total, metric), quality_value(cur_total, metric)
    per_version = {v: quality_value(s, metric) for v, s in cur.versions.items()}
    ev.metrics["quality"] = {"metric": metric, "value": cur_value, "reference": ref_value,
                             "per_version": {k: v for k, v in per_version.items() if v is not None}}
    if q is None or ref_value is None or cur_value is None or cur_total.labelled < q.min_labels:
        return
    drop = degradation(ref_value, cur_value, metric)
    min_version_labels = max(30, q.min_labels // 4)
    bad: list[tuple[float, str]] = []
    good = 0
    for version, stats in cur.versions.items():
        value = quality_value(stats, metric)
        if value is None or stats.labelled < min_version_labels:
            continue
        d = degradation(ref_value, value, metric)
        if d >= q.drop:
            bad.append((d, version))
        else:
            good += 1
    new_versions = [v for _, v in bad if v not in ref.versions]
    if bad and (good or new_versions):
        worst_drop, worst = max(bad)
        strength = worst_drop / q.drop
        value = quality_value(cur.versions[worst], metric)
        ev.findings.append(Finding(
            "model", f"{metric}_by_version", worst, worst_drop,
            f"model version {worst}: {metric} {_fmt(value)} on its {cur.versions[worst].labelled} labelled "
            f"rows vs {_fmt(ref_value)} in the reference, while "
            + ("other versions hold steady" if good else "it is new in this window")
            + "; roll it back.",
            "model_version", strength, 4))
        return
    if drop >= q.drop:
        strength = drop / q.drop
        ev.findings.append(Finding(
            "model", metric, "concept", drop,
            f"{metric} {_fmt(cur_value)} on {cur_total.labelled} labelled rows vs {_fmt(ref_value)} in the "
            f"reference (threshold {q.drop}); no single version or input explains it: retrain on recent data.",
            "concept", strength, 1))


def _service_checks(checks: ChecksSpec, ref: WindowSummary, cur: WindowSummary, ev: Evaluation,
                    current_minutes: float, reference_minutes: float | None) -> None:
    lat = checks.latency
    quantile = lat.quantile if lat is not None else 0.95
    ref_q, cur_q = ref.latency_quantile(quantile), cur.latency_quantile(quantile)
    ev.metrics["latency"] = {"quantile": quantile, "value_ms": cur_q, "reference_ms": ref_q}
    if lat is not None and ref_q and cur_q and cur_q / ref_q >= lat.ratio and cur_q - ref_q >= lat.min_ms:
        strength = (cur_q / ref_q) / lat.ratio
        ev.findings.append(Finding(
            "service", "latency", "latency_ms", cur_q / ref_q,
            f"latency p{quantile * 100:g} {cur_q:.0f} ms vs {ref_q:.0f} ms in the reference "
            f"(×{cur_q / ref_q:.2f}, threshold ×{lat.ratio}); escalate to the serving owner.",
            "latency", strength, 2))
    ref_rate = ref.errors / ref.error_count if ref.error_count else None
    cur_rate = cur.errors / cur.error_count if cur.error_count else None
    ev.metrics["error_rate"] = cur_rate
    er = checks.errors
    if er is not None and cur_rate is not None and ref_rate is not None:
        rise = cur_rate - ref_rate
        if rise >= er.rate and cur_rate >= ref_rate * er.ratio:
            strength = rise / er.rate
            ev.findings.append(Finding(
                "service", "error_rate", "error", cur_rate,
                f"error rate {cur_rate:.1%} vs {ref_rate:.1%} in the reference (threshold +{er.rate:.0%}); "
                "escalate to the serving owner.", "errors", strength, 2))
    cur_rpm = cur.rows / current_minutes if current_minutes > 0 else None
    ref_rpm = ref.rows / reference_minutes if reference_minutes else None
    ev.metrics["rows_per_minute"] = cur_rpm
    tr = checks.traffic
    if tr is not None and cur_rpm is not None and ref_rpm:
        ratio = cur_rpm / ref_rpm
        if ratio <= tr.drop or ratio >= tr.spike:
            strength = (tr.drop / max(ratio, 1e-9)) if ratio <= tr.drop else ratio / tr.spike
            what = "dropped" if ratio <= tr.drop else "spiked"
            ev.findings.append(Finding(
                "service", "traffic", "traffic", ratio,
                f"traffic {what}: {cur_rpm:.1f} rows/min vs {ref_rpm:.1f} in the reference (×{ratio:.2f}); "
                "check the callers and the logging pipeline.", "traffic", strength, 2))


# ---------------------------------------------------------------- diagnosis


def to_diagnosis(ev: Evaluation, onset: datetime, runtime_ms: float) -> dict[str, Any]:
    """The docs/contracts.md diagnose contract built from a monitor's findings."""
    if not ev.findings:
        return {"cause": "none", "culprit": {"kind": "none", "name": ""}, "confidence": 0.9,
                "onset": iso(onset), "recommended_mitigation": "none", "findings": [],
                "runtime_ms": round(runtime_ms, 1)}
    top = ev.findings[0]
    confidence = min(0.95, 0.5 + 0.15 * math.log2(max(top.strength, 1.0)))
    return {
        "cause": top.cause,
        "culprit": {"kind": top.culprit_kind, "name": top.subject},
        "confidence": round(confidence, 3),
        "onset": iso(onset),
        "recommended_mitigation": MITIGATION.get(top.culprit_kind, "none"),
        "findings": [f.to_dict() for f in ev.findings],
        "runtime_ms": round(runtime_ms, 1),
    }
