"""Which dependency, which resource, which change: the verdict from a service's series.

Every series (the service's and each dependency's) is scored against its reference window
(`series_scores`). The culprit is the cause that moved first: the earliest significant change
among the candidates, ties (within a few minutes) going to the most upstream kind — a traffic
surge, then a dependency, then a resource of the service, then the service's own errors or
latency. A dependency whose series moved before the service's symptom explains it; a resource
that moved first (a CPU at its limit, memory growing into restarts) is the resource; the
service's own errors or latency with nothing earlier is just that. Nothing significant: "none".
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from diagnostics.findings import Finding, Trigger, iso_utc
from diagnostics.log import ChangeRecord
from diagnostics.series import Series, SeriesSet
from diagnostics.series_scores import (
    GATES,
    MIN_REF_POINTS,
    SeriesScore,
    detect_onset,
    fresh,
    level_points,
    rolling_level,
    score_series,
    silences,
)
from diagnostics.trigger import pick_trigger

REFERENCE_S = 5400.0  # reference: the 90 minutes before the onset ...
GUARD_S = 600.0  # ... less the last 10 (a given onset is often the alert, minutes late)
CURRENT_S = 5400.0  # changes are looked for up to 90 minutes after the onset
DETECT_REFERENCE_S = 3600.0
TIE_S = 120.0
NO_SYMPTOM_DISCOUNT = 0.75  # a dependency moved but the service shows no symptom of it
VANISH_S = 180.0  # a series silent this long stopped reporting (longer than a few lost scrapes)
VANISHED_SCORE = 0.8
# series of one target going silent together: a `rate()` stops within its window, a gauge is held
# for Prometheus' 5-minute lookback, so "together" is within 7 minutes
VANISH_TIE_S = 420.0
REQUEST_KINDS = ("latency", "errors", "traffic")
MEAN_NOTE = "the histogram's mean latency, its _sum / _count"

# candidate role -> precedence at a tie (lower = more upstream). "downtime": the service's own
# traffic series stopped reporting (its dependencies then go quiet too: they get no calls)
PRECEDENCE = {
    "downtime": 0,
    "traffic_surge": 0,
    "dependency": 1,
    "resource": 2,
    "errors": 3,
    "latency": 3,
    "traffic_drop": 4,
}


@dataclass
class Candidate:
    role: str  # a PRECEDENCE key
    kind: str  # the culprit kind of the contract
    name: str
    change_index: int
    score: float
    evidence: list[SeriesScore]


@dataclass
class SeriesVerdict:
    """The series' own verdict, before it is weighed with the prediction log."""

    culprit_kind: str  # "none" when nothing moved
    culprit_name: str
    confidence: float
    onset: float
    onset_detected: bool
    trigger: Trigger | None
    findings: list[Finding]
    scores: list[SeriesScore] = field(default_factory=list)
    culprit_change: float | None = None
    times: np.ndarray | None = None  # the grid of the scored series (for figures)
    culprit_series: tuple[str, ...] = ()  # labels of the series that named the culprit

    @property
    def found(self) -> bool:
        return self.culprit_kind != "none"


