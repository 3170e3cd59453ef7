"""What the label would likely be, from the inputs alone: a version's loss estimated without its labels.

A new model version in a window without labels (they arrive days later) can still be judged
against the old one: the labelled reference teaches how the label depends on the inputs, and
each version's predictions are then scored against that relation on its own rows. An
equivalent retrain changes its answer only where the label is uncertain anyway (a borderline
case costs about as much either way); a worse model changes answers where the reference says
the label is clear, and its expected loss rises. This is not a version's input -> prediction
map (`versions._conditional_gap`, which only says *different*): it says *worse*.

Two estimates of the relation, and the one (or the even blend) that predicts the held-out
labelled reference rows best (Brier score for classes, squared error for numbers) is used:

* **additive**, on the binned inputs (reference deciles, top categories: the bins the segments
  use), fitted by backfitting per-bin means shrunk by `n / (n + 20)` (`estimate.additive_fit`):
  for classes an additive logit per class (one against the rest, fitted by local scoring:
  per-bin Newton steps), its out-of-sample scores mapped to class rates by an isotonic
  calibration per class, renormalized; for numbers an additive fit of the label. It sees broad
  trends and extrapolates to inputs the reference rarely holds, but blurs a sharp or
  interacting boundary (a rare class in a corner of the input space);
* **nearest neighbours**: the labels of the `k` nearest labelled reference rows (inputs scaled
  by their reference spread and weighted by how much the model relies on them; `k` chosen from
  a few sizes by the same held-out score), alone or blended with the additive one. It sees
  interactions and repeated or near-duplicate inputs (customers who come back, a catalogue of
  items), where it knows the label almost exactly; on fresh inputs it is a local average.

For classes a row's expected 0/1 loss is `1 - P(label = prediction)`; for numbers a row's
expected absolute error is `E|m(x) + e - prediction|` over the reference's own out-of-sample
residuals `e` (their empirical distribution, read from one sorted array with cumulative sums).

Every figure is out-of-sample: the labelled reference is split in two halves, each half's rows
are scored by the models fitted on the other half, and every other row (current window,
unlabelled reference rows) by the models of a half drawn at random, so the baseline's estimated
loss on the reference and a new version's on the current window come from models of the same
capacity. The estimate assumes the label's relation to the inputs did not change (a version
comparison in one window does not need more), and it is reported as an estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from diagnostics.context import Context, class_codes
from diagnostics.estimate import Calibration, additive_fit, additive_logit_fit, additive_predict
from diagnostics.log import Categorical, take_rows

MIN_LABELS = 100  # labelled reference rows needed to learn the relation
MAX_FEATURES = 40
MAX_CLASSES = 20
MAX_NEIGHBOUR_FEATURES = 16  # nearest neighbours in more dimensions than this are no longer near
NEIGHBOUR_SIZES = (1, 4, 16, 48)
BLENDS = (0.5, 0.8, 1.0)  # weight of the neighbour estimate tried against the additive one
MIN_WEIGHT = 0.05  # features the model barely reads do not count in a distance


@dataclass
class Space:
    """How a row becomes a point for the nearest-neighbour search: scaled, weighted inputs."""

    feats: list[str]
    numeric: list[bool]
    center: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    n_bins: list[int]  # categorical features: one-hot over their bins

    def embed(self, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        """(n, d) points; a missing value sits at the centre plus one weighted unit on its own axis."""
        parts: list[np.ndarray] = []
        for j, f in enumerate(self.feats):
            col = columns.get(f)
            w = self.weight[j]
            if self.numeric[j]:
                x = np.full(n, self.center[j]) if col is None else np.asarray(col, dtype=np.float64)
                miss = ~np.isfinite(x)
                parts.append((np.where(miss, self.center[j], x)[:, None] - self.center[j]) / self.scale[j] * w)
                parts.append(miss[:, None] * w)
            else:
                codes = np.full(n, self.n_bins[j] - 1) if col is None else col.astype(np.int64)
                onehot = np.zeros((n, self.n_bins[j]))
                onehot[np.arange(n), codes] = w / math.sqrt(2.0)  # a category mismatch costs one weight
                parts.append(onehot)
        return np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))


@dataclass
class LabelModel:
    """Two half-fits of the label's relation to the inputs (see the module docstring)."""

    kind: str  # "classes" | "numbers"
    feats: list[str]
    n_bins: dict[str, int]
    intercepts: list[np.ndarray]  # per half: (k,) for classes, (1,) for numbers
    effects: list[dict[str, np.ndarray]]  # per half: feature -> (n_bins, k)
    classes: np.ndarray | None = None
    calibration: list[Calibration] = field(default_factory=list)  # per class: additive score -> P(class)
    space: Space | None = None
    trees: list[cKDTree] = field(default_factory=list)  # per half: labelled reference rows
    tree_targets: list[np.ndarray] = field(default_factory=list)  # per half: (rows, k) label targets
    neighbours: int = 0  # k of the neighbour estimate (0: not used)
    blend: float = 0.0  # weight of the neighbour estimate against the smooth one
    linear: list[np.ndarray] = field(default_factory=list)  # numbers, per half: least squares on the points
    linear_weight: float = 0.0  # weight of the linear fit in the smooth estimate (numbers)
    residuals: np.ndarray | None = None  # sorted out-of-sample residuals (numbers)
    residual_cumsum: np.ndarray | None = None
    reference_loss: float = float("nan")  # realized loss of the labelled reference sample
    reference_fit: float = float("nan")  # its out-of-sample estimate (same rows)
    labelled: int = 0
    method: str = "additive"

    def fitted(self, codes: dict[str, np.ndarray], half: np.ndarray) -> np.ndarray:
        """(n, k) additive prediction; row i scored by the half-fit `1 - half[i]`."""
        n = half.shape[0]
        k = self.intercepts[0].shape[0]
        out = np.empty((n, k))
        for h in (0, 1):
            rows = half != h  # rows of half 1 - h are scored by the fit of half h
            part = {f: c[rows] for f, c in codes.items() if f in self.n_bins}
            out[rows] = additive_predict(self.intercepts[h], self.effects[h], part, int(rows.sum()))
        return out

    def additive(self, codes: dict[str, np.ndarray], half: np.ndarray) -> np.ndarray:
        """Class probabilities (calibrated, renormalized) or the label's mean, additive estimate."""
        raw = self.fitted(codes, half)
        if self.kind == "numbers":
            return raw
        if self.calibration:
            raw = np.stack([cal(raw[:, j]) for j, cal in enumerate(self.calibration)], axis=1)
        else:
            raw = 1.0 / (1.0 + np.exp(-raw))
        return _normalized(raw)

    def near(self, points: np.ndarray, half: np.ndarray, sizes: tuple[int, ...]) -> dict[int, np.ndarray]:
        """Neighbour estimate per size k: mean label target of the k nearest rows of the other half."""
        n = points.shape[0]
        width = self.tree_targets[0].shape[1]
        out = {k: np.empty((n, width)) for k in sizes}
        for h in (0, 1):
            rows = np.flatnonzero(half != h)
            if rows.size == 0:
                continue
            tree, target = self.trees[h], self.tree_targets[h]
            kmax = min(max(sizes), tree.n)
            _, nbr = tree.query(points[rows], k=kmax)
            nbr = nbr.reshape(rows.size, kmax)
            for j in range(width):
                csum = np.cumsum(target[nbr, j], axis=1)
                for k in sizes:
                    kk = min(k, kmax)
                    out[k][rows, j] = csum[:, kk - 1] / kk
        return out

    def lin(self, points: np.ndarray, half: np.ndarray) -> np.ndarray:
        """(n, 1) linear fit of the label on the points, row i by the half-fit `1 - half[i]`."""
        out = np.empty((points.shape[0], 1))
        design = np.column_stack([np.ones(points.shape[0]), points])
        for h in (0, 1):
            rows = half != h
            out[rows] = design[rows] @ self.linear[h]
        return out

    def smooth(self, codes: dict[str, np.ndarray], points: np.ndarray | None, half: np.ndarray) -> np.ndarray:
        """The additive estimate, for numbers blended with the linear one when that predicts better."""
        add = self.additive(codes, half)
        if self.linear_weight <= 0 or points is None:
            return add
        return self.linear_weight * self.lin(points, half) + (1.0 - self.linear_weight) * add

    def estimate(self, codes: dict[str, np.ndarray], points: np.ndarray | None, half: np.ndarray) -> np.ndarray:
        """The chosen estimate: class probabilities (n, k) or the label's mean (n, 1)."""
        smooth = self.smooth(codes, points, half)
        if self.blend <= 0 or points is None:
            return smooth
        nb = self.near(points, half, (self.neighbours,))[self.neighbours]
        return self.blend * nb + (1.0 - self.blend) * smooth

    def expected_loss(
        self, codes: dict[str, np.ndarray], points: np.ndarray | None, half: np.ndarray, pred: np.ndarray
    ) -> np.ndarray:
        """Expected per-row loss of `pred` (class codes of `classes`, or numbers); NaN where no prediction."""
        est = self.estimate(codes, points, half)
        return self.loss_of(est, pred)

    def loss_of(self, est: np.ndarray, pred: np.ndarray) -> np.ndarray:
        if self.kind == "classes":
            ok = pred >= 0
            out = np.full(pred.shape[0], np.nan)
            out[ok] = 1.0 - est[np.flatnonzero(ok), pred[ok]]
            return out
        assert self.residuals is not None and self.residual_cumsum is not None
        return expected_abs(self.residuals, self.residual_cumsum, pred - est[:, 0])


