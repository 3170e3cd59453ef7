"""Performance without labels: the loss that unlabelled rows are expected to have.

Labels often arrive hours or weeks after the prediction, so the window an incident is about
may hold none. Two estimators, both fitted on the labelled reference only:

* **Binary score** (`prediction` is the probability of the positive class): confidence-based
  performance estimation, as NannyML's CBPE does. A calibrated probability `q` says how often
  the positive class is right, so each row's expected loss is known without its label:
  `E(y - p)^2 = q (1 - p)^2 + (1 - q) p^2` (the Brier loss `row_loss` scores), and the hard
  prediction is right with probability
  `q` (when `p >= 0.5`) or `1 - q`. Calibration is checked on the reference first: an isotonic
  map (pool-adjacent-violators on score quantile bins) is cross-fitted on two halves, and used
  only when it lowers the expected calibration error; otherwise the raw scores are trusted.
* **Regression**: a learned loss estimate (NannyML's DLE learns it with a gradient-boosted
  model): an additive model of the absolute error on the binned features and the binned
  prediction, fitted by backfitting per-bin means (shrunk towards zero for thin bins) — a
  few `bincount`s per feature, no Python loop over rows.
* **Class names without probabilities** carry no confidence, so nothing is estimated
  (`fit_estimator` returns None): the label-free checks (input drift, the input -> prediction
  map of a new version, prediction shift, service) still run; performance stays unknown.

Both assume the relation between inputs and labels did not change: an estimate can see a
data fault (inputs moved to where the model errs more) but never concept drift, and a bad
new model version is judged by its input -> prediction map, not by an estimate learned on
the old model's errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diagnostics.context import FeatureBins, Task, make_bins, subsample_index
from diagnostics.log import Categorical, PredictionLog, take_rows

MIN_REFERENCE_LABELS = 100  # labelled reference rows needed to fit an estimator
CALIBRATION_BINS = 40
ECE_BINS = 10
BACKFIT_ROUNDS = 4
SHRINK_ROWS = 20.0  # a bin's effect is shrunk by n / (n + SHRINK_ROWS)
LOGIT_CAP = 8.0  # a bin's logit effect (a clean separation would run away)
MAX_FEATURES = 40


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE on equal-width probability bins: sum of bin share x |mean score - positive rate|."""
    if p.size == 0:
        return 0.0
    b = np.minimum((p * bins).astype(np.int64), bins - 1)
    sp = np.bincount(b, weights=p, minlength=bins)
    sy = np.bincount(b, weights=y, minlength=bins)
    return float(np.abs(sp - sy).sum() / p.size)


@dataclass
class Calibration:
    """A monotone map score -> P(positive), linear between the bins' mean scores."""

    x: np.ndarray
    y: np.ndarray

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(np.interp(p, self.x, self.y))

    @classmethod
    def fit(cls, p: np.ndarray, y: np.ndarray) -> Calibration:
        order = np.sort(p)
        edges = np.unique(np.quantile(order, np.linspace(0, 1, CALIBRATION_BINS + 1)[1:-1]))
        b = np.searchsorted(edges, p, side="left")
        k = edges.size + 1
        n = np.bincount(b, minlength=k).astype(np.float64)
        keep = n > 0
        mean_p = np.bincount(b, weights=p, minlength=k)[keep] / n[keep]
        rate = np.bincount(b, weights=y, minlength=k)[keep] / n[keep]
        return cls(mean_p, _pool_adjacent_violators(rate, n[keep]))