def diagnose_series(
    sset: SeriesSet,
    *,
    onset: float | None = None,
    changes: list[ChangeRecord] | None = None,
    own_names: tuple[str, ...] = (),
) -> SeriesVerdict:
    """The culprit among the series. ``own_names``: other names the service's own changes carry
    (its registered model, say); the trigger is only ever a change of these or of the dependency."""
    changes = changes or []
    times = sset.times
    notes = [Finding("none", "source_unavailable", "prometheus", 0.0, p) for p in sset.problems]
    usable = [s for s in sset.series if np.isfinite(s.values).any()]
    n = times.shape[0]
    if not usable or n < 4:
        at = onset if onset is not None else (float(times[-1]) if n else 0.0)
        return SeriesVerdict("none", "", 0.0, at, False, None, notes)
    step = sset.step
    k = level_points(step)
    silent = _silences(usable, step)
    usable = [_silence_as_no_requests(s, silent[s.label], times) if s.kind == "traffic" else s for s in usable]
    means = {id(s): _mean_view(s) for s in usable if s.mean is not None}
    levels = {id(s): rolling_level(s.scored, k) for s in [*usable, *means.values()]}

    def judged(group: list[Series]) -> list[Series]:  # each series, and a latency histogram's mean beside it
        return [v for s in group for v in (s, means.get(id(s))) if v is not None]

    if onset is None:
        # the service's own series say when it started to hurt; a dependency that moved while the
        # service's symptom stayed under its gate still dates the incident
        own = judged([s for s in usable if not s.owner])
        idx = detect_onset(own, [levels[id(s)] for s in own], times, DETECT_REFERENCE_S) if own else None
        deps = judged([s for s in usable if s.owner])
        if idx is None and deps:
            idx = detect_onset(deps, [levels[id(s)] for s in deps], times, DETECT_REFERENCE_S)
        onset_idx = idx if idx is not None else int(0.75 * n)
    else:
        onset_idx = int(np.searchsorted(times, onset, side="left"))
    onset_at = float(times[min(onset_idx, n - 1)]) if onset is None else float(onset)

    guard = int(round(GUARD_S / step))
    ref_stop = max(0, onset_idx - guard)
    ref_start = max(0, ref_stop - int(round(REFERENCE_S / step)))
    search_to = onset_idx + int(round(CURRENT_S / step))
    ref = slice(ref_start, ref_stop)

    def scored(s: Series) -> SeriesScore:
        return score_series(s, levels[id(s)], ref, ref_stop, search_to)

    scores = [_either(scored(s), scored(means[id(s)]) if id(s) in means else None) for s in usable]

    vanished = _vanished_dependencies(usable, silent, ref_start, ref_stop, search_to, step)
    gone = _service_gone(usable, silent, ref_start, ref_stop, search_to, step)
    for sc in scores:
        sc.follows_load = _follows_the_load(sc, scores, levels)
    candidates = _candidates(scores, sset, silent, vanished, ref_stop, search_to)
    findings = _findings(scores, times, sset) + _vanished_findings(vanished, usable, times) + notes
    if gone is not None:
        candidates.append(_gone_candidate(sset.service, gone, scores))
        findings.append(_gone_finding(sset.service, gone, usable, times))
    if not candidates:
        strongest = max((s.score for s in scores), default=0.0)
        findings.sort(key=lambda f: f.score, reverse=True)
        return SeriesVerdict(
            "none", "", round(1.0 - strongest, 4), onset_at, False, None, findings, scores, None, times
        )

    first = min(c.change_index for c in candidates)
    tie = max(3, int(round(TIE_S / step)))
    tied = [c for c in candidates if c.change_index <= first + tie]
    tied.sort(key=lambda c: (PRECEDENCE[c.role], -c.score))
    top = tied[0]
    has_symptom_series = any(not s.owner and s.kind in ("latency", "errors") for s in usable)
    symptom = any(c.role in ("errors", "latency") for c in candidates)
    score = top.score
    if top.role == "dependency" and has_symptom_series and not symptom:
        score *= NO_SYMPTOM_DISCOUNT
    rival = max((c.score for c in tied[1:] if c.role == top.role and c.name != top.name), default=0.0)
    confidence = score * (1.0 - 0.5 * rival / max(score, 1e-9))
    change_at = float(times[top.change_index])

    services = [top.name] if top.kind == "dependency" else [sset.service, *own_names]
    slack = max(4 * step, 150.0)
    at = min(change_at, onset_at) if onset is not None else change_at
    kind = "downtime" if top.role == "downtime" else top.kind
    trigger = pick_trigger(changes, culprit_kind=kind, at=at, services=services, slack_s=slack)

    culprit_labels = {s.series.label for s in top.evidence}
    if (top.role == "dependency" and top.name in vanished) or (top.role == "downtime" and gone is not None):
        culprit_labels.add(top.name)
    findings.sort(key=lambda f: (f.subject not in culprit_labels, -f.score))
    return SeriesVerdict(
        top.kind,
        top.name,
        round(float(np.clip(confidence, 0.0, 1.0)), 4),
        change_at if onset is None else onset_at,
        onset is None,
        trigger,
        findings,
        scores,
        change_at,
        times,
        tuple(sorted(s.series.label for s in top.evidence)),
    )


def _mean_view(s: Series) -> Series:
    """A latency histogram's mean latency as a series to judge: the same key and owner, so it names
    the same culprit as the quantile it stands beside."""
    return dataclasses.replace(s, judged=s.mean, judged_note=MEAN_NOTE, mean=None)


