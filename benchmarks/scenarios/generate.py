"""Generate diagnosis scenarios: a prediction log (Parquet), a change log (JSONL) and the right answer.

    generate_scenario("feature_drift", seed=0, dataset="wine", out_dir=Path("/tmp/s"))
    python -m benchmarks.scenarios.generate OUT_DIR [--quick]

Each scenario trains (or reuses) a real scikit-learn model on a dataset bundled with scikit-learn,
simulates its serving traffic over six hours, and injects one fault at the onset (see `faults.py`).
The suite walks every kind over datasets, seeds and fault magnitudes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.scenarios.datasets import ALL_DATASETS, DATASETS, load_source, model_inputs, production_model
from benchmarks.scenarios.faults import EXTRA_FAULTS, FAULTS, Expected, FaultBase
from benchmarks.scenarios.simulate import (
    START,
    Ctx,
    assemble,
    background_changes,
    draw_labels,
    draw_requests,
    draw_service,
    draw_timestamps,
    predict,
    served_loss,
)
from diagnostics.strict_json import dumps

KINDS: tuple[str, ...] = tuple(FAULTS)
HEALTHY_KINDS: tuple[str, ...] = tuple(k for k, c in FAULTS.items() if c.group == "healthy")


@dataclass(frozen=True)
class Scenario:
    """One generated case. `path_reference` is set only where the log alone cannot hold both schemas."""

    path_log: Path
    path_changes: Path
    onset: datetime
    expected: Expected
    kind: str = ""
    group: str = ""
    dataset: str = ""
    seed: int = 0
    variant: Any = None
    path_reference: Path | None = None
    rows: int = 0
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.dataset}-v{_variant_label(self.variant)}-s{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "group": self.group,
            "dataset": self.dataset,
            "seed": self.seed,
            "variant": self.variant,
            "log": str(self.path_log),
            "reference": str(self.path_reference) if self.path_reference else None,
            "changes": str(self.path_changes),
            "onset": _iso(pd.Timestamp(self.onset)),
            "rows": self.rows,
            "expected": self.expected.to_dict(),
            "truth": self.truth,
        }


def _variant_label(variant: Any) -> str:
    if isinstance(variant, tuple | list):
        return "_".join(str(v) for v in variant)
    return str(variant)


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _rng(kind: str, seed: int, dataset: str, variant_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(kind.encode()), zlib.crc32(dataset.encode()), variant_index])


def generate_scenario(
    kind: str,
    seed: int,
    dataset: str,
    out_dir: Path | str,
    *,
    variant: int | None = None,
    hours: float = 6.0,
    rows_per_minute: float | None = None,
    fmt: str | None = None,
    labels_withheld: bool = False,
    strength: Any = None,
) -> Scenario:
    """Simulate one scenario into `out_dir` (created) and return where it is and what is right.

    `variant` indexes the fault's magnitudes (default: chosen by `seed`); `hours` x `rows_per_minute`
    sets the log size (6 h x 25/min is about 9,000 rows). Left out, the traffic volume (8 to 40 a
    minute) and the label delay (none, 20 or 45 minutes) vary with the seed, as they do between services.
    `fmt` is "parquet" or "csv"; left out, every fifth seed writes CSV (ISO or epoch timestamps).
    `labels_withheld` leaves every row since the onset unlabelled (labels that arrive weeks later);
    `strength` overrides the variant's value (the harder suite sweeps strengths beyond the variants).
    """
    cls = FAULTS.get(kind) or EXTRA_FAULTS.get(kind)
    if cls is None:
        raise ValueError(f"unknown scenario kind {kind!r}; expected one of {', '.join(KINDS)}")
    if dataset not in ALL_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(ALL_DATASETS)}")
    index = (seed if variant is None else variant) % len(cls.variants)
    fault = cls(cls.variants[index] if strength is None else strength)
    rng = _rng(kind, seed, dataset, index)
    split_seed = seed % 3
    source = load_source(dataset, split_seed)
    span = pd.Timedelta(hours=hours)
    onset = (START + span * float(rng.uniform(0.55, 0.75))).floor("min")
    ctx = Ctx(
        source=source,
        rng=rng,
        variant=index,
        split_seed=split_seed,
        start=START,
        onset=onset,
        end=START + span,
        base_version=f"v{3 + seed % 7}",
        rows_per_minute=float(rng.choice([8.0, 15.0, 25.0, 40.0])) if rows_per_minute is None else rows_per_minute,
        label_delay_min=float(rng.choice([0.0, 20.0, 45.0])),
        labels_withheld=labels_withheld,
    )
    _simulate(ctx, fault)
    if fmt is None:
        fmt = "csv" if seed % 5 == 4 else "parquet"
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown log format {fmt!r}; expected 'parquet' or 'csv'")
    return _write(
        ctx, fault, Path(out_dir), kind, seed, dataset, cls.variants[index] if strength is None else strength, fmt
    )


def _simulate(ctx: Ctx, fault: FaultBase) -> None:
    draw_timestamps(ctx, fault)
    draw_requests(ctx)
    fault.inputs(ctx)
    fault.rollout(ctx)
    predict(ctx)
    draw_labels(ctx)
    fault.labels(ctx)
    draw_service(ctx)
    fault.service(ctx)
    background_changes(ctx)


def _write_csv(frame: pd.DataFrame, path: Path, epoch: bool) -> None:
    """The log as a CSV export would look: ISO-8601 or epoch-second timestamps, 0/1 errors,
    empty cells where a label or prediction is missing."""
    out = frame.copy()
    ts = out["timestamp"]
    if epoch:
        out["timestamp"] = (ts - pd.Timestamp("1970-01-01T00:00:00Z")).dt.total_seconds().round(3)
    else:
        out["timestamp"] = ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out["error"] = out["error"].astype(int)
    out.to_csv(path, index=False)


def _write(
    ctx: Ctx, fault: FaultBase, out: Path, kind: str, seed: int, dataset: str, variant: Any, fmt: str
) -> Scenario:
    out.mkdir(parents=True, exist_ok=True)
    frame = assemble(ctx)
    path_log, path_ref = out / "log.parquet", None
    if fmt == "csv" and not ctx.split_reference:  # a CSV has no column types, so schema cases stay Parquet
        path_log = out / "log.csv"
        _write_csv(frame, path_log, epoch=seed % 2 == 1)
    elif ctx.split_reference:
        path_ref = out / "reference.parquet"
        frame.loc[~ctx.after].reset_index(drop=True).to_parquet(path_ref, index=False)
        current = frame.loc[ctx.after].reset_index(drop=True).drop(columns=ctx.current_drop_columns)
        suffix = str(ctx.truth.get("text_suffix", ""))
        for col in ctx.current_as_text:
            current[col] = [None if np.isnan(v) else f"{v:.4g}{suffix}" for v in current[col].to_numpy(float)]
        current.to_parquet(path_log, index=False)
    else:
        frame.to_parquet(path_log, index=False)
    ctx.truth["effect"] = measured_effect(ctx, frame)
    path_changes = out / "changes.jsonl"
    events = sorted(ctx.changes, key=lambda e: str(e["timestamp"]))
    path_changes.write_text("".join(json.dumps(e) + "\n" for e in events))
    scenario = Scenario(
        path_log=path_log,
        path_changes=path_changes,
        onset=ctx.onset.to_pydatetime(),
        expected=fault.expected(ctx),
        kind=kind,
        group=fault.group,
        dataset=dataset,
        seed=seed,
        variant=variant,
        path_reference=path_ref,
        rows=int(len(frame)),
        truth=_plain(ctx.truth),
    )
    (out / "scenario.json").write_text(dumps(scenario.to_dict(), indent=2, nonfinite="string") + "\n")
    return scenario


def _loss(task: str, pred: np.ndarray, label: np.ndarray) -> np.ndarray:
    if task == "classification":
        return (pred.astype(str) != label.astype(str)).astype(float)
    return np.abs(pred.astype(float) - label.astype(float))


def measured_effect(ctx: Ctx, frame: pd.DataFrame) -> dict[str, float]:
    """How big the injected fault is, measured on the log: the relative rise of the error it
    caused, the labelled rows the engine gets after the onset, and the share of rows of the
    fault's feature that moved (total-variation distance for text, KS distance with missing
    values as their own mass for numbers: the least share of rows that must change to turn one
    window into the other).

    The rise is counterfactual: every served row since the onset (labelled or not: the truth is
    known here) scored as served, against the same row had nothing broken (the production model
    on the clean inputs, the original label). Comparing the window after the onset with the one
    before instead (kept as `relative_error_increase_windows`) mixes in the sampling noise of two
    windows: for a classifier at 2.6% error on 3,000 rows that noise is about 11% relative, so a
    canary that adds 6% could be "sized" at +21% or at -5%.
    """
    task = ctx.source.task
    served = ~ctx.error
    loss = _loss(task, ctx.predictions, ctx.labels)
    before, after = loss[served & ~ctx.after], loss[served & ctx.after]
    base = float(before.mean()) if before.size else float("nan")
    rel_windows = (float(after.mean()) - base) / base if after.size and base > 0 else float("nan")
    rows = served & ctx.after
    rel = float("nan")
    if rows.any() and len(ctx.clean_inputs):
        healthy = production_model(ctx.source.name, ctx.split_seed, 0)
        clean = ctx.clean_inputs.loc[rows, model_inputs(ctx.source)]
        cf = float(_loss(task, healthy.predict(clean), ctx.truth_y[rows]).mean())
        actual = float(loss[rows].mean())
        rel = (actual - cf) / cf if cf > 0 else (math.inf if actual > cf else 0.0)  # any rise from none
    out = {
        "relative_error_increase": rel,
        "relative_error_increase_windows": rel_windows,
        **expected_version_effect(ctx),
        "labelled_after": float(frame.loc[ctx.after, "label"].notna().sum()),
        # with labels withheld: the labelled rows the same log would have had (sizes the target class)
        "labelled_after_unwithheld": float(ctx.truth.get("labelled_after_unwithheld", math.nan)),
        "rows_moved": float("nan"),
    }
    feature = ctx.truth.get("feature")
    if isinstance(feature, str) and feature in frame.columns:
        out["rows_moved"] = _moved_share(frame.loc[~ctx.after, feature], frame.loc[ctx.after, feature])
    return out


def expected_version_effect(ctx: Ctx) -> dict[str, float]:
    """A bad version's EXPECTED rise of the error, free of the window's noise: its loss against the
    healthy model's on the traffic the simulation serves (`simulate.served_loss`: 30 jittered
    copies of the pool, not the log's own draw), at the share of traffic it was routed (a 10%
    canary adds a tenth of its gap). NaN for every fault without a worse model version.

    The realized rise (`relative_error_increase`) is the same comparison on the log's own rows
    since the onset; for a canary those are a few hundred rows of a classifier at a 2.5% error
    rate, and which of them it gets wrong is noise. The two losses are kept beside the rise, so
    the rows a fault can show at best (share x rows x the gap) can be read next to it."""
    bad = ctx.truth.get("bad_version")
    model = ctx.models.get(bad) if isinstance(bad, str) else None
    nan = float("nan")
    if model is None:
        return {"expected_error_increase": nan, "expected_loss_healthy": nan, "expected_loss_version": nan}
    healthy = served_loss(ctx.source, ctx.split_seed, production_model(ctx.source.name, ctx.split_seed, 0))
    worse = served_loss(ctx.source, ctx.split_seed, model)
    share = float(ctx.truth.get("share", 1.0))
    rise = share * (worse - healthy) / healthy if healthy > 0 else (math.inf if worse > healthy else 0.0)
    return {"expected_error_increase": rise, "expected_loss_healthy": healthy, "expected_loss_version": worse}


def _moved_share(ref: pd.Series, cur: pd.Series) -> float:
    if not (pd.api.types.is_numeric_dtype(ref) and pd.api.types.is_numeric_dtype(cur)):
        p = ref.astype(str).where(ref.notna(), "<missing>").value_counts(normalize=True)
        q = cur.astype(str).where(cur.notna(), "<missing>").value_counts(normalize=True)
        return float(0.5 * p.sub(q, fill_value=0.0).abs().sum())
    a = np.sort(np.nan_to_num(ref.to_numpy(float), nan=np.inf))
    b = np.sort(np.nan_to_num(cur.to_numpy(float), nan=np.inf))
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """The truth as plain Python (numpy numbers as numbers, anything else as text); non-finite
    figures stay floats here (an infinite rise is in the target class) and are written as strings."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


