"""Did the label's relation to the inputs change? An independent fit on the reference answers.

Concept drift is a change of P(label | inputs). The served model's own error cannot tell it
apart from a reference that flatters the model: training data scored by the model that learned
it has an in-sample error no live traffic reaches, so against such a reference every log looks
like "performance dropped everywhere while the inputs held". The label model
(`diagnostics.label_model`) is fitted on the reference's labelled rows and scored there out of
sample (half-fits), so it carries no such optimism: if it predicts the current window's labels
as well as the reference's own, the relation held, whatever the served model's error says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from diagnostics.context import Context, Task, class_codes, loss_name
from diagnostics.findings import Finding
from diagnostics.label_model import (
    LabelModel,
    cur_halves,
    fit_label_model,
    label_model_of,
    ref_halves,
    window_points,
)
from diagnostics.log import Categorical, PredictionLog, take_rows
from diagnostics.model_checks import LossStats

MIN_ROWS = 200  # labelled rows per window for the comparison to mean anything


@dataclass(frozen=True)
class RelationCheck:
    """The independent fit's error on the reference (out of sample) and on the current window."""

    reference: LossStats
    current: LossStats
    model_reference: LossStats  # the served model's error on the same rows
    model_current: LossStats

    @property
    def rise(self) -> float:
        return self.current.mean - self.reference.mean

    @property
    def model_rise(self) -> float:
        return self.model_current.mean - self.model_reference.mean

    def held(self) -> bool:
        """The served model's error rose clearly while the independent fit's barely moved.

        Under a real change of the relation both rise by comparable amounts (the new labels sit
        as far from the old relation for either fit); a rise of a quarter of the model's, or one
        inside three standard errors, is what sampling and extrapolation give on an unchanged one.
        """
        if self.model_current.z_worse(self.model_reference) < 3.0 or self.model_rise <= 0:
            return False
        return self.rise < 0.25 * self.model_rise or self.current.z_worse(self.reference) < 3.0


BINARY_CLASSES = np.asarray(["0", "1"], dtype=object)


def _fit_loss(model: LabelModel, est: np.ndarray, labels: np.ndarray | Categorical, task: Task) -> np.ndarray:
    """Per-row error of the fit in the served model's own unit: misclassification of its best guess,
    the Brier score of its probability for a binary score, the absolute error for numbers."""
    if model.kind == "classes":
        assert model.classes is not None
        y = class_codes(labels, model.classes)
        out = np.full(y.shape[0], np.nan)
        ok = y >= 0
        if task.kind == "binary_score":
            out[ok] = np.square(est[ok, 1] - y[ok])
        else:
            out[ok] = (np.argmax(est[ok], axis=1) != y[ok]).astype(np.float64)
        return out
    y_num = np.asarray(labels, dtype=np.float64)
    err: np.ndarray = np.abs(y_num - est[:, 0])
    return err


def _window(
    ctx: Context, model: LabelModel, log: PredictionLog, idx: np.ndarray, codes: dict[str, np.ndarray], window: str
) -> tuple[np.ndarray, np.ndarray]:
    half = ref_halves(ctx) if window == "reference" else cur_halves(ctx)
    sub = {f: c.astype(np.int64) for f, c in codes.items() if f in model.n_bins}
    if set(sub) != set(model.n_bins):
        return np.empty(0), np.empty(0)  # a column the fit needs is gone: a schema finding's job
    assert log.label is not None
    # the smooth fit, not the neighbour blend: a reference resampled from a small pool holds
    # near-copies of each row in both halves, so neighbours score it as if in sample too
    est = model.smooth(sub, window_points(ctx, model, window), half)
    fit = _fit_loss(model, est, take_rows(log.label, idx), ctx.task)
    served = (ctx.ref_loss if window == "reference" else ctx.cur_loss)[idx]
    both = np.isfinite(fit) & np.isfinite(served)
    return fit[both], served[both]


def _independent_fit(ctx: Context) -> LabelModel | None:
    """The label model; for a binary score, one fitted on its 0/1 labels as two classes.

    The label model skips binary scores (they carry their own confidence for late labels), but a
    classifier's scores on its own training rows flatter it as much as a regression's answers do.
    """
    if ctx.task.kind != "binary_score":
        return label_model_of(ctx)
    twin = replace(ctx, task=Task("classification", classes=BINARY_CLASSES), label_model=None)
    return fit_label_model(twin)


def relation_check(ctx: Context) -> RelationCheck | None:
    """The comparison, or None when there is no independent fit or too few labels on either side."""
    if ctx.current.label is None or ctx.reference.label is None:
        return None
    model = _independent_fit(ctx)
    if model is None:
        return None
    ref_fit, ref_served = _window(ctx, model, ctx.reference, ctx.ref_sample, ctx.ref_bin_codes, "reference")
    cur_fit, cur_served = _window(ctx, model, ctx.current, ctx.cur_sample, ctx.cur_bin_codes, "current")
    if ref_fit.size < MIN_ROWS or cur_fit.size < MIN_ROWS:
        return None
    return RelationCheck(
        LossStats.of(ref_fit), LossStats.of(cur_fit), LossStats.of(ref_served), LossStats.of(cur_served)
    )


TEMPERED_SCORE = 0.15  # below the localizer's bar: shown, never the verdict


def temper_concept(ctx: Context, findings: list[Finding], log_before_loss: np.ndarray) -> list[Finding]:
    """A concept-drift finding against a reference from another period, checked by the independent fit.

    Only such a reference can carry in-sample predictions (last year's training data); a
    trailing window and the log's own earlier rows were served live, and a drop against them is
    real whatever its cause. So the finding is reworded only when the drop shows against the far
    reference alone (the log's own labelled rows before the onset, if any, were as bad) and the
    relation held: then it stays, below the verdict bar.
    """
    i = next((k for k, f in enumerate(findings) if f.check == "concept_drift"), None)
    if i is None or findings[i].score < TEMPERED_SCORE:
        return findings
    before = LossStats.of(log_before_loss)
    if before.n >= MIN_ROWS and LossStats.of(ctx.cur_loss).z_worse(before) >= 3.0:
        return findings  # the log itself got worse at the onset: a live change, not the reference's optimism
    check = relation_check(ctx)
    if check is None or not check.held():
        return findings
    old = findings[i]
    loss = loss_name(ctx.task)
    text = (
        f"The model's {loss} is above the reference's ({check.model_reference.mean:.3f} -> "
        f"{check.model_current.mean:.3f}), but an independent fit of the labels on the reference's inputs "
        f"predicts these labels as well as the reference's ({check.reference.mean:.3f} -> {check.current.mean:.3f}): "
        "the relation between inputs and labels held. A reference scored by the model trained on it "
        "(training data) flatters the model; compare against held-out or earlier live traffic."
    )
    details = dict(old.details)
    details.update(
        relation_held=True,
        independent_fit_reference=check.reference.mean,
        independent_fit_current=check.current.mean,
    )
    out = list(findings)
    out[i] = Finding(old.cause, old.check, old.subject, min(old.score, TEMPERED_SCORE), text, details)
    return out