def _pool_adjacent_violators(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted isotonic (non-decreasing) fit of a few dozen bin rates."""
    blocks: list[list[float]] = []  # [mean, weight, count of bins]
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        blocks.append([v, w, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([np.full(int(c), m) for m, _, c in blocks])


@dataclass
class Estimator:
    """Expected per-row loss of unlabelled rows (the engine's loss: 0/1, |y - p| or |error|)."""

    method: str  # "confidence" (CBPE) | "learned_loss" | "label_model" (class names: `late_labels`)
    calibrated: bool = False
    ece_raw: float = float("nan")
    ece_calibrated: float = float("nan")
    reference_loss: float = float("nan")  # realized mean loss of the labelled reference rows
    reference_fit: float = float("nan")  # the estimate's mean on those rows (cross-fitted)
    calibration: Calibration | None = None
    bins: dict[str, FeatureBins] = field(default_factory=dict)
    effects: dict[str, np.ndarray] = field(default_factory=dict)
    intercept: float = 0.0

    def probability(self, pred: np.ndarray) -> np.ndarray:
        """Calibrated probability of the positive class (binary scores)."""
        p = np.clip(pred, 0.0, 1.0)
        return self.calibration(p) if self.calibration is not None else p

    def expected_loss(self, log: PredictionLog) -> np.ndarray:
        pred = log.prediction
        assert not isinstance(pred, Categorical)
        if self.method == "confidence":
            p = np.clip(pred, 0.0, 1.0)
            q = self.probability(pred)
            return np.asarray(expected_brier(q, p))
        return self._additive(log)

    def expected_accuracy(self, log: PredictionLog) -> np.ndarray:
        """Probability that the hard prediction (score >= 0.5) is right (binary scores only)."""
        pred = log.prediction
        assert self.method == "confidence" and not isinstance(pred, Categorical)
        q = self.probability(pred)
        return np.where(pred >= 0.5, q, 1.0 - q)

    def _additive(self, log: PredictionLog) -> np.ndarray:
        pred = log.prediction
        assert not isinstance(pred, Categorical)
        out = np.full(len(log), self.intercept)
        for name, bins in self.bins.items():
            values = pred if name == _PREDICTION else log.features.get(name)
            if values is None or isinstance(values, Categorical) == bins.numeric:
                continue  # a column the current log lost or retyped contributes nothing
            out += self.effects[name][bins.assign(values).astype(np.int64)]
        out[~np.isfinite(pred)] = np.nan
        return np.asarray(np.maximum(out, 0.0))


_PREDICTION = "\x00prediction"


def expected_brier(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Expected squared error of score `p` when the positive class comes with probability `q`."""
    return np.asarray(q * np.square(1.0 - p) + (1.0 - q) * np.square(p))


def fit_estimator(reference: PredictionLog, ref_loss: np.ndarray, task: Task) -> Estimator | None:
    """An estimator of the loss from the labelled reference, or None when there is nothing to learn from."""
    labelled = np.flatnonzero(np.isfinite(ref_loss))
    if labelled.size < MIN_REFERENCE_LABELS or isinstance(reference.prediction, Categorical):
        return None
    if task.kind == "binary_score":
        return _fit_confidence(reference, labelled)
    if task.kind == "regression":
        return _fit_learned_loss(reference, ref_loss, labelled)
    return None  # class names: no confidence to estimate from


def _fit_confidence(reference: PredictionLog, labelled: np.ndarray) -> Estimator | None:
    pred, label = reference.prediction, reference.label
    assert not isinstance(pred, Categorical) and isinstance(label, np.ndarray)
    p = np.clip(pred[labelled], 0.0, 1.0)
    y = label[labelled]
    ok = np.isfinite(p) & np.isfinite(y)
    p, y = p[ok], y[ok]
    if p.size < MIN_REFERENCE_LABELS:
        return None
    # cross-fitted check (fit on one half, measure on the other), as NannyML decides whether to calibrate
    half = np.random.default_rng(7).random(p.size) < 0.5
    cross = np.empty_like(p)
    cross[half] = Calibration.fit(p[~half], y[~half])(p[half])
    cross[~half] = Calibration.fit(p[half], y[half])(p[~half])
    ece_raw = expected_calibration_error(p, y)
    ece_cal = expected_calibration_error(cross, y)
    est = Estimator("confidence", ece_raw=ece_raw, ece_calibrated=ece_cal)
    if ece_cal + 0.005 < ece_raw:
        est.calibration = Calibration.fit(p, y)
        est.calibrated = True
        q_fit = cross
    else:
        q_fit = p
    est.reference_loss = float(np.square(y - p).mean())
    est.reference_fit = float(expected_brier(q_fit, p).mean())
    return est


def _fit_learned_loss(reference: PredictionLog, ref_loss: np.ndarray, labelled: np.ndarray) -> Estimator | None:
    pred = reference.prediction
    assert not isinstance(pred, Categorical)
    idx = labelled[subsample_index(labelled.size, seed=11)]
    target = ref_loss[idx]
    columns: dict[str, np.ndarray | Categorical] = {_PREDICTION: pred[idx]}
    for name, values in list(reference.features.items())[:MAX_FEATURES]:
        columns[name] = take_rows(values, idx)
    bins: dict[str, FeatureBins] = {}
    codes: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        b = make_bins(name, values)
        if b is not None and b.n_bins > 2:
            bins[name] = b
            codes[name] = b.assign(values).astype(np.int64)
    n_bins = {name: b.n_bins for name, b in bins.items()}
    half = np.random.default_rng(7).random(target.size) < 0.5
    cross = np.empty_like(target)
    for part in (half, ~half):  # each half scored by the fit on the other
        mu, eff = additive_fit(target[~part, None], {k: c[~part] for k, c in codes.items()}, n_bins)
        cross[part] = additive_predict(mu, eff, {k: c[part] for k, c in codes.items()}, int(part.sum()))[:, 0]
    intercept, effects = additive_fit(target[:, None], codes, n_bins)
    return Estimator(
        "learned_loss",
        reference_loss=float(target.mean()),
        reference_fit=float(np.maximum(cross, 0.0).mean()),
        bins=bins,
        effects={k: e[:, 0] for k, e in effects.items()},
        intercept=float(intercept[0]),
    )


def additive_fit(
    target: np.ndarray, codes: dict[str, np.ndarray], n_bins: dict[str, int]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Additive per-bin means of each column of `target` (n, k): backfitting, bins shrunk by n / (n + 20).

    The one additive fit of the diagnostics: the learned loss here, the label model's numbers
    (`label_model`). Returns the intercepts (k,) and per feature an (n_bins, k) effect table.
    """
    mu = target.mean(axis=0) if target.shape[0] else np.zeros(target.shape[1])
    resid = target - mu
    k = target.shape[1]
    effects = {f: np.zeros((n_bins[f], k)) for f in codes}
    for _ in range(BACKFIT_ROUNDS):
        for f, c in codes.items():
            nb = n_bins[f]
            partial = resid + effects[f][c]
            n = np.bincount(c, minlength=nb).astype(np.float64)
            sums = np.stack([np.bincount(c, weights=partial[:, j], minlength=nb) for j in range(k)], axis=1)
            new = sums / (n + SHRINK_ROWS)[:, None]
            resid = partial - new[c]
            effects[f] = new
    return mu, effects


def additive_logit_fit(
    target: np.ndarray, codes: dict[str, np.ndarray], n_bins: dict[str, int]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Additive logit of each 0/1 column of `target` (one class against the rest) by local scoring.

    Each pass over a feature is a Newton step per bin: the weighted mean of the working residual
    `(y - p) / (p (1 - p))` with weights `p (1 - p)`, shrunk like `additive_fit`. A label that
    is a threshold of a sum of inputs is additive on this scale, not on the probability scale.
    """
    rate = np.clip(target.mean(axis=0), 1e-3, 1 - 1e-3)
    mu = np.log(rate / (1 - rate))
    k = target.shape[1]
    eta = np.tile(mu, (target.shape[0], 1))
    effects = {f: np.zeros((n_bins[f], k)) for f in codes}
    shrink = SHRINK_ROWS * 0.25  # rows of weight p (1 - p) <= 1/4
    for _ in range(BACKFIT_ROUNDS + 2):
        for f, c in codes.items():
            nb = n_bins[f]
            p = 1.0 / (1.0 + np.exp(-eta))
            w = np.maximum(p * (1.0 - p), 1e-4)
            work = (target - p) + w * effects[f][c]  # w x (working residual + this feature's effect)
            sw = np.stack([np.bincount(c, weights=w[:, j], minlength=nb) for j in range(k)], axis=1)
            sr = np.stack([np.bincount(c, weights=work[:, j], minlength=nb) for j in range(k)], axis=1)
            new = np.clip(sr / (sw + shrink), -LOGIT_CAP, LOGIT_CAP)
            eta += new[c] - effects[f][c]
            effects[f] = new
    return mu, effects


def additive_predict(
    intercept: np.ndarray, effects: dict[str, np.ndarray], codes: dict[str, np.ndarray], n: int
) -> np.ndarray:
    """(n, k) intercept plus each coded feature's effect; a feature without codes contributes nothing."""
    out = np.tile(np.asarray(intercept, dtype=np.float64), (n, 1))
    for f, c in codes.items():
        table = effects.get(f)
        if table is not None:
            out += table[c]
    return out