def _normalized(prob: np.ndarray) -> np.ndarray:
    prob = np.clip(prob, 0.0, 1.0)
    total = prob.sum(axis=1, keepdims=True)
    k = prob.shape[1]
    return np.asarray(np.where(total > 0, prob / np.maximum(total, 1e-12), 1.0 / k))


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


def halves(n: int, seed: int) -> np.ndarray:
    """A fixed random half (0/1) per row: which half-fit does *not* score it."""
    return (np.random.default_rng(seed).random(n) < 0.5).astype(np.int8)


def _space(ctx: Context) -> Space | None:
    """The inputs the model relies on (influence >= MIN_WEIGHT), scaled by their reference spread."""
    ranked = sorted(ctx.bins, key=lambda f: ctx.influence_raw.get(f, 0.0), reverse=True)
    feats = [f for f in ranked if ctx.influence.get(f, 0.0) >= MIN_WEIGHT and f in ctx.ref_bin_codes]
    feats = feats[:MAX_NEIGHBOUR_FEATURES]
    if not feats:
        return None
    numeric, center, scale, weight, n_bins = [], [], [], [], []
    for f in feats:
        bins = ctx.bins[f]
        numeric.append(bins.numeric)
        weight.append(ctx.influence[f])
        n_bins.append(bins.n_bins)
        if bins.numeric:
            x = np.asarray(ctx.reference.features[f][ctx.ref_sample], dtype=np.float64)  # type: ignore[index]
            x = x[np.isfinite(x)]
            q25, q50, q75 = np.quantile(x, [0.25, 0.5, 0.75]) if x.size else (0.0, 0.0, 1.0)
            spread = (q75 - q25) / 1.349
            if not spread > 0:
                spread = float(x.std()) if x.size else 1.0
            center.append(float(q50))
            scale.append(spread if spread > 0 else 1.0)
        else:
            center.append(0.0)
            scale.append(1.0)
    return Space(feats, numeric, np.array(center), np.array(scale), np.array(weight), n_bins)


