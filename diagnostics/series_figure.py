"""The service figure: the top series around the onset, the culprit first and in red.

`figure_data` gives its numbers as plain JSON (stored with the incident's diagnosis): at most
`MAX_SERIES` series, the hour either side of the onset, thinned to `MAX_POINTS` points each.
`draw_png` draws them, one panel per series with the moment the culprit began to move and the
onset marked; the runbook's diagnosis (for the incident card) and the postmortem both draw it
this one way. matplotlib is imported when a figure is drawn, not when diagnostics is (the
`diagnose` CLI never draws), and runs on explicit Agg figures (no pyplot state: safe on a
worker thread).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
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


def draw_png(data: dict[str, Any], title: str, path: Path) -> Path:
    """The figure of ``data`` (`figure_data`'s numbers) as a PNG at ``path``."""
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = data.get("series") or []
    days = 86400.0  # matplotlib's date numbers: days since 1970-01-01 UTC
    fig = Figure(figsize=(8, 1.7 * max(len(series), 1) + 0.6))
    axes = fig.subplots(max(len(series), 1), 1, sharex=True, squeeze=False)[:, 0]
    x = np.asarray([float(t) / days for t in data.get("times") or []], dtype=float)
    marks = [
        (data.get("culprit_change"), "culprit began to move", "tab:red", "-"),
        (data.get("onset"), "onset", "tab:gray", ":"),
    ]
    for ax, s in zip(axes, series, strict=False):
        values = np.asarray([np.nan if v is None else float(v) for v in s.get("values") or []], dtype=float)
        culprit = bool(s.get("culprit"))
        color, width = ("tab:red", 1.6) if culprit else ("tab:blue", 1.0)
        ax.plot(x[: values.shape[0]], values, color=color, linewidth=width)
        label = f"{s.get('label')} ({s.get('kind')})" + ("  ← culprit" if culprit else "")
        ax.set_title(
            label,
            fontsize=9,
            loc="left",
            color="tab:red" if culprit else "black",
            fontweight="bold" if culprit else "normal",
        )
        for at, text, color, style in marks:
            if at:
                when = datetime.fromisoformat(str(at).replace("Z", "+00:00")).timestamp() / days
                ax.axvline(when, color=color, linestyle=style, linewidth=1.0, label=text)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, loc="upper left")
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
    axes[-1].set_xlabel("time (UTC)")
    fig.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path
