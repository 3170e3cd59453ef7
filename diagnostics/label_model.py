"""What the label would likely be, from the inputs alone: a version's loss estimated without its labels.

A new model version in a window without labels (they arrive days later) can still be judged
against the old one: the labelled reference teaches how the label depends on the inputs, and
each version's predictions are then scored against that relation on its own rows. An
equivalent retrain changes its answer only where the label is uncertain anyway (a borderline
case costs about as much either way); a worse model changes answers where the reference says
the label is clear, and its expected loss rises. This is not a version's input -> prediction
map (`versions._conditional_gap`, which only says *different*): it says *worse*.

The relation is an additive model on the binned inputs (reference deciles, top categories:
the bins the segments use), fitted by backfitting per-bin means shrunk by `n / (n + 20)`:

* **classes**: an additive logit per class (one against the rest, fitted by local scoring:
  per-bin Newton steps), its out-of-sample scores mapped to class rates by an isotonic
  calibration per class, renormalized; a row's expected 0/1 loss is `1 - P(label = prediction)`;
* **numbers**: an additive fit of the label; a row's expected absolute error is
  `E|m(x) + e - prediction|` over the reference's own out-of-sample residuals `e` (their
  empirical distribution, read from one sorted array with cumulative sums).

Every figure is out-of-sample: the labelled reference is split in two halves, each half's rows
are scored by the model fitted on the other half, and every other row (current window,
unlabelled reference rows) by the model of a half drawn at random, so the baseline's estimated
loss on the reference and a new version's on the current window come from models of the same
capacity. The estimate assumes the label's relation to the inputs did not change (a version
comparison in one window does not need more), and it is reported as an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diagnostics.context import Context, class_codes
from diagnostics.estimate import Calibration
from diagnostics.log import Categorical

MIN_LABELS = 100  # labelled reference rows needed to learn the relation
MAX_FEATURES = 40
MAX_CLASSES = 20
ROUNDS = 4
SHRINK_ROWS = 20.0
LOGIT_CAP = 8.0  # a bin's logit effect (a clean separation would run away)


@dataclass
class LabelModel:
    """Two half-fits of the label's relation to the binned inputs (see the module docstring)."""

    kind: str  # "classes" | "numbers"
    feats: list[str]
    n_bins: dict[str, int]
    intercepts: list[np.ndarray]  # per half: (k,) for classes, (1,) for numbers
    effects: list[dict[str, np.ndarray]]  # per half: feature -> (n_bins, k)
    classes: np.ndarray | None = None
    calibration: list[Calibration] = field(default_factory=list)  # per class: additive score -> P(class)
    residuals: np.ndarray | None = None  # sorted out-of-sample residuals (numbers)
    residual_cumsum: np.ndarray | None = None
    reference_loss: float = float("nan")  # realized loss of the labelled reference sample
    reference_fit: float = float("nan")  # its out-of-sample estimate (same rows)
    labelled: int = 0

    def fitted(self, codes: dict[str, np.ndarray], half: np.ndarray) -> np.ndarray:
        """(n, k) additive prediction; row i scored by the half-fit `1 - half[i]`."""
        n = half.shape[0]
        k = self.intercepts[0].shape[0]
        out = np.empty((n, k))
        for h in (0, 1):
            rows = half != h  # rows of half 1 - h are scored by the fit of half h
            acc = np.tile(self.intercepts[h], (int(rows.sum()), 1))
            for f in self.feats:
                c = codes.get(f)
                if c is not None:
                    acc += self.effects[h][f][c[rows].astype(np.int64)]
            out[rows] = acc
        return out

    def probabilities(self, codes: dict[str, np.ndarray], half: np.ndarray) -> np.ndarray:
        raw = self.fitted(codes, half)  # logits
        if self.calibration:
            raw = np.stack([cal(raw[:, j]) for j, cal in enumerate(self.calibration)], axis=1)
        else:
            raw = 1.0 / (1.0 + np.exp(-raw))
        raw = np.clip(raw, 0.0, 1.0)
        total = raw.sum(axis=1, keepdims=True)
        k = raw.shape[1]
        return np.asarray(np.where(total > 0, raw / np.maximum(total, 1e-12), 1.0 / k))

    def expected_loss(self, codes: dict[str, np.ndarray], half: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Expected per-row loss of `pred` (class codes of `classes`, or numbers); NaN where no prediction."""
        if self.kind == "classes":
            prob = self.probabilities(codes, half)
            ok = pred >= 0
            out = np.full(pred.shape[0], np.nan)
            out[ok] = 1.0 - prob[np.flatnonzero(ok), pred[ok]]
            return out
        assert self.residuals is not None and self.residual_cumsum is not None
        mean = self.fitted(codes, half)[:, 0]
        return expected_abs(self.residuals, self.residual_cumsum, pred - mean)


def expected_abs(sorted_e: np.ndarray, cumsum: np.ndarray, d: np.ndarray) -> np.ndarray:
    """`mean(|e - d|)` over the sorted sample `e` for every `d` (NaN stays NaN): two sums split at d."""
    n = sorted_e.shape[0]
    ok = np.isfinite(d)
    out = np.full(d.shape[0], np.nan)
    dd = d[ok]
    k = np.searchsorted(sorted_e, dd, side="left")
    below = np.where(k > 0, cumsum[np.maximum(k - 1, 0)], 0.0)
    above = cumsum[-1] - below
    out[ok] = (dd * k - below + above - dd * (n - k)) / n
    return out


def _backfit(
    target: np.ndarray, codes: dict[str, np.ndarray], n_bins: dict[str, int]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Additive per-bin means of each target column (backfitting, bins shrunk by n / (n + 20))."""
    mu = target.mean(axis=0)
    resid = target - mu
    k = target.shape[1]
    effects = {f: np.zeros((n_bins[f], k)) for f in codes}
    for _ in range(ROUNDS):
        for f, c in codes.items():
            nb = n_bins[f]
            partial = resid + effects[f][c]
            n = np.bincount(c, minlength=nb).astype(np.float64)
            sums = np.stack([np.bincount(c, weights=partial[:, j], minlength=nb) for j in range(k)], axis=1)
            new = sums / (n + SHRINK_ROWS)[:, None]
            resid = partial - new[c]
            effects[f] = new
    return mu, effects


def _backfit_logit(
    target: np.ndarray, codes: dict[str, np.ndarray], n_bins: dict[str, int]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Additive logit of each class indicator (one against the rest) by local scoring.

    Each pass over a feature is a Newton step per bin: the weighted mean of the working residual
    `(y - p) / (p (1 - p))` with weights `p (1 - p)`, shrunk like the means above. A label that
    is a threshold of a sum of inputs is additive on this scale, not on the probability scale.
    """
    rate = np.clip(target.mean(axis=0), 1e-3, 1 - 1e-3)
    mu = np.log(rate / (1 - rate))
    k = target.shape[1]
    eta = np.tile(mu, (target.shape[0], 1))
    effects = {f: np.zeros((n_bins[f], k)) for f in codes}
    shrink = SHRINK_ROWS * 0.25  # rows of weight p (1 - p) <= 1/4
    for _ in range(ROUNDS + 2):
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


def halves(n: int, seed: int) -> np.ndarray:
    """A fixed random half (0/1) per row: which half-fit does *not* score it."""
    return (np.random.default_rng(seed).random(n) < 0.5).astype(np.int8)


def fit_label_model(ctx: Context) -> LabelModel | None:
    """Learn the label's relation to the inputs on the labelled reference sample (None: too few labels)."""
    ref = ctx.reference
    idx = ctx.ref_sample
    label = ref.label
    if label is None or ctx.task.kind == "binary_score":
        return None  # a binary score carries its own confidence (CBPE in `estimate`)
    feats = [
        f for f in sorted(ctx.bins, key=lambda f: ctx.influence_raw.get(f, 0.0), reverse=True) if f in ctx.ref_bin_codes
    ][:MAX_FEATURES]
    if not feats:
        return None
    if ctx.task.kind == "classification":
        classes = ctx.task.classes
        if classes is None or len(classes) > MAX_CLASSES or len(classes) < 2:
            return None
        y = class_codes(label.take(idx) if isinstance(label, Categorical) else label[idx], classes)
        ok = y >= 0
        target = np.zeros((idx.shape[0], len(classes)))
        target[np.flatnonzero(ok), y[ok]] = 1.0
        kind = "classes"
    else:
        if isinstance(label, Categorical):
            return None
        y_num = np.asarray(label[idx], dtype=np.float64)
        ok = np.isfinite(y_num)
        target = np.where(ok, y_num, 0.0)[:, None]
        classes = None
        kind = "numbers"
    ok &= np.isfinite(ctx.ref_loss[idx])  # a labelled row with a prediction: what the loss is measured on
    rows = np.flatnonzero(ok)
    if rows.size < MIN_LABELS:
        return None
    n_bins = {f: ctx.bins[f].n_bins for f in feats}
    codes = {f: ctx.ref_bin_codes[f].astype(np.int64) for f in feats}
    half = ref_halves(ctx)
    intercepts, effects = [], []
    for h in (0, 1):
        part = rows[half[rows] == h]
        if part.size < MIN_LABELS // 2:
            return None
        fit = _backfit_logit if kind == "classes" else _backfit
        mu, eff = fit(target[part], {f: c[part] for f, c in codes.items()}, n_bins)
        intercepts.append(mu)
        effects.append(eff)
    model = LabelModel(kind, feats, n_bins, intercepts, effects, classes=classes, labelled=int(rows.size))
    sub = {f: c[rows] for f, c in codes.items()}
    if kind == "numbers":
        mean = model.fitted(sub, half[rows])[:, 0]
        e = np.sort(target[rows, 0] - mean)
        model.residuals, model.residual_cumsum = e, np.cumsum(e)
        pred = np.asarray(ref.prediction[idx[rows]], dtype=np.float64)  # type: ignore[index]
    else:
        # one-against-the-rest logits do not add up to a distribution, and shrinkage makes them
        # timid: each class's out-of-sample score is mapped to the rate of that class (isotonic)
        scores = model.fitted(sub, half[rows])
        model.calibration = [Calibration.fit(scores[:, j], target[rows, j]) for j in range(scores.shape[1])]
        pred = class_codes(ref.prediction.take(idx[rows]), classes)  # type: ignore[union-attr,arg-type]
    est = model.expected_loss(sub, half[rows], pred)
    real = ctx.ref_loss[idx[rows]]
    both = np.isfinite(est) & np.isfinite(real)
    model.reference_loss = float(real[both].mean()) if both.any() else float("nan")
    model.reference_fit = float(est[both].mean()) if both.any() else float("nan")
    return model


def ref_halves(ctx: Context) -> np.ndarray:
    return halves(ctx.ref_sample.shape[0], seed=13)


def cur_halves(ctx: Context) -> np.ndarray:
    return halves(ctx.cur_sample.shape[0], seed=14)


def window_expected_loss(ctx: Context, model: LabelModel, window: str) -> np.ndarray:
    """Expected loss of each sampled row's own prediction in the reference or current window sample."""
    if window == "reference":
        log, idx, codes, half = ctx.reference, ctx.ref_sample, ctx.ref_bin_codes, ref_halves(ctx)
    else:
        log, idx, codes, half = ctx.current, ctx.cur_sample, ctx.cur_bin_codes, cur_halves(ctx)
    pred_src = log.prediction
    if model.kind == "classes":
        assert model.classes is not None
        taken = pred_src.take(idx) if isinstance(pred_src, Categorical) else pred_src[idx]
        pred = class_codes(taken, model.classes)
    else:
        if isinstance(pred_src, Categorical):
            return np.full(idx.shape[0], np.nan)
        pred = np.asarray(pred_src[idx], dtype=np.float64)
    return model.expected_loss({f: c.astype(np.int64) for f, c in codes.items() if f in model.n_bins}, half, pred)
