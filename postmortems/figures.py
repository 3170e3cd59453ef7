"""The postmortem's two charts, as PNG files written beside the markdown.

matplotlib runs on the Agg backend with explicit Figure objects (no pyplot state), so a
draft made on a worker thread of the service never touches a GUI or another thread's figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from postmortems.impact import MetricSeries  # noqa: E402


@dataclass(frozen=True)
class Marker:
    """A vertical line on the metric chart: onset, alert, a deploy, a mitigation."""

    at: datetime
    label: str
    kind: str  # "onset" | "alert" | "change" | "mitigation"


_MARKER_STYLE = {
    "onset": {"color": "tab:red", "linestyle": ":"},
    "alert": {"color": "tab:orange", "linestyle": "-."},
    "change": {"color": "tab:purple", "linestyle": "--"},
    "mitigation": {"color": "tab:green", "linestyle": "-"},
}


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def plot_metric(series: MetricSeries, markers: list[Marker], title: str, path: Path) -> Path:
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    times = mdates.date2num(series.times)
    ax.plot(times, series.values, marker=".", color="tab:blue", label=series.name)
    if series.times:
        lo, hi = min(series.times), max(series.times)
        span = hi - lo
        for marker in markers:
            if lo - span <= marker.at <= hi + span:  # markers far outside the data only squash the chart
                style = _MARKER_STYLE[marker.kind]
                ax.axvline(float(mdates.date2num(marker.at)), label=marker.label, linewidth=1.4,
                           color=style["color"], linestyle=style["linestyle"])
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(series.name)
    ax.set_xlabel("time (UTC)")
    locator = mdates.AutoDateLocator(tz="UTC")
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz="UTC"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def plot_feature_distribution(reference: pd.Series, current: pd.Series, feature: str, path: Path) -> Path:
    """Numeric features as overlaid densities on shared bins; categorical ones as share per category."""
    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    ref_missing = float(reference.isna().mean()) if len(reference) else 0.0
    cur_missing = float(current.isna().mean()) if len(current) else 0.0
    if pd.api.types.is_numeric_dtype(reference) and pd.api.types.is_numeric_dtype(current):
        ref, cur = reference.dropna().to_numpy(float), current.dropna().to_numpy(float)
        both = np.concatenate([ref, cur]) if len(ref) + len(cur) else np.array([0.0])
        edges = [float(e) for e in np.histogram_bin_edges(both, bins=30)]
        if len(ref):
            ax.hist(ref, bins=edges, density=True, alpha=0.5, label=f"reference (n={len(ref)})")
        if len(cur):
            ax.hist(cur, bins=edges, density=True, alpha=0.5, label=f"current (n={len(cur)})")
        ax.set_ylabel("density")
    else:
        ref_share = reference.astype(str).value_counts(normalize=True)
        cur_share = current.astype(str).value_counts(normalize=True)
        cats = list((ref_share.add(cur_share, fill_value=0)).sort_values(ascending=False).index[:12])
        x = np.arange(len(cats))
        ax.bar(x - 0.2, [ref_share.get(c, 0.0) for c in cats], width=0.4, label="reference")
        ax.bar(x + 0.2, [cur_share.get(c, 0.0) for c in cats], width=0.4, label="current")
        ax.set_xticks(x, cats, rotation=30, fontsize=7)
        ax.set_ylabel("share of rows")
    ax.set_title(
        f"feature {feature}: reference vs current (missing {ref_missing:.0%} → {cur_missing:.0%})", fontsize=10
    )
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)
