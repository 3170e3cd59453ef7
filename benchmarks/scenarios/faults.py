"""The injected faults, one class per scenario kind, each with the diagnosis it should get.

A fault's `variants` are its magnitudes and shapes; the suite walks through them so every kind is
measured at a small and a large magnitude. Every fault starts exactly at the onset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from benchmarks.scenarios.datasets import TIER_COLUMN, TIER_LEVELS, Source, broken_model, production_model
from benchmarks.scenarios.simulate import REGION_SHARES, REGIONS, UNUSED_FEATURE, Ctx, served_loss


@dataclass(frozen=True)
class Expected:
    """The right answer, in the terms of the `mlresponder diagnose` JSON contract."""

    cause: str
    culprit_kind: str
    culprit_name: str
    mitigation: str

    def to_dict(self) -> dict[str, str]:
        return {
            "cause": self.cause,
            "culprit_kind": self.culprit_kind,
            "culprit_name": self.culprit_name,
            "mitigation": self.mitigation,
        }


NONE = Expected("none", "none", "", "none")


class FaultBase:
    """No-op hooks; subclasses override the stages they break."""

    kind: ClassVar[str] = ""
    group: ClassVar[str] = ""  # data | model | service | healthy | confounded
    variants: ClassVar[tuple[Any, ...]] = (None,)

    def __init__(self, variant: Any) -> None:
        self.variant = variant

    def expected(self, ctx: Ctx) -> Expected:
        return NONE

    def traffic(self, ctx: Ctx, minute_after: np.ndarray) -> np.ndarray:
        return np.ones(minute_after.size)

    def inputs(self, ctx: Ctx) -> None:
        return None

    def rollout(self, ctx: Ctx) -> None:
        return None

    def labels(self, ctx: Ctx) -> None:
        return None

    def service(self, ctx: Ctx) -> None:
        return None


def _feature(ctx: Ctx, rank: int) -> str:
    return ctx.source.importance[min(rank, len(ctx.source.importance) - 1)]


def _data_expected(feature: str) -> Expected:
    return Expected("data", "feature", feature, "naive_model")


def _deploy(ctx: Ctx, version: str, model: Any, at: pd.Timestamp, share: float, announce: bool) -> None:
    """Route `share` of the traffic from `at` on to `version` (1.0 = full switch, else a canary)."""
    ctx.models[version] = model
    from_at = ctx.ts >= at.tz_convert(None).to_datetime64()
    routed = from_at & (ctx.rng.random(ctx.ts.size) < share)
    ctx.versions[routed] = version
    if announce:
        rollout = "full rollout" if share >= 1.0 else f"canary at {share:.0%} of traffic"
        ctx.add_change(
            at,
            "model_deploy",
            f"deployed {version} ({rollout})",
            from_version=ctx.base_version,
            to_version=version,
        )


# ---------------------------------------------------------------- data faults


class FeatureDrift(FaultBase):
    """A mean shift of an important feature (upstream recalibration, new population)."""

    kind = "feature_drift"
    group = "data"
    variants = ((0, 0.75), (0, 1.5), (1, 1.0), (0, 3.0), (0, 0.5), (1, 0.5))  # (importance rank, shift in std)

    def inputs(self, ctx: Ctx) -> None:
        rank, shift = self.variant
        feat = _feature(ctx, rank)
        std = float(ctx.source.pool_x[feat].std())
        ctx.inputs.loc[ctx.after, feat] = ctx.inputs.loc[ctx.after, feat] + shift * std
        ctx.truth.update(feature=feat, shift_std=shift)

    def expected(self, ctx: Ctx) -> Expected:
        return _data_expected(ctx.truth["feature"])


class GradualDrift(FaultBase):
    """A sensor degrades: an important feature's offset grows linearly from the onset for an hour or
    more, then stays (no step to spot, the onset is the start of the ramp)."""

    kind = "gradual_drift"
    group = "data"
    variants = ((0, 2.0, 60), (1, 1.5, 90), (0, 1.0, 45))  # (importance rank, final shift in std, ramp min)

    def inputs(self, ctx: Ctx) -> None:
        rank, shift, ramp = self.variant
        feat = _feature(ctx, rank)
        std = float(ctx.source.pool_x[feat].std())
        onset = ctx.onset.tz_convert(None).to_datetime64()
        minutes = (ctx.ts - onset) / np.timedelta64(1, "m")
        progress = np.clip(minutes / float(ramp), 0.0, 1.0)
        ctx.inputs[feat] = ctx.inputs[feat].to_numpy() + shift * std * progress
        ctx.truth.update(feature=feat, shift_std=shift, ramp_minutes=ramp)

    def expected(self, ctx: Ctx) -> Expected:
        return _data_expected(ctx.truth["feature"])


class MissingSpike(FaultBase):
    """An upstream join starts failing: a share of an important feature arrives empty."""

    kind = "missing_spike"
    group = "data"
    variants = ((0, 0.3), (0, 0.7), (1, 0.5), (0, 0.95), (0, 0.15), (1, 0.15))

    def inputs(self, ctx: Ctx) -> None:
        rank, share = self.variant
        feat = _feature(ctx, rank)
        hit = ctx.after & (ctx.rng.random(ctx.ts.size) < share)
        ctx.inputs.loc[hit, feat] = np.nan
        ctx.truth.update(feature=feat, missing_share=share)

    def expected(self, ctx: Ctx) -> Expected:
        return _data_expected(ctx.truth["feature"])


class SchemaChange(FaultBase):
    """The feature payload changes shape. `missing_column` and `type_change` are compared against a
    known-good reference file (a Parquet file has one schema); `null_column` stays in one log."""

    kind = "schema_change"
    group = "data"
    variants = ("missing_column", "type_change", "null_column", "type_change_units")

    def inputs(self, ctx: Ctx) -> None:
        feat = _feature(ctx, 0)
        ctx.truth.update(feature=feat, change=self.variant)
        served = ctx.inputs.copy()
        served.loc[ctx.after, feat] = np.nan  # whatever the shape, the model's imputer sees nothing usable
        ctx.served = served
        if self.variant == "null_column":
            ctx.inputs.loc[ctx.after, feat] = np.nan
            return
        ctx.split_reference = True
        if self.variant == "missing_column":
            ctx.current_drop_columns.append(feat)
        else:
            ctx.current_as_text.append(feat)
            ctx.truth["text_suffix"] = " mm" if self.variant == "type_change_units" else ""
        if ctx.rng.random() < 0.5:
            ctx.add_change(ctx.onset, "pipeline_run", "feature service payload v2 released")

    def expected(self, ctx: Ctx) -> Expected:
        return _data_expected(ctx.truth["feature"])


class UnitChange(FaultBase):
    """A producer switches units (m -> mm, or the reverse)."""

    kind = "unit_change"
    group = "data"
    variants = ((0, 1000.0), (1, 1000.0), (0, 0.001), (0, 100.0))

    def inputs(self, ctx: Ctx) -> None:
        rank, factor = self.variant
        feat = _feature(ctx, rank)
        ctx.inputs.loc[ctx.after, feat] = ctx.inputs.loc[ctx.after, feat] * factor
        ctx.truth.update(feature=feat, factor=factor)

    def expected(self, ctx: Ctx) -> Expected:
        return _data_expected(ctx.truth["feature"])


class StuckFeature(FaultBase):
    """A cache stops refreshing: an important feature repeats one value."""

    kind = "stuck_feature"
    group = "data"
    variants = ((0, "last"), (1, "last"), (0, "zero"), (1, "zero"))

    def inputs(self, ctx: Ctx) -> None:
        rank, how = self.variant
        feat = _feature(ctx, rank)
        before = ctx.inputs.loc[~ctx.after, feat].to_numpy()
        value = float(before[-1]) if how == "last" and before.size else 0.0
        ctx.inputs.loc[ctx.after, feat] = value
        ctx.truth.update(feature=feat, stuck_value=value)

    def expected(self, ctx: Ctx) -> Expected:
        return _data_expected(ctx.truth["feature"])


class UnseenCategories(FaultBase):
    """The categorical input gets codes the reference never had (an upstream rename or a new level)."""

    kind = "unseen_categories"
    group = "data"
    variants = ("rename_all", "new_level", "uppercase", "rare_new_level")

    def inputs(self, ctx: Ctx) -> None:
        col = ctx.inputs[TIER_COLUMN].to_numpy(dtype=object).copy()
        after = ctx.after
        if self.variant == "rename_all":
            mapping = {lvl: f"T{i + 1}" for i, lvl in enumerate(TIER_LEVELS)}
            col[after] = [mapping[v] for v in col[after]]
        elif self.variant in ("new_level", "rare_new_level"):
            share = 0.35 if self.variant == "new_level" else 0.1
            hit = after & (ctx.rng.random(ctx.ts.size) < share)
            col[hit] = "diamond"
        else:
            col[after] = [str(v).upper() for v in col[after]]
        ctx.inputs[TIER_COLUMN] = col
        ctx.truth.update(feature=TIER_COLUMN, change=self.variant)

    def expected(self, ctx: Ctx) -> Expected:
        return _data_expected(TIER_COLUMN)


# ---------------------------------------------------------------- model faults


class BadVersion(FaultBase):
    """A genuinely worse model ships at the onset, announced in the change log."""

    kind = "bad_version_event"
    group = "model"
    announce = True
    variants = (
        ("label_noise", 1.0),
        ("scaler_skew", 1.0),
        ("label_noise", 0.5),
        ("scaler_skew", 0.3),
        ("label_noise", 0.15),
    )  # (flaw, share of traffic: 1.0 = full rollout, else a canary)

    def rollout(self, ctx: Ctx) -> None:
        flaw, share = self.variant
        version = ctx.next_version()
        model = broken_model(ctx.source.name, ctx.split_seed, flaw)
        _deploy(ctx, version, model, ctx.onset, share, self.announce)
        ctx.truth.update(bad_version=version, flaw=flaw, share=share, good_version=ctx.base_version)

    def expected(self, ctx: Ctx) -> Expected:
        return Expected("model", "model_version", ctx.truth["bad_version"], "rollback")


class SilentBadVersion(BadVersion):
    """The same bad version, but nobody recorded the deploy: only the `model_version` column shows it."""

    kind = "bad_version_silent"
    announce = False


class ConceptDrift(FaultBase):
    """The world changes under the model: the label's relation to the inputs shifts, everywhere,
    while inputs and the model version stay put."""

    kind = "concept_drift"
    group = "model"
    variants = (0.35, 0.6, 0.2)  # share of relabelled rows (classification) or target shift in std (x3)

    def labels(self, ctx: Ctx) -> None:
        _relabel(ctx, ctx.after, float(self.variant))
        ctx.truth.update(strength=self.variant)

    def expected(self, ctx: Ctx) -> Expected:
        return Expected("model", "concept", "concept", "retrain")


def _relabel(ctx: Ctx, rows: np.ndarray, strength: float) -> None:
    """Classification: `strength` of the rows move to another class, chosen by a fixed new rule
    (class k -> class k+1), so the relation changes rather than becoming noise. Regression: the
    target moves by 3 * strength standard deviations."""
    src = ctx.source
    if src.task == "classification":
        classes = np.asarray(src.class_names, dtype=object)
        position = {c: i for i, c in enumerate(src.class_names)}
        hit = rows & (ctx.rng.random(ctx.ts.size) < strength)
        current = np.fromiter((position[v] for v in ctx.labels[hit]), dtype=int, count=int(hit.sum()))
        ctx.labels[hit] = classes[(current + 1) % classes.size]
    else:
        shift = 3.0 * strength * float(np.std(src.pool_y))
        ctx.labels[rows] = ctx.labels[rows].astype(float) + shift


class UnderperformingSegment(FaultBase):
    """One region's behaviour changes (a local promotion, a new fraud ring): the model goes wrong
    there only, with unchanged inputs and version."""

    kind = "underperforming_segment"
    group = "model"
    variants = (("apac", 0.8), ("us_east", 0.6), ("eu_west", 0.7), ("latam", 0.6), ("apac", 0.5))

    def labels(self, ctx: Ctx) -> None:
        region, strength = self.variant
        rows = ctx.after & (ctx.inputs["region"].to_numpy() == region)
        _relabel(ctx, rows, strength)
        share = REGION_SHARES[REGIONS.index(region)]
        ctx.truth.update(segment_column="region", segment_value=region, strength=strength, share=share)

    def expected(self, ctx: Ctx) -> Expected:
        return Expected("model", "segment", f"region={ctx.truth['segment_value']}", "retrain")


# ---------------------------------------------------------------- service faults


class LatencyRegression(FaultBase):
    """Serving slows down (noisy neighbour, a smaller node pool) with predictions unaffected."""

    kind = "latency_regression"
    group = "service"
    variants = (("scale", 1.8), ("scale", 3.0), ("tail", 250.0), ("scale", 1.4))

    def service(self, ctx: Ctx) -> None:
        how, amount = self.variant
        if how == "scale":
            ctx.latency[ctx.after] *= amount
        else:
            hit = ctx.after & (ctx.rng.random(ctx.ts.size) < 0.15)
            ctx.latency[hit] += amount
        if ctx.rng.random() < 0.5:
            ctx.add_change(ctx.onset, "infra", "moved serving pods to the shared node pool")
        ctx.truth.update(latency=self.variant)

    def expected(self, ctx: Ctx) -> Expected:
        return Expected("service", "latency", "latency_ms", "escalate_service")


class ErrorSpike(FaultBase):
    """A dependency starts failing a share of the requests."""

    kind = "error_spike"
    group = "service"
    variants = (0.04, 0.12, 0.3, 0.02)

    def service(self, ctx: Ctx) -> None:
        ctx.error |= ctx.after & (ctx.rng.random(ctx.ts.size) < float(self.variant))
        ctx.truth.update(error_rate=self.variant)

    def expected(self, ctx: Ctx) -> Expected:
        return Expected("service", "errors", "error", "escalate_service")


class TrafficDrop(FaultBase):
    """Callers stop reaching the model (a routing rule, a broken client release)."""

    kind = "traffic_drop"
    group = "service"
    variants = (0.3, 0.1, "gap", 0.5)

    def traffic(self, ctx: Ctx, minute_after: np.ndarray) -> np.ndarray:
        factor = np.ones(minute_after.size)
        if self.variant == "gap":
            first = int(np.argmax(minute_after)) if minute_after.any() else minute_after.size
            factor[first : first + 40] = 0.0
            factor[first + 40 :] = 0.5
        else:
            factor[minute_after] = float(self.variant)
        ctx.truth.update(traffic=self.variant)
        return factor

    def expected(self, ctx: Ctx) -> Expected:
        return Expected("service", "traffic", "traffic", "escalate_service")


# ---------------------------------------------------------------- healthy and confounded


class Healthy(FaultBase):
    """Nothing breaks; the `onset` is a spurious alert's start time."""

    kind = "healthy"
    group = "healthy"