def _either(quantile: SeriesScore, mean: SeriesScore | None) -> SeriesScore:
    """A latency histogram read two ways: its quantile (re-read from the bucket shares, an
    interpolation between edges) and its mean (`_sum` / `_count`, exact whatever the shape). Each
    estimate is judged on its own reference by the same gate; the latency moved when either did,
    from the earlier of the two. The mean is what a slowdown of every request moves by its true
    size where the quantile's interpolation cannot (a fast and a slow population: a x1.3 slowdown
    of both reads x1.17-x1.5 at the p95); the quantile is what a slow tail moves when the typical
    request does not. The other reading is kept on the score for the finding to show."""
    if mean is None:
        return quantile
    mean_first = mean.significant and (
        not quantile.significant
        or (mean.change_index or 0) < (quantile.change_index or 0)
        or (mean.change_index == quantile.change_index and mean.score > quantile.score)
    )
    chosen, other = (mean, quantile) if mean_first else (quantile, mean)
    chosen.second = other
    return chosen


def _silences(usable: list[Series], step: float) -> dict[str, np.ndarray]:
    """Per series label: where it stopped reporting while another target kept reporting fresh values."""
    points = max(int(round(VANISH_S / step)), 9)  # longer than `filled`'s carry of lost scrapes
    alive: dict[str, np.ndarray] = {}
    for s in usable:
        now_fresh = fresh(s.values)
        alive[s.owner] = alive[s.owner] | now_fresh if s.owner in alive else now_fresh
    out = {}
    for s in usable:
        others = [m for owner, m in alive.items() if owner != s.owner]
        out[s.label] = silences(s.values, points, np.logical_or.reduce(others) if others else None)
    return out


def _silence_as_no_requests(s: Series, silent: np.ndarray, times: np.ndarray) -> Series:
    """A request rate that stopped reporting counts no requests: the target is down or unreachable
    (`sum(rate(...))` of a target that is gone is no data, not zero)."""
    if not silent.any():
        return s
    since = iso_utc(float(times[int(np.argmax(silent))]))
    return dataclasses.replace(
        s,
        judged=np.where(silent, 0.0, s.scored),
        judged_note=f"no data from {since} read as no requests: the target stopped reporting",
    )


def _silence_start(silent: np.ndarray, lo: int, hi: int) -> int | None:
    cur = silent[lo:hi]
    return lo + int(np.argmax(cur)) if cur.any() else None


def _went_silent(
    group: list[Series], silent: dict[str, np.ndarray], ref_start: int, ref_stop: int, search_to: int, tie: int
) -> tuple[int, int] | None:
    """(when, how many) if every series of ``group`` that reported in the reference stopped
    reporting in the current window at about the same time (``tie`` points); None if one of them
    kept reporting."""
    starts = []
    for s in group:
        if int(np.isfinite(s.values[ref_start:ref_stop]).sum()) < MIN_REF_POINTS:
            continue  # a series that never reported (no 5xx yet, say) says nothing either way
        start = _silence_start(silent[s.label], ref_stop, search_to)
        if start is None:
            return None
        starts.append(start)
    if not starts or max(starts) - min(starts) > tie:
        return None
    return min(starts), len(starts)


def _serving(group: list[Series]) -> list[Series]:
    """The series a target only has while it answers requests (its latency, errors, request rate);
    all of them when it has none. A process that is up but unreachable keeps exporting its CPU and
    memory while every request-derived series goes silent (no requests: no rate, no quantile)."""
    served = [s for s in group if s.kind in REQUEST_KINDS]
    return served or group


def _stopped_serving(
    own: list[Series], silent: dict[str, np.ndarray], ref_start: int, ref_stop: int, search_to: int, step: float
) -> tuple[int, int] | None:
    """(when, series gone) if one target stopped serving: its request-derived series silent together.

    While its process series go on, one request series alone is not enough: a 5xx counter is gone
    after a restart until the next error, and the error share with it, while the target serves.
    """
    tie = max(3, int(round(VANISH_TIE_S / step)))
    quiet = _went_silent(_serving(own), silent, ref_start, ref_stop, search_to, tie)
    if quiet is None:
        return None
    at, count = quiet
    gone = sum(_silence_start(silent[s.label], ref_stop, search_to) is not None for s in own)
    if gone < len(own) and count < 2:
        return None
    return at, gone


