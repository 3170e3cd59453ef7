"""The serving simulation: traffic over time, requests resampled from real data, model versions,
labels, latency and errors, assembled into a prediction log (docs/contracts.md columns).

A fault (see `faults.py`) hooks into the stages in order: traffic rate, served inputs, version
rollout, labels, service behaviour, change events. Healthy behaviour has natural noise: a diurnal
traffic wave, a ten-minute batch burst, resampling and measurement jitter, partial and delayed
labelling, rare errors with one two-minute blip, a load-dependent latency with rare pauses, and a
daily wave in an unused feature. These transients may fall on either side of the onset; nothing
changes for good after the onset unless a fault makes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from benchmarks.scenarios.datasets import TIER_COLUMN, Source, load_source, model_inputs, production_model

REGIONS: tuple[str, ...] = ("eu_west", "us_east", "apac", "latam")
REGION_SHARES: tuple[float, ...] = (0.35, 0.30, 0.22, 0.13)
UNUSED_FEATURE = "session_length_s"  # logged context the model never reads
LABELLED_SHARE = 0.85
START = pd.Timestamp("2026-11-26T00:00:00Z")
SERVICE = "fraud-scorer"


@dataclass
class Ctx:
    """Everything one scenario's simulation builds, stage by stage."""

    source: Source
    rng: np.random.Generator
    variant: int
    split_seed: int
    start: pd.Timestamp
    onset: pd.Timestamp
    end: pd.Timestamp
    base_version: str
    rows_per_minute: float
    label_delay_min: float = 0.0  # the newest rows have no label yet
    labels_withheld: bool = False  # no label at all since the onset (labels arrive weeks later)
    ts: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="datetime64[ns]"))
    after: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    inputs: pd.DataFrame = field(default_factory=pd.DataFrame)  # what is logged as features
    clean_inputs: pd.DataFrame = field(default_factory=pd.DataFrame)  # the same requests had nothing broken
    served: pd.DataFrame = field(default_factory=pd.DataFrame)  # what the model reads
    truth_y: np.ndarray = field(default_factory=lambda: np.empty(0))
    labels: np.ndarray = field(default_factory=lambda: np.empty(0))
    versions: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    models: dict[str, Pipeline] = field(default_factory=dict)
    predictions: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    latency: np.ndarray = field(default_factory=lambda: np.empty(0))
    error: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    changes: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)  # what was injected, for tests and reports
    # schema faults: the current window is written to its own file, the pre-onset rows to a reference
    split_reference: bool = False
    current_drop_columns: list[str] = field(default_factory=list)
    current_as_text: list[str] = field(default_factory=list)

    def minutes_since_start(self, when: pd.Timestamp) -> float:
        return float((when - self.start).total_seconds() / 60.0)

    def next_version(self, step: int = 1) -> str:
        return f"v{int(self.base_version[1:]) + step}"

    def add_change(self, when: pd.Timestamp, kind: str, description: str, **extra: Any) -> None:
        event: dict[str, Any] = {
            "timestamp": when.isoformat().replace("+00:00", "Z"),
            "kind": kind,
            "service": SERVICE,
            "description": description,
        }
        event.update(extra)
        self.changes.append(event)


class Fault(Protocol):
    """Hooks a fault may implement; `FaultBase` gives no-op defaults."""

    def traffic(self, ctx: Ctx, minute_after: np.ndarray) -> np.ndarray: ...
    def inputs(self, ctx: Ctx) -> None: ...
    def rollout(self, ctx: Ctx) -> None: ...
    def labels(self, ctx: Ctx) -> None: ...
    def service(self, ctx: Ctx) -> None: ...