class HealthyDeploy(FaultBase):
    """An equivalent retrain ships shortly before a spurious alert: the deploy is not a cause."""

    kind = "healthy_deploy"
    group = "healthy"
    variants = (1.0, 0.5, 0.1)

    def rollout(self, ctx: Ctx) -> None:
        _equivalent_deploy(ctx, float(self.variant))


HARMLESS_TRIES = 40
HARMLESS_TOLERANCE = 0.01  # relative: a retrain 1% worse on its traffic is still "equivalent" (the engine's bar is 2%)


def _equivalent_deploy(ctx: Ctx, share: float) -> None:
    at = ctx.onset - pd.Timedelta(minutes=int(ctx.rng.integers(1, 15)))
    version = ctx.next_version()
    seed = 1 + int(ctx.rng.integers(1, 1000))
    model = harmless_retrain(ctx.source, ctx.split_seed, seed)
    _deploy(ctx, version, model, at, share, announce=True)
    ctx.truth.update(harmless_version=version, harmless_share=share)


def harmless_retrain(source: Source, split_seed: int, seed: int) -> Any:
    """A retrain that is verified harmless on the traffic it will serve.

    A retrain with another seed is equivalent on the dataset's test split, but the simulated
    traffic is resampled from a small pool (71 rows for wine), and on those rows such a retrain
    can be measurably worse (0% -> 2% error): a real regression, not a harmless deploy. So the
    seed is redrawn (deterministically: seed + 1000 k) until the retrain's expected loss on the
    served pool is at most 1% above the production model's; a fault's class is its measured effect.
    """
    base = served_loss(source, split_seed, production_model(source.name, split_seed, 0))
    for k in range(HARMLESS_TRIES):
        model = production_model(source.name, split_seed, seed + 1000 * k)
        if served_loss(source, split_seed, model) <= base * (1.0 + HARMLESS_TOLERANCE) + 1e-12:
            return model
    raise RuntimeError(f"{source.name}: no retrain of {HARMLESS_TRIES} seeds is as good as production on its traffic")