def _vanished_dependencies(
    usable: list[Series], silent: dict[str, np.ndarray], ref_start: int, ref_stop: int, search_to: int, step: float
) -> dict[str, tuple[int, int, int]]:
    """Dependencies that stopped serving in the current window after reporting in the reference:
    name -> (when, series gone, series in all). Stopped serving: its request-derived series
    silent at about the same time (its process series may go on: up but unreachable)."""
    out: dict[str, tuple[int, int, int]] = {}
    for dep in sorted({s.owner for s in usable if s.owner}):
        own = [s for s in usable if s.owner == dep]
        stopped = _stopped_serving(own, silent, ref_start, ref_stop, search_to, step)
        if stopped is not None:
            out[dep] = (stopped[0], stopped[1], len(own))
    return out


def _service_gone(
    usable: list[Series], silent: dict[str, np.ndarray], ref_start: int, ref_stop: int, search_to: int, step: float
) -> int | None:
    """A service with no request-rate series that stopped serving: its latency and errors (or, with
    neither, every series of its own) went silent together while its dependencies kept reporting.
    With a request-rate series, that series' silence says it (read as no requests)."""
    own = [s for s in usable if not s.owner]
    if not own or any(s.kind == "traffic" for s in own):
        return None
    stopped = _stopped_serving(own, silent, ref_start, ref_stop, search_to, step)
    return None if stopped is None else stopped[0]


def _vanished_findings(
    vanished: dict[str, tuple[int, int, int]], usable: list[Series], times: np.ndarray
) -> list[Finding]:
    out = []
    for dep, (at, gone, count) in vanished.items():
        since = iso_utc(float(times[at]))
        if gone >= count:
            text = (
                f"{dep} stopped reporting at {since}: none of its {count} series has data since (down or unreachable)."
            )
        else:
            text = (
                f"{dep} stopped serving at {since}: {gone} of its {count} series (its requests) have no data since, "
                "its process series still report (up but unreachable, or not answering)."
            )
        details = {"owner": dep, "vanished": since, "series": gone, "significant": True}
        out.append(Finding("service", "series_dependency", dep, VANISHED_SCORE, text, details))
    return out


def _gone_candidate(service: str, at: int, scores: list[SeriesScore]) -> Candidate:
    """The service down, named by the service itself: it has no request-rate key to name."""
    evidence = [sc for sc in scores if not sc.series.owner and sc.series.kind in REQUEST_KINDS]
    return Candidate("downtime", "traffic", service, at, VANISHED_SCORE, evidence)


def _gone_finding(service: str, at: int, usable: list[Series], times: np.ndarray) -> Finding:
    own = [s.key for s in _serving([s for s in usable if not s.owner])]
    since = iso_utc(float(times[at]))
    text = (
        f"{service} stopped serving at {since}: its {', '.join(own)} have no data since while its dependencies "
        "kept reporting (down or unreachable; the catalog has no request-rate series to show it)."
    )
    details = {"owner": service, "vanished": since, "series": len(own), "significant": True}
    return Finding("service", "series_traffic", service, VANISHED_SCORE, text, details)


def _follows_the_load(sc: SeriesScore, scores: list[SeriesScore], levels: dict[int, np.ndarray]) -> bool:
    """A resource that rose only as much as the service's request rate did: busier, not broken.

    CPU follows traffic (a diurnal peak of +35% requests is +35% CPU), the service's and its
    dependencies' alike (their load is its calls). Such a resource stays a finding; it is not a
    cause unless it rose by the resource gate *beyond* the load, or sits pinned at a limit.
    """
    if sc.series.kind != "resource" or not sc.significant or sc.flat_top or sc.peak_index is None:
        return False
    load = next((t for t in scores if not t.series.owner and t.series.kind == "traffic" and t.reference), None)
    if load is None or load.reference is None or load.reference.median <= 0:
        return False
    now = float(levels[id(load.series)][sc.peak_index])
    load_ratio = now / load.reference.median
    if not math.isfinite(load_ratio) or load_ratio <= 1.0 or not math.isfinite(sc.ratio):
        return False
    return sc.ratio / load_ratio < GATES["resource"].up_ratio


