"""Late labels: when the current window is short of labels, its performance is estimated.

The estimate (`diagnostics.estimate`: confidence-based for binary scores, a learned loss for
regression; for class names without probabilities, the label model of `diagnostics.label_model`
on the window's sample) fills `Context.cur_loss_estimate`, and the `performance` finding then reports the
estimated figure, saying so in its evidence and with `details["estimated"] = True`. Realized
labels always win when there are enough of them: the estimate is used only when the current
window has fewer than `MIN_LABELLED` labelled rows, or a labelled share below a quarter of the
reference's (labels arrive late, so the few present are the oldest rows and say little).
"""

from __future__ import annotations

import numpy as np

from diagnostics.context import Context, detect_task, performance_summary, prepare_windows, row_loss
from diagnostics.estimate import Estimator, fit_estimator
from diagnostics.findings import Finding
from diagnostics.label_model import LabelModel, label_model_of, window_expected_loss
from diagnostics.log import Categorical, PredictionLog
from diagnostics.model_checks import MIN_LABELLED, LossStats, drop_magnitude

SHORT_SHARE = 0.25


def short_of_labels(ctx: Context) -> bool:
    cur_n = int(np.isfinite(ctx.cur_loss).sum())
    ref_n = int(np.isfinite(ctx.ref_loss).sum())
    if cur_n < MIN_LABELLED:
        return True
    cur_share = cur_n / max(len(ctx.current), 1)
    ref_share = ref_n / max(len(ctx.reference), 1)
    return cur_share < SHORT_SHARE * ref_share


def estimate_current(ctx: Context) -> Estimator | None:
    """Fit the estimator on the labelled reference and fill `ctx.cur_loss_estimate` (None: not possible)."""
    if not short_of_labels(ctx):
        return None
    est = fit_estimator(ctx.reference, ctx.ref_loss, ctx.task)
    if est is not None:
        ctx.cur_loss_estimate = est.expected_loss(ctx.current)
    elif ctx.task.kind == "classification":
        # class names carry no confidence of their own: each row's expected 0/1 loss comes from
        # the label the reference says its inputs likely have
        model = label_model_of(ctx)
        if model is None:
            return None
        est = Estimator("label_model", reference_loss=model.reference_loss, reference_fit=model.reference_fit)
        ctx.cur_loss_estimate = _class_loss(ctx, model)
    else:
        return None
    ctx.estimator = est
    return est


def estimated_performance_finding(ctx: Context) -> tuple[Finding | None, float]:
    """The `performance` symptom on estimated loss (the realized check found too few labels)."""
    est = estimate_current(ctx)
    if est is None or ctx.cur_loss_estimate is None:
        return None, 0.0
    cur = LossStats.of(ctx.cur_loss_estimate)
    ref = LossStats.of(ctx.ref_loss)
    # per-row expectations are smoother than realized losses; their spread is not the sampling
    # noise of a realized mean, so the z test uses the reference's realized variance
    cur = LossStats(cur.n, cur.mean, max(cur.var, ref.var))
    mag = drop_magnitude(ctx, cur, ref)
    ref_s = performance_summary(ctx.reference.prediction, ctx.reference.label, ctx.ref_loss, ctx.task)
    details = {
        "estimated": True,
        "method": est.method,
        "calibrated": est.calibrated,
        "reference": ref_s,
        "current_estimate": _estimate_summary(ctx, est),
        "labelled_current": int(np.isfinite(ctx.cur_loss).sum()),
        "magnitude": mag,
    }
    if est.method == "confidence":
        details.update(ece_raw=est.ece_raw, ece_calibrated=est.ece_calibrated)
    if mag <= 0:
        return None, 0.0
    how = {
        "confidence": f"from the predicted probabilities{' (recalibrated on the reference)' if est.calibrated else ''}",
        "label_model": "from the inputs by a label model learned on the labelled reference",
    }.get(est.method, "by an error model learned on the labelled reference")
    return Finding(
        "model",
        "performance",
        "prediction quality",
        0.3 * mag,
        f"Performance fell since the onset (estimated {how}; "
        f"{details['labelled_current']} of {cur.n} current rows labelled): {_text(ctx, ref_s, details)}.",
        details,
    ), mag


def _estimate_summary(ctx: Context, est: Estimator) -> dict[str, float]:
    assert ctx.cur_loss_estimate is not None
    ok = np.isfinite(ctx.cur_loss_estimate)
    out = {"rows": float(ok.sum()), "mean_loss": float(ctx.cur_loss_estimate[ok].mean()) if ok.any() else float("nan")}
    if est.method == "confidence":
        pred = ctx.current.prediction
        assert not isinstance(pred, Categorical)
        acc = est.expected_accuracy(ctx.current)
        out["accuracy"] = float(acc[np.isfinite(pred)].mean()) if np.isfinite(pred).any() else float("nan")
    elif est.method == "label_model":
        out["accuracy"] = 1.0 - out["mean_loss"]
    else:
        out["mae"] = out["mean_loss"]
    return out


def _text(ctx: Context, ref_s: dict[str, float], details: dict[str, object]) -> str:
    cur_s = details["current_estimate"]
    assert isinstance(cur_s, dict)
    if "accuracy" in cur_s and "accuracy" in ref_s:
        return f"accuracy {ref_s['accuracy']:.3f} -> {cur_s['accuracy']:.3f} (estimated)"
    if "mae" in cur_s and "mae" in ref_s:
        return f"mae {ref_s['mae']:.4g} -> {cur_s['mae']:.4g} (estimated)"
    return f"mean loss -> {cur_s['mean_loss']:.4g} (estimated)"


def estimated_class_accuracy(baseline: PredictionLog, after: PredictionLog) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows of `after` (a sample of at most 40,000) and the probability that each one's class
    name is right, from a label model learned on `baseline`'s labels (a mitigation's
    verification when labels have not arrived). None: not class names, or too few labels."""
    task = detect_task(baseline.prediction, baseline.label)
    if task.kind != "classification" or len(after) == 0:
        return None
    ctx = Context(
        log=after,
        reference=baseline,
        current=after,
        onset=float(after.timestamp[0]),
        task=task,
        ref_loss=row_loss(baseline.prediction, baseline.label, task),
        cur_loss=np.full(len(after), np.nan),
    )
    prepare_windows(ctx)
    model = label_model_of(ctx)
    if model is None:
        return None
    return ctx.cur_sample, 1.0 - _class_loss(ctx, model)


def _class_loss(ctx: Context, model: LabelModel) -> np.ndarray:
    """Expected 0/1 loss of each current sample row, the estimate's level error on the reference taken out."""
    shift = model.reference_loss - model.reference_fit if np.isfinite(model.reference_fit) else 0.0
    return np.clip(window_expected_loss(ctx, model, "current") + shift, 0.0, 1.0)