def _points(ctx: Context, space: Space, window: str) -> np.ndarray:
    log, idx, codes = (
        (ctx.reference, ctx.ref_sample, ctx.ref_bin_codes)
        if window == "reference"
        else (ctx.current, ctx.cur_sample, ctx.cur_bin_codes)
    )
    cols: dict[str, np.ndarray] = {}
    for j, f in enumerate(space.feats):
        if space.numeric[j]:
            values = log.features.get(f)
            if values is not None and not isinstance(values, Categorical):
                cols[f] = values[idx]
        elif f in codes:
            cols[f] = codes[f]
    return space.embed(cols, idx.shape[0])


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
        y = class_codes(take_rows(label, idx), classes)
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
    answered = np.isfinite(ctx.ref_loss[idx])  # a labelled row with a prediction: what the loss is measured on
    # training labels beside the log's answers (`engine._model_baseline`) hold no row with both: the
    # relation is learned from the labels alone, and the estimate's own error is unknown (NaN)
    ok = ok if ctx.labels_apart else ok & answered
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
        part_codes = {f: c[part] for f, c in codes.items()}
        if kind == "classes":
            mu, eff = additive_logit_fit(target[part], part_codes, n_bins)
        else:
            mu, eff = additive_fit(target[part], part_codes, n_bins)
        intercepts.append(mu)
        effects.append(eff)
    model = LabelModel(kind, feats, n_bins, intercepts, effects, classes=classes, labelled=int(rows.size))
    sub = {f: c[rows] for f, c in codes.items()}
    y_rows = target[rows]
    if kind == "classes":
        # one-against-the-rest logits do not add up to a distribution, and shrinkage makes them
        # timid: each class's out-of-sample score is mapped to the rate of that class (isotonic)
        scores = model.fitted(sub, half[rows])
        model.calibration = [Calibration.fit(scores[:, j], y_rows[:, j]) for j in range(scores.shape[1])]
    points = _choose_neighbours(ctx, model, rows, y_rows, sub, half[rows])
    est = model.estimate(sub, points, half[rows])
    if kind == "numbers":
        e = np.sort(y_rows[:, 0] - est[:, 0])
        model.residuals, model.residual_cumsum = e, np.cumsum(e)
        pred = np.asarray(ref.prediction[idx[rows]], dtype=np.float64)  # type: ignore[index]
    else:
        pred = class_codes(ref.prediction.take(idx[rows]), classes)  # type: ignore[union-attr,arg-type]
    loss_est = model.loss_of(est, pred)
    real = ctx.ref_loss[idx[rows]]
    both = np.isfinite(loss_est) & np.isfinite(real)
    model.reference_loss = float(real[both].mean()) if both.any() else float("nan")
    model.reference_fit = float(loss_est[both].mean()) if both.any() else float("nan")
    return model


