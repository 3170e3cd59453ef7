"""A reference set completed against the log it serves: training data has no time, version or predictions.

docs/contracts.md asks of a reference only the log's feature columns. Training data typically
carries the features and the label, sometimes the model's scores on it, never when each row
was served or by which version. What the checks need is filled in from the log, so that every
comparison that is possible is made and none is made up:

- no predictions: an empty column typed like the log's (class names or numbers), so the
  performance and version comparisons see "nothing to compare" instead of a type clash;
- no version: the version that served the log's first row, the one live before anything in
  the log changed — a training set announces no version, and a made-up one would make every
  version in the log look new;
- no time: rows laid out at the log's rate, ending a day plus the log's own span before it. A
  training set is not the previous window of the traffic, so it stays non-adjacent: service
  checks take their baseline from the log's own rows, and a concept finding against it is
  checked for in-sample optimism (`diagnostics.relation`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diagnostics.log import Categorical, PredictionLog, present

DAY_S = 86_400.0


def _empty(values: np.ndarray | Categorical) -> bool:
    return not bool(present(values).any())


def complete_reference(reference: PredictionLog, log: PredictionLog) -> PredictionLog:
    """`reference` with an empty time, version or prediction column filled from `log` (see module)."""
    n = len(reference)
    changes: dict[str, object] = {}
    if _empty(reference.prediction) and isinstance(log.prediction, Categorical) != isinstance(
        reference.prediction, Categorical
    ):
        changes["prediction"] = (
            Categorical(np.full(n, -1, dtype=np.int64), log.prediction.categories)
            if isinstance(log.prediction, Categorical)
            else np.full(n, np.nan)
        )
    version = reference.model_version
    assert isinstance(version, Categorical) and isinstance(log.model_version, Categorical)
    if _empty(version) and len(log):
        first = int(log.model_version.codes[int(np.argmin(log.timestamp))])
        if first >= 0:
            changes["model_version"] = Categorical(
                np.zeros(n, dtype=np.int64), np.asarray([log.model_version.categories[first]], dtype=object)
            )
    if _empty(reference.timestamp) and len(log):
        start, end = float(np.nanmin(log.timestamp)), float(np.nanmax(log.timestamp))
        span = max(end - start, 1.0)
        step = span / max(len(log), 1)
        last = start - span - DAY_S
        changes["timestamp"] = last - (n - 1 - np.arange(n)) * step
    return replace(reference, **changes) if changes else reference  # type: ignore[arg-type]


ADJACENT_GAP_S = 900.0  # a reference ending this close before the log starts is the previous window


def reference_is_adjacent(reference: PredictionLog, log: PredictionLog) -> bool:
    """A reference that ends right where the log begins: the previous window of the same traffic."""
    ref_ts = reference.timestamp
    log_start = float(log.timestamp[0])
    span = float(log.timestamp[-1]) - log_start
    return bool(
        len(ref_ts)
        and float(ref_ts[-1]) <= log_start + 1.0
        and log_start - float(ref_ts[-1]) <= max(ADJACENT_GAP_S, 0.25 * span)
    )