class DeployDuringDrift(FaultBase):
    """Confounded: an equivalent model ships minutes before an important feature drifts.
    The deploy is the obvious suspect and the wrong one."""

    kind = "confounded_deploy_during_drift"
    group = "confounded"
    variants = ((1.0, 1.5), (0.5, 2.0), (1.0, 3.0), (0.2, 1.0))  # (rollout share, drift in std)

    def inputs(self, ctx: Ctx) -> None:
        feat = _feature(ctx, 0)
        std = float(ctx.source.pool_x[feat].std())
        ctx.inputs.loc[ctx.after, feat] = ctx.inputs.loc[ctx.after, feat] + self.variant[1] * std
        ctx.truth.update(feature=feat, shift_std=self.variant[1])

    def rollout(self, ctx: Ctx) -> None:
        _equivalent_deploy(ctx, float(self.variant[0]))

    def expected(self, ctx: Ctx) -> Expected:
        return _data_expected(ctx.truth["feature"])


class DriftDuringBadDeploy(FaultBase):
    """Confounded: a bad version ships while a feature the model never reads drifts hard.
    The drift is loud and harmless; the version is the cause."""

    kind = "confounded_drift_during_bad_deploy"
    group = "confounded"
    variants = (("label_noise", 1.0), ("scaler_skew", 1.0), ("label_noise", 0.5), ("scaler_skew", 0.3))

    def inputs(self, ctx: Ctx) -> None:
        col = ctx.inputs[UNUSED_FEATURE].to_numpy(dtype=float).copy()
        col[ctx.after] = col[ctx.after] * 3.0 + 60.0
        ctx.inputs[UNUSED_FEATURE] = col
        ctx.truth.update(harmless_feature=UNUSED_FEATURE)

    def rollout(self, ctx: Ctx) -> None:
        flaw, share = self.variant
        version = ctx.next_version()
        _deploy(ctx, version, broken_model(ctx.source.name, ctx.split_seed, flaw), ctx.onset, share, True)
        ctx.truth.update(bad_version=version, flaw=flaw, share=share, good_version=ctx.base_version)

    def expected(self, ctx: Ctx) -> Expected:
        return Expected("model", "model_version", ctx.truth["bad_version"], "rollback")


