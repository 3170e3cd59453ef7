"""Training data as the reference, a log without any label: is a new version judged?

The set-up of many teams at 3 a.m.: labels arrive weeks later (none in the log yet), and the only
labelled data is the training set (inputs and labels, no predictions), passed as `--reference`.
Each log: Friedman #1 (gradient boosting regression) or a 20%-positive classification (scores, or
class names), 4,000 training rows written to Parquet and read back as a reference, 8,000 served
rows over 10 hours, a new version at hour 6. Kinds with a worse version (`noise`: trained on
corrupted labels, `mild`: less corruption, `few`: 300 rows, `canary30`: the corrupted version on 30%
of the traffic) must be named (`model`/`model_version`/`v2`); the healthy kinds (`same`: the same
artifact, `retrain`: another seed, `more`: more rows) must read `none`; `drift` (40% of one input's
rows moved, no new version) must read `data`.

    PYTHONPATH=. python -m benchmarks.outside.training_reference.run [--seeds 2 3] [--detected]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification, make_friedman1
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

from diagnostics import diagnose
from diagnostics.loader import frame_to_log, load_log

BAD = ("noise", "mild", "few", "canary30")
HEALTHY = ("same", "retrain", "more")
KINDS = (*BAD, *HEALTHY, "drift")
TASKS = (("regression", False), ("classification", False), ("classification", True))


def _world(task: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if task == "regression":
        return make_friedman1(16_000, n_features=10, noise=1.0, random_state=seed)  # type: ignore[no-any-return]
    x, y = make_classification(16_000, n_features=10, n_informative=5, weights=[0.8], flip_y=0.02, random_state=seed)
    return x, y


def _fit(task: str, x: np.ndarray, y: np.ndarray, seed: int, corrupt: float = 0.0) -> Any:
    rng = np.random.default_rng(seed + 99)
    if corrupt and task == "regression":
        y = y + rng.normal(0.0, corrupt, y.shape[0])
    elif corrupt:
        y = np.where(rng.random(y.shape[0]) < corrupt, 1 - y, y)
    cls = GradientBoostingRegressor if task == "regression" else GradientBoostingClassifier
    return cls(n_estimators=150, max_depth=3, random_state=seed).fit(x, y)


def _answers(task: str, model: Any, x: np.ndarray, names: bool) -> np.ndarray:
    if task == "regression":
        return np.asarray(model.predict(x))
    if names:
        return np.where(model.predict(x) == 1, "yes", "no")
    return np.asarray(model.predict_proba(x)[:, 1])


def _new_model(task: str, kind: str, x: np.ndarray, y: np.ndarray, base: Any, seed: int) -> Any:
    train_x, train_y = x[:4_000], y[:4_000]
    strong, weak = (4.0, 1.5) if task == "regression" else (0.3, 0.12)
    if kind in ("same", "drift"):
        return base
    if kind == "retrain":
        return _fit(task, train_x, train_y, seed + 1)
    if kind == "more":
        return _fit(task, np.vstack([train_x, x[12_000:]]), np.concatenate([train_y, y[12_000:]]), seed + 1)
    if kind == "few":
        return _fit(task, train_x[:300], train_y[:300], seed + 1)
    return _fit(task, train_x, train_y, seed + 1, corrupt=weak if kind == "mild" else strong)


def run_one(task: str, names: bool, seed: int, kind: str, detected: bool, folder: Path) -> tuple[str, str]:
    """Returns (expected cause, diagnosed cause/culprit)."""
    x, y = _world(task, seed)
    rng = np.random.default_rng(seed)
    served = x[4_000:12_000].copy()
    base = _fit(task, x[:4_000], y[:4_000], seed)
    new = _new_model(task, kind, x, y, base, seed)
    t0 = pd.Timestamp("2026-11-20T00:00:00Z")
    ts = t0 + pd.to_timedelta(np.sort(rng.uniform(0, 10 * 3600, served.shape[0])), unit="s")
    onset = t0 + pd.Timedelta(hours=6)
    after = np.asarray(ts >= onset)
    if kind == "drift":
        hit = after & (rng.random(served.shape[0]) < 0.4)
        served[hit, 0] = served[hit, 0] * 3 + 1
    on_new = after & (rng.random(served.shape[0]) < 0.3) if kind == "canary30" else after
    if kind == "drift":
        on_new = np.zeros(served.shape[0], dtype=bool)
    pred = np.where(on_new, _answers(task, new, served, names), _answers(task, base, served, names))
    cols = [f"x{i}" for i in range(served.shape[1])]
    log = pd.DataFrame(served, columns=cols)
    log.insert(0, "timestamp", ts)
    log.insert(1, "model_version", np.where(on_new, "v2", "v1"))
    log.insert(2, "prediction", pred)
    ref = pd.DataFrame(x[:4_000], columns=cols)
    ref["label"] = np.where(y[:4_000] == 1, "yes", "no") if names else y[:4_000]
    path = folder / f"ref_{task}_{names}_{seed}.parquet"
    ref.to_parquet(path)
    d = diagnose(
        frame_to_log(log, name="log"),
        reference=load_log(path, reference=True),
        onset=None if detected else onset.to_pydatetime(),
    )
    expected = "model/model_version/v2" if kind in BAD else ("data" if kind == "drift" else "none")
    return expected, f"{d.cause}/{d.culprit_kind}/{d.culprit_name}" if d.cause != "none" else "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS))
    ap.add_argument("--detected", action="store_true", help="let the engine date the onset")
    args = ap.parse_args()
    right: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task, names in TASKS:
            for seed in args.seeds:
                for kind in args.kinds:
                    expected, got = run_one(task, names, seed, kind, args.detected, Path(tmp))
                    ok = got.startswith(expected)
                    right.setdefault(kind, []).append(int(ok))
                    label = f"{task}{' (class names)' if names else ''}"
                    print(f"{label:30s} seed {seed} {kind:9s} expected {expected:24s} got {got} {'' if ok else 'MISS'}")
    for kind, hits in right.items():
        print(f"{kind:9s} {sum(hits)}/{len(hits)}")


if __name__ == "__main__":
    main()