def _candidates(
    scores: list[SeriesScore],
    sset: SeriesSet,
    silent: dict[str, np.ndarray],
    vanished: dict[str, tuple[int, int, int]],
    ref_stop: int,
    search_to: int,
) -> list[Candidate]:
    out: list[Candidate] = []
    by_dep: dict[str, list[SeriesScore]] = {}
    for dep, (at, _, _) in vanished.items():
        evidence = [sc for sc in scores if sc.series.owner == dep]
        out.append(Candidate("dependency", "dependency", dep, at, VANISHED_SCORE, evidence))
    for sc in scores:
        if not sc.significant or sc.change_index is None or sc.follows_load:
            continue
        s = sc.series
        if s.owner:
            # a dependency's traffic follows its callers; not a cause
            if s.kind != "traffic" and s.owner not in vanished:
                by_dep.setdefault(s.owner, []).append(sc)
            continue
        if s.kind == "traffic":
            gone = _silence_start(silent.get(s.label, np.zeros(0, dtype=bool)), ref_stop, search_to)
            if gone is not None and sc.direction == "down":
                out.append(Candidate("downtime", "traffic", s.key, min(gone, sc.change_index), sc.score, [sc]))
                continue
            role = "traffic_surge" if sc.direction == "up" else "traffic_drop"
            out.append(Candidate(role, "traffic", s.key, sc.change_index, sc.score, [sc]))
        elif s.kind == "resource":
            out.append(Candidate("resource", "resource", s.key, sc.change_index, sc.score, [sc]))
        else:
            out.append(Candidate(s.kind, s.kind, s.key, sc.change_index, sc.score, [sc]))
    for dep, scs in by_dep.items():
        start = min(sc.change_index for sc in scs if sc.change_index is not None)
        out.append(Candidate("dependency", "dependency", dep, start, max(sc.score for sc in scs), scs))
    return out


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "n/a"
    a = abs(v)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e4, "k")):
        if a >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def _findings(scores: list[SeriesScore], times: np.ndarray, sset: SeriesSet) -> list[Finding]:
    out: list[Finding] = []
    for sc in scores:
        if sc.reference is None:
            continue
        s = sc.series
        if not sc.significant and sc.score < 0.1:
            continue
        peak = float(sc.reference.median * sc.ratio) if math.isfinite(sc.ratio) else float("nan")
        peak_level = float(np.nan_to_num(peak, nan=0.0))
        moved = "dropped" if sc.direction == "down" else "rose"
        name = f"{s.label} (mean)" if s.judged_note == MEAN_NOTE else s.label
        text = (
            f"{name} {moved} from {_fmt(sc.reference.median)} to {_fmt(peak_level)}"
            f" (x{sc.ratio:.2f}, robust z {sc.z:.1f})"
            if math.isfinite(sc.ratio)
            else f"{name} {moved} from {_fmt(sc.reference.median)} (robust z {sc.z:.1f})"
        )
        if sc.significant and sc.change_index is not None:
            text += f", starting {iso_utc(float(times[sc.change_index]))}"
        if sc.restarts:
            text += f"; {sc.restarts} restart(s): it grew and dropped back (sawtooth)"
        if sc.flat_top:
            text += "; pinned at its maximum (a limit)"
        if sc.follows_load:
            text += "; no more than the request rate rose (busier, not broken)"
        if not sc.significant:
            text += "; within its usual range"
        if s.judged_note:
            text += f" ({s.judged_note})"
        second = sc.second
        if second is not None and second.reference is not None and math.isfinite(second.ratio):
            what = "its mean" if second.series.judged_note == MEAN_NOTE else "the quantile"
            text += f"; {what} x{second.ratio:.2f}" + ("" if second.significant else ", within its usual range")
        role = "dependency" if s.owner else s.kind
        details = {
            "owner": s.owner or sset.service,
            "key": s.key,
            "kind": s.kind,
            "reference_median": sc.reference.median,
            "reference_spread": sc.reference.spread,
            "z": sc.z,
            "ratio": sc.ratio,
            "significant": sc.significant,
            "change": iso_utc(float(times[sc.change_index])) if sc.change_index is not None else None,
            "restarts": sc.restarts,
            "flat_top": sc.flat_top,
        }
        if sc.second is not None:
            details["estimate"] = "mean" if s.judged_note == MEAN_NOTE else "quantile"
            details["other_estimate_ratio"] = sc.second.ratio
        out.append(Finding("service", f"series_{role}", s.label, sc.score, text + ".", details))
    return out