@dataclass(frozen=True)
class Spec:
    kind: str
    dataset: str
    seed: int
    variant: int


def suite_specs(per_kind: int = 10, healthy: int = 32, healthy_deploy: int = 8, seed_offset: int = 0) -> list[Spec]:
    """Every fault kind `per_kind` times over datasets x variants, plus healthy logs for the
    false-alarm rate. The variant index is offset each round so datasets meet every magnitude.
    `seed_offset` gives a fresh suite of the same design (a held-out set for an engine tuned on
    the default one)."""
    specs: list[Spec] = []
    counts = {k: per_kind for k in KINDS}
    counts["healthy"] = healthy
    counts["healthy_deploy"] = healthy_deploy
    for kind, count in counts.items():
        n_variants = len(FAULTS[kind].variants)
        for j in range(count):
            dataset = DATASETS[j % len(DATASETS)]
            variant = (j + j // len(DATASETS)) % n_variants
            specs.append(Spec(kind, dataset, seed_offset + j, variant))
    return specs


def generate_suite(
    out_dir: Path | str, specs: Iterable[Spec] | None = None, *, rows_per_minute: float | None = None
) -> list[Scenario]:
    out = Path(out_dir)
    scenarios = []
    for spec in suite_specs() if specs is None else specs:
        folder = out / f"{spec.kind}-{spec.dataset}-s{spec.seed}"
        scenarios.append(
            generate_scenario(
                spec.kind, spec.seed, spec.dataset, folder, variant=spec.variant, rows_per_minute=rows_per_minute
            )
        )
    (out / "manifest.json").write_text(dumps([s.to_dict() for s in scenarios], indent=2, nonfinite="string") + "\n")
    return scenarios


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--quick", action="store_true", help="one scenario per kind, small logs")
    args = parser.parse_args(argv)
    if args.quick:
        specs = [Spec(kind, DATASETS[i % len(DATASETS)], 0, 0) for i, kind in enumerate(KINDS)]
        scenarios = generate_suite(args.out_dir, specs, rows_per_minute=8.0)
    else:
        scenarios = generate_suite(args.out_dir)
    print(f"{len(scenarios)} scenarios in {args.out_dir} (manifest.json lists them)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