FAULTS: dict[str, type[FaultBase]] = {
    cls.kind: cls
    for cls in (
        FeatureDrift,
        GradualDrift,
        MissingSpike,
        SchemaChange,
        UnitChange,
        StuckFeature,
        UnseenCategories,
        BadVersion,
        SilentBadVersion,
        ConceptDrift,
        UnderperformingSegment,
        LatencyRegression,
        ErrorSpike,
        TrafficDrop,
        Healthy,
        HealthyDeploy,
        DeployDuringDrift,
        DriftDuringBadDeploy,
    )
}


# ---------------------------------------------------------------- harder-suite healthy logs


class HealthySlowDrift(FaultBase):
    """Nothing the model reads changes; the unused context drifts slowly all day (sessions get
    twice as long, the region mix moves by ten points): a healthy log a drift detector trips on."""

    kind = "healthy_slow_drift"
    group = "healthy"

    def inputs(self, ctx: Ctx) -> None:
        frac = (ctx.ts - ctx.ts[0]) / max(ctx.ts[-1] - ctx.ts[0], np.timedelta64(1, "s"))
        frac = np.asarray(frac, dtype=float)
        ctx.inputs[UNUSED_FEATURE] = np.round(ctx.inputs[UNUSED_FEATURE].to_numpy() * (1.0 + frac), 1)
        moved = ctx.rng.random(ctx.ts.size) < 0.1 * frac
        ctx.inputs.loc[moved, "region"] = "latam"


class HealthyRedeploy(FaultBase):
    """The same model artifact redeployed under a new version (a config push, a base-image bump)."""

    kind = "healthy_redeploy"
    group = "healthy"
    variants = (1.0, 0.5, 0.1)

    def rollout(self, ctx: Ctx) -> None:
        at = ctx.onset - pd.Timedelta(minutes=int(ctx.rng.integers(1, 15)))
        _deploy(ctx, ctx.next_version(), ctx.models[ctx.base_version], at, float(self.variant), announce=True)


EXTRA_FAULTS: dict[str, type[FaultBase]] = {cls.kind: cls for cls in (HealthySlowDrift, HealthyRedeploy)}