def _choose_neighbours(
    ctx: Context,
    model: LabelModel,
    rows: np.ndarray,
    y_rows: np.ndarray,
    sub: dict[str, np.ndarray],
    half: np.ndarray,
) -> np.ndarray | None:
    """Fit the neighbour (and, for numbers, linear) estimates; keep each if it predicts held-out labels better.

    Returns the labelled rows as points (None: no input to place them by)."""
    space = _space(ctx)
    if space is None:
        return None
    points: np.ndarray = _points(ctx, space, "reference")[rows]
    model.space = space
    for h in (0, 1):
        part = half == h
        model.trees.append(cKDTree(points[part]))
        model.tree_targets.append(y_rows[part])
    def score(est: np.ndarray) -> float:
        return float(np.mean(np.sum((est - y_rows) ** 2, axis=1)))

    add = model.additive(sub, half)
    if model.kind == "numbers":
        # a smooth relation over many inputs is blurred by decile bins and too sparse for
        # neighbours: a linear fit on the same points (least squares per half) may do better
        design = np.column_stack([np.ones(points.shape[0]), points])
        ridge = 1e-6 * np.eye(design.shape[1])
        for h in (0, 1):
            part = design[half == h]
            model.linear.append(np.linalg.solve(part.T @ part + ridge, part.T @ y_rows[half == h]))
        best_w, best = 0.0, score(add)
        for w in (0.5, 1.0):
            model.linear_weight = w
            s = score(model.smooth(sub, points, half))
            if s < best - 1e-12:
                best_w, best = w, s
        model.linear_weight = best_w
        if best_w > 0:
            model.method = "linear" if best_w >= 1.0 else "additive+linear"
    smooth = model.smooth(sub, points, half)
    near = model.near(points, half, NEIGHBOUR_SIZES)
    best, best_k, best_blend = score(smooth), 0, 0.0
    for k, nb in near.items():
        for blend in BLENDS:
            s = score(blend * nb + (1.0 - blend) * smooth)
            if s < best - 1e-12:
                best, best_k, best_blend = s, k, blend
    if best_k == 0:  # the space still pairs rows of two versions (`estimated_gap`)
        model.trees, model.tree_targets = [], []
        return points
    model.neighbours, model.blend = best_k, best_blend
    model.method = "neighbours" if best_blend >= 1.0 else "blend"
    return points