def draw_timestamps(ctx: Ctx, fault: Fault) -> None:
    """Per-minute Poisson counts on a diurnal wave; a fault may scale the rate after the onset."""
    minutes = int(round(ctx.minutes_since_start(ctx.end)))
    t = np.arange(minutes, dtype=float)
    phase = ctx.rng.uniform(0, 2 * np.pi)
    rate = ctx.rows_per_minute * (1.0 + 0.25 * np.sin(2 * np.pi * t / 1440.0 + phase))
    after = t >= ctx.minutes_since_start(ctx.onset)
    # a batch client bursts for ten minutes somewhere in the log: benign, every service sees these
    burst = int(ctx.rng.integers(0, max(minutes - 10, 1)))
    rate[burst : burst + 10] *= 1.8
    rate = rate * fault.traffic(ctx, after)
    counts = ctx.rng.poisson(np.maximum(rate, 0.0))
    minute_of_row = np.repeat(t, counts)
    seconds = minute_of_row * 60.0 + ctx.rng.uniform(0.0, 60.0, size=minute_of_row.size)
    seconds.sort()
    ctx.ts = (ctx.start.to_datetime64() + (seconds * 1e9).astype("timedelta64[ns]")).astype("datetime64[ns]")
    ctx.after = ctx.ts >= ctx.onset.tz_convert(None).to_datetime64()


def draw_requests(ctx: Ctx) -> None:
    """Resample held-out rows with measurement jitter; derive region, tier and the unused context."""
    src, rng, n = ctx.source, ctx.rng, ctx.ts.size
    if src.fresh:  # every served input is new: never served before, never in the reference
        if n > len(src.pool_x):
            raise ValueError(f"{src.name}: {n} requests but {len(src.pool_x)} fresh rows; rows would repeat")
        idx = rng.permutation(len(src.pool_x))[:n]
    else:
        idx = rng.integers(0, len(src.pool_x), size=n)
    frame = _jittered(src, idx, rng)
    frame["region"] = rng.choice(np.asarray(REGIONS, dtype=object), size=n, p=np.asarray(REGION_SHARES))
    frame[TIER_COLUMN] = src.tier_of(frame[src.top_feature].to_numpy())
    # sessions are longer in the evening: a benign daily wave in a feature the model never reads
    hour = (ctx.ts - ctx.start.tz_convert(None).to_datetime64()) / np.timedelta64(1, "h")
    typical = 120.0 * (1.0 + 0.15 * np.sin(2 * np.pi * hour / 24.0))
    frame[UNUSED_FEATURE] = np.round(typical * rng.lognormal(0.0, 0.6, size=n), 1)
    ctx.inputs = frame
    ctx.clean_inputs = frame.copy()
    ctx.truth_y = src.pool_y[idx].copy()
    ctx.versions = np.full(n, ctx.base_version, dtype=object)
    ctx.models = {ctx.base_version: production_model(src.name, ctx.split_seed, 0)}


