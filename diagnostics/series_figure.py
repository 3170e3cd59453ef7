"""The numbers behind the service figure: the top series around the onset, the culprit first.

Plain JSON (stored with the incident's diagnosis, drawn by the postmortem): at most
`MAX_SERIES` series, the hour either side of the onset, thinned to `MAX_POINTS` points each.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from diagnostics.findings import iso_utc
from diagnostics.service_causes import SeriesVerdict

MAX_SERIES = 4
MAX_POINTS = 240
SPAN_S = 3600.0


def figure_data(v: SeriesVerdict) -> dict[str, Any] | None:
    """None when there is nothing to draw (no series were read)."""
    if v.times is None or not v.scores:
        return None
    culprit_labels = list(v.culprit_series) or [
        sc.series.label
        for sc in v.scores
        if v.found
        and sc.significant
        and (
            (sc.series.owner == v.culprit_name)
            if v.culprit_kind == "dependency"
            else (not sc.series.owner and sc.series.key == v.culprit_name)
        )
    ]
    ranked = sorted(v.scores, key=lambda sc: (sc.series.label not in culprit_labels, -sc.score))[:MAX_SERIES]
    times = v.times
    at = v.culprit_change if v.culprit_change is not None else v.onset
    keep = np.flatnonzero((times >= at - SPAN_S) & (times <= at + SPAN_S))
    if keep.size == 0:
        keep = np.arange(times.shape[0])
    keep = keep[:: max(1, math.ceil(keep.size / MAX_POINTS))]
    return {
        "onset": iso_utc(v.onset),
        "culprit_change": iso_utc(v.culprit_change) if v.culprit_change is not None else None,
        "culprit": {"kind": v.culprit_kind, "name": v.culprit_name},
        "times": [float(t) for t in times[keep]],
        "series": [
            {
                "label": sc.series.label,
                "kind": sc.series.kind,
                "culprit": sc.series.label in culprit_labels,
                "values": [None if not math.isfinite(x) else float(x) for x in sc.series.values[keep]],
            }
            for sc in ranked
        ],
    }