def label_model_of(ctx: Context) -> LabelModel | None:
    """The context's label model, fitted once on first use (None: not possible on this reference)."""
    if ctx.label_model is None:
        ctx.label_model = fit_label_model(ctx) or False
    return ctx.label_model or None


def ref_halves(ctx: Context) -> np.ndarray:
    return halves(ctx.ref_sample.shape[0], seed=13)


def cur_halves(ctx: Context) -> np.ndarray:
    return halves(ctx.cur_sample.shape[0], seed=14)


def window_points(ctx: Context, model: LabelModel, window: str) -> np.ndarray | None:
    """Each sampled row of a window as a point of the neighbour search (None: not used)."""
    if model.space is None:
        return None
    return _points(ctx, model.space, window)


def window_expected_loss(ctx: Context, model: LabelModel, window: str) -> np.ndarray:
    """Expected loss of each sampled row's own prediction in the reference or current window sample."""
    if window == "reference":
        log, idx, codes, half = ctx.reference, ctx.ref_sample, ctx.ref_bin_codes, ref_halves(ctx)
    else:
        log, idx, codes, half = ctx.current, ctx.cur_sample, ctx.cur_bin_codes, cur_halves(ctx)
    pred_src = log.prediction
    if model.kind == "classes":
        assert model.classes is not None
        taken = take_rows(pred_src, idx)
        pred = class_codes(taken, model.classes)
    else:
        if isinstance(pred_src, Categorical):
            return np.full(idx.shape[0], np.nan)
        pred = np.asarray(pred_src[idx], dtype=np.float64)
    sub = {f: c.astype(np.int64) for f, c in codes.items() if f in model.n_bins}
    return model.expected_loss(sub, window_points(ctx, model, window), half, pred)


PAIR_QUANTILE = 0.9  # a pair counts within this quantile of the baseline's own neighbour distances


@dataclass(frozen=True)
class EstimatedGap:
    """A version's estimated loss against the baseline's, both on the version's own rows."""

    n: int  # version rows compared
    loss_version: float
    loss_baseline: float
    z: float  # counting the estimate's own error on the reference (`bias`)
    bias: float
    paired: bool  # the baseline answered at the nearest input it served (else: its own rows)
    matched_share: float = 1.0
    placebo: float = 0.0  # the baseline's own answer against its neighbour's (taken out of the gap)

    @property
    def relative(self) -> float:
        return (self.loss_version - self.loss_baseline) / max(self.loss_baseline, 1e-12)


def _predictions(model: LabelModel, values: np.ndarray | Categorical, idx: np.ndarray) -> np.ndarray:
    """Predictions of rows `idx` as the label model scores them: class codes (-1: none) or numbers."""
    taken = take_rows(values, idx)
    if model.kind == "classes":
        assert model.classes is not None
        return class_codes(taken, model.classes)
    if isinstance(taken, Categorical):
        return np.full(idx.shape[0], np.nan)
    return np.asarray(taken, dtype=np.float64)


