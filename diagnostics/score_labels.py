"""Class-name labels beside a probability score, read as the 0/1 the score is the probability of.

A scorer's log often writes its labels as names ("fraud"/"legit", "churned"/"stayed") while the
prediction is the probability of one of them. Read as two unrelated things (a number against
class names) the log had no loss at all: a version whose scores fell apart was "none,
confidence 1.0" with labels on every row. Two class names and a score in [0, 1] are a binary
score; which name is the positive one is read from the name when it says so (yes/true/1...),
otherwise from the score itself: the positive class is the one its rows score higher on.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from diagnostics.log import Categorical, PredictionLog

_POSITIVE = frozenset({"1", "true", "t", "yes", "y", "positive", "pos"})
_NEGATIVE = frozenset({"0", "false", "f", "no", "n", "negative", "neg"})


def _is_score(pred: np.ndarray | Categorical) -> bool:
    if isinstance(pred, Categorical):
        return False
    finite = pred[np.isfinite(pred)]
    return bool(finite.size) and finite.min() >= 0.0 and finite.max() <= 1.0 and not np.all(finite == np.round(finite))


def _names(label: Categorical) -> set[str]:
    used = np.unique(label.codes[label.codes >= 0])
    return {str(label.categories[c]).strip() for c in used}


def _positive(names: list[str], logs: list[PredictionLog]) -> str | None:
    low = {n: n.lower() for n in names}
    said = [n for n in names if low[n] in _POSITIVE]
    denied = [n for n in names if low[n] in _NEGATIVE]
    if len(said) == 1 and len(denied) == 1:
        return said[0]
    # the score is the probability of the class its rows score higher on
    sums = dict.fromkeys(names, 0.0)
    counts = dict.fromkeys(names, 0)
    for log in logs:
        label, pred = log.label, log.prediction
        assert isinstance(label, Categorical) and not isinstance(pred, Categorical)
        names_of = np.array([str(c).strip() for c in label.categories], dtype=object)
        ok = (label.codes >= 0) & np.isfinite(pred)
        for name in names:
            rows = ok & (names_of[np.maximum(label.codes, 0)] == name)
            sums[name] += float(pred[rows].sum())
            counts[name] += int(rows.sum())
    if min(counts.values()) == 0:
        return None
    means = {n: sums[n] / counts[n] for n in names}
    first, second = names
    if means[first] == means[second]:
        return None
    return first if means[first] > means[second] else second


def _as_numbers(log: PredictionLog, positive: str, negative: str) -> PredictionLog:
    label = log.label
    assert isinstance(label, Categorical)
    table = np.array([1.0 if str(c).strip() == positive else 0.0 if str(c).strip() == negative else np.nan
                      for c in label.categories] + [np.nan])
    note = (f"column 'label': class names {positive!r} / {negative!r} beside a probability score, "
            f"read as 1 / 0 (the score is the probability of {positive!r})")
    return dataclasses.replace(log, label=table[label.codes], notes=[*log.notes, note])


def score_labels(
    log: PredictionLog, reference: PredictionLog | None = None
) -> tuple[PredictionLog, PredictionLog | None]:
    """The log and reference with two class-name labels turned into the 0/1 of their score;
    unchanged when the log is not a score with two class names."""
    if not isinstance(log.label, Categorical) or not _is_score(log.prediction):
        return log, reference
    ref = reference if reference is not None and isinstance(reference.label, Categorical) else None
    names = _names(log.label)
    if ref is not None:
        assert isinstance(ref.label, Categorical)
        names |= _names(ref.label)
    if len(names) != 2:
        return log, reference
    ordered = sorted(names)
    positive = _positive(ordered, [log] + ([ref] if ref is not None and _is_score(ref.prediction) else []))
    if positive is None:
        return log, reference
    negative = next(n for n in ordered if n != positive)
    out_ref = _as_numbers(ref, positive, negative) if ref is not None else reference
    return _as_numbers(log, positive, negative), out_ref