def _jittered(src: Source, idx: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Pool rows `idx` as served: continuous inputs carry a measurement jitter of 5% of their spread."""
    frame = src.pool_x.iloc[idx].reset_index(drop=True).astype(float)
    if src.fresh:  # generated inputs are continuous and distinct already
        return frame
    for col in src.features:
        pool = src.pool_x[col].to_numpy()
        if np.unique(pool).size > 10:  # discrete codes (e.g. sex) stay discrete
            frame[col] = frame[col].to_numpy() + rng.normal(0.0, 0.05 * pool.std(), size=idx.size)
    return frame


SERVED_COPIES = 30  # jittered copies of the pool that stand for "the traffic this model serves"


@lru_cache(maxsize=8)
def _served_pool(name: str, split_seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    src = load_source(name, split_seed)
    idx = np.tile(np.arange(len(src.pool_x)), 1 if src.fresh else SERVED_COPIES)
    frame = _jittered(src, idx, np.random.default_rng([split_seed, 4049]))
    frame[TIER_COLUMN] = src.tier_of(frame[src.top_feature].to_numpy())
    return frame[model_inputs(src)], src.pool_y[idx]


def served_loss(source: Source, split_seed: int, model: Pipeline) -> float:
    """A model's expected loss on the traffic the simulation serves (0/1 error or absolute error).

    The traffic is resampled from a small held-out pool, so a retrain that is equivalent on the
    dataset's own test split can still be worse on exactly these rows; this measures it on many
    jittered copies of the pool (the same jitter as `draw_requests`).
    """
    x, y = _served_pool(source.name, split_seed)
    pred = model.predict(x)
    if source.task == "classification":
        return float(np.mean(pred.astype(str) != y.astype(str)))
    return float(np.mean(np.abs(pred.astype(float) - y.astype(float))))


def predict(ctx: Ctx) -> None:
    """Each version scores its own rows from the inputs as served."""
    served = ctx.served if len(ctx.served) else ctx.inputs
    out = np.empty(ctx.ts.size, dtype=object if ctx.source.task == "classification" else float)
    cols = model_inputs(ctx.source)
    for version, model in ctx.models.items():
        mask = ctx.versions == version
        if mask.any():
            out[mask] = model.predict(served.loc[mask, cols])
    ctx.predictions = out


def draw_labels(ctx: Ctx) -> None:
    ctx.labels = ctx.truth_y.copy()


def draw_service(ctx: Ctx) -> None:
    """Latency grows a little with load; errors are rare and independent of everything else."""
    rng, n = ctx.rng, ctx.ts.size
    base = rng.uniform(15.0, 35.0)
    start = ctx.start.tz_convert(None).to_datetime64()
    minute = ((ctx.ts - start) // np.timedelta64(60, "s")).astype(np.int64)
    per_minute = np.bincount(minute, minlength=1)
    load = per_minute[minute] / max(ctx.rows_per_minute, 1e-9)
    ctx.latency = base * (0.9 + 0.1 * load) * rng.lognormal(0.0, 0.3, size=n)
    pauses = rng.random(n) < 0.003  # garbage-collection pauses and cold caches
    ctx.latency[pauses] += rng.uniform(100.0, 400.0, size=int(pauses.sum()))
    ctx.error = rng.random(n) < rng.uniform(0.001, 0.004)
    # a two-minute blip of failed calls to a dependency, recovered on its own
    blip = int(rng.integers(0, max(int(ctx.minutes_since_start(ctx.end)) - 2, 1)))
    ctx.error |= (minute >= blip) & (minute < blip + 2) & (rng.random(n) < 0.08)


def assemble(ctx: Ctx) -> pd.DataFrame:
    """The log in docs/contracts.md column order; failed requests have no prediction, some rows no label."""
    n = ctx.ts.size
    predictions = ctx.predictions.astype(object)
    predictions[ctx.error] = None
    labels = ctx.labels.astype(object)
    unlabelled = ctx.rng.random(n) > LABELLED_SHARE
    cutoff = (ctx.end - pd.Timedelta(minutes=ctx.label_delay_min)).tz_convert(None).to_datetime64()
    unlabelled |= ctx.ts >= cutoff
    # what the labelled fault would be sized by had the labels not been withheld (the curve's target class)
    ctx.truth["labelled_after_unwithheld"] = int((~unlabelled & ctx.after).sum())
    if ctx.labels_withheld:
        unlabelled |= ctx.after
    labels[unlabelled] = None
    task = ctx.source.task
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(ctx.ts).tz_localize("UTC"),
            "model_version": ctx.versions.astype(str),
            "prediction": predictions if task == "classification" else pd.array(predictions, dtype="Float64"),
            "label": labels if task == "classification" else pd.array(labels, dtype="Float64"),
            "latency_ms": np.round(ctx.latency, 2),
            "error": ctx.error.astype(bool),
        }
    )
    return pd.concat([frame, ctx.inputs.reset_index(drop=True)], axis=1)


def background_changes(ctx: Ctx) -> None:
    """Unrelated, routine changes every real change log has."""
    t = ctx.start + pd.Timedelta(minutes=int(ctx.rng.integers(20, 60)))
    while t < ctx.end:
        ctx.add_change(t, "pipeline_run", "hourly feature backfill completed")
        t = t + pd.Timedelta(minutes=int(ctx.rng.integers(100, 140)))
    span = int(ctx.minutes_since_start(ctx.end))
    for kind, text in (
        ("config_change", "raised request log sampling to 100%"),
        ("infra", "rotated TLS certificates on the ingress"),
    ):
        ctx.add_change(ctx.start + pd.Timedelta(minutes=int(ctx.rng.integers(10, span - 10))), kind, text)