def estimated_gap(
    ctx: Context, model: LabelModel, v_cur: np.ndarray, base_ref: np.ndarray, base_cur: np.ndarray
) -> EstimatedGap | None:
    """The version's estimated loss on its rows against the baseline's answer for the same inputs.

    `v_cur`, `base_ref`, `base_cur` are positions in the window samples (the version's current
    rows; the baseline version's reference and current rows). Each version row is paired with
    the nearest input the baseline served (a version's map from inputs to predictions does not
    change with time), and both answers are scored against the same estimated label of the
    version's row: only rows where the two answer differently carry a difference, so a retrain
    that agrees with the baseline is not judged on the noise of the input mix, and a version
    wrong where the label is clear stands out. Pairs farther apart than the baseline's own
    neighbours are dropped (inputs that drifted away from everything it served). Without a
    neighbour space the baseline's own rows are compared instead (two samples).
    """
    cur_pts = window_points(ctx, model, "current")
    codes = {f: c.astype(np.int64) for f, c in ctx.cur_bin_codes.items() if f in model.n_bins}
    est = model.estimate(codes, cur_pts, cur_halves(ctx))
    pred_v = _predictions(model, ctx.current.prediction, ctx.cur_sample[v_cur])
    ok_v = pred_v >= 0 if model.kind == "classes" else np.isfinite(pred_v)
    v_cur, pred_v, est_v = v_cur[ok_v], pred_v[ok_v], est[v_cur[ok_v]]
    bias = abs(model.reference_fit - model.reference_loss)
    loss_v = model.loss_of(est_v, pred_v)
    if cur_pts is not None and v_cur.size:
        ref_pts = window_points(ctx, model, "reference")
        assert ref_pts is not None
        ref_codes = {f: c.astype(np.int64) for f, c in ctx.ref_bin_codes.items() if f in model.n_bins}
        ref_est = model.estimate(ref_codes, ref_pts, ref_halves(ctx))
        pred_b = np.concatenate(
            [
                _predictions(model, ctx.reference.prediction, ctx.ref_sample[base_ref]),
                _predictions(model, ctx.current.prediction, ctx.cur_sample[base_cur]),
            ]
        )
        b_pts = np.concatenate([ref_pts[base_ref], cur_pts[base_cur]])
        b_est = np.concatenate([ref_est[base_ref], est[base_cur]])
        ok_b = pred_b >= 0 if model.kind == "classes" else np.isfinite(pred_b)
        pred_b, b_pts, b_est = pred_b[ok_b], b_pts[ok_b], b_est[ok_b]
        if pred_b.size >= 3:
            tree = cKDTree(b_pts)
            own_d, own_j = tree.query(b_pts, k=2)
            cap = float(np.quantile(own_d[:, 1], PAIR_QUANTILE))
            dist, j = tree.query(cur_pts[v_cur], k=1)
            keep = dist <= cap
            # placebo pairs: the baseline's own answer against its answer at its nearest other
            # input. A model's answer fits its own input better than a neighbour's does, so a
            # version would look better than it is by as much; that offset is taken out.
            placebo = (
                model.loss_of(b_est, pred_b) - model.loss_of(b_est, pred_b[own_j[:, 1]])
                if model.kind == "classes" or model.residuals is not None
                else np.zeros(0)
            )
            placebo = placebo[np.isfinite(placebo) & (own_d[:, 1] <= cap)]
            if int(keep.sum()) > 1 and placebo.size > 1:
                diff = loss_v[keep] - model.loss_of(est_v[keep], pred_b[j[keep]])
                n = int(keep.sum())
                offset = float(placebo.mean())
                se = math.sqrt(float(diff.var(ddof=1)) / n + float(placebo.var(ddof=1)) / placebo.size + bias**2)
                lv = float(loss_v[keep].mean())
                mean = float(diff.mean()) - offset
                return EstimatedGap(n, lv, lv - mean, mean / max(se, 1e-12), bias, True, n / v_cur.size, offset)
    # two samples: the baseline's own rows, each scored on its own estimated label
    ref_codes = {f: c.astype(np.int64) for f, c in ctx.ref_bin_codes.items() if f in model.n_bins}
    ref_pred = _predictions(model, ctx.reference.prediction, ctx.ref_sample)
    ref_e = model.expected_loss(ref_codes, window_points(ctx, model, "reference"), ref_halves(ctx), ref_pred)
    cur_all = model.loss_of(est, _predictions(model, ctx.current.prediction, ctx.cur_sample))
    lb = np.concatenate([ref_e[base_ref], cur_all[base_cur]])
    lb = lb[np.isfinite(lb)]
    if loss_v.size < 2 or lb.size < 2:
        return None
    se = math.sqrt(float(loss_v.var()) / loss_v.size + float(lb.var()) / lb.size + bias**2)
    z = (float(loss_v.mean()) - float(lb.mean())) / max(se, 1e-12)
    return EstimatedGap(int(loss_v.size), float(loss_v.mean()), float(lb.mean()), z, bias, False)
