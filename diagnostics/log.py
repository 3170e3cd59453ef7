"""In-memory prediction log: the arrays every check works on.

The engine never sees files or data frames. A `PredictionLog` holds one numpy array per
column of the docs/contracts.md prediction log; string-valued columns may arrive either as plain
object/str arrays or already dictionary-encoded as `Categorical` (the loader encodes with
Arrow, which is much faster than sorting a million Python strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ColumnArray = np.ndarray  # float64 (numeric) or object/str (categorical)

# The prediction-log and change-event contracts (docs/contracts.md), named once for every reader.
REQUIRED_COLUMNS = ("timestamp", "model_version", "prediction")
RESERVED_COLUMNS = ("timestamp", "model_version", "prediction", "label", "latency_ms", "error")
CHANGE_KINDS = ("model_deploy", "config_change", "pipeline_run", "schema_change", "infra", "other")


@dataclass(frozen=True)
class Categorical:
    """A dictionary-encoded string column: ``codes[i] == -1`` marks a missing value."""

    codes: np.ndarray  # int32/int64, -1 = missing
    categories: np.ndarray  # object array of str

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def take(self, index: np.ndarray | slice) -> Categorical:
        return Categorical(self.codes[index], self.categories)

    def to_numpy(self) -> np.ndarray:
        """Decoded object array with None for missing values."""
        out = np.empty(len(self.categories) + 1, dtype=object)
        out[:-1] = self.categories
        out[-1] = None
        return np.asarray(out[self.codes])


def take_rows(values: np.ndarray | Categorical, idx: np.ndarray | slice) -> np.ndarray | Categorical:
    """Rows `idx` of a column, whichever form it has (numbers or categories)."""
    return values.take(idx) if isinstance(values, Categorical) else values[idx]


def as_categorical(values: np.ndarray | Categorical | Any) -> Categorical:
    """Encode a string-like array; None/NaN/"" count as missing."""
    if isinstance(values, Categorical):
        return values
    arr = np.asarray(values, dtype=object)
    # element-wise comparisons run in numpy's C loop: None, and NaN (the only value != itself)
    missing = np.asarray(arr == None, dtype=bool) | np.asarray(arr != arr, dtype=bool)  # noqa: E711
    text = arr.astype(str)
    text[missing] = ""
    cats, codes = np.unique(text, return_inverse=True)
    codes = codes.astype(np.int64)
    if missing.any():
        empty = np.searchsorted(cats, "")
        codes[missing] = -1
        # keep "" only if it also occurs as a real value
        if not np.any((text == "") & ~missing):
            keep = np.ones(len(cats), dtype=bool)
            keep[empty] = False
            remap = np.cumsum(keep) - 1
            codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
            cats = cats[keep]
    return Categorical(codes, np.asarray(cats, dtype=object))


def align_categorical(ref: Categorical, cur: Categorical) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of both windows on one shared category list (the loader may have encoded them apart)."""
    if ref.categories is cur.categories or (
        len(ref.categories) == len(cur.categories) and np.array_equal(ref.categories, cur.categories)
    ):
        return ref.codes, cur.codes, ref.categories
    cats, inverse = np.unique(np.concatenate([ref.categories, cur.categories]).astype(str), return_inverse=True)
    map_ref = np.append(inverse[: len(ref.categories)], -1)
    map_cur = np.append(inverse[len(ref.categories) :], -1)
    return map_ref[ref.codes], map_cur[cur.codes], cats.astype(object)


def present(values: np.ndarray | Categorical) -> np.ndarray:
    """Which rows hold a value (a category, or a finite number)."""
    if isinstance(values, Categorical):
        return np.asarray(values.codes >= 0)
    return np.asarray(np.isfinite(np.asarray(values, dtype=np.float64)))


def is_numeric(values: np.ndarray | Categorical) -> bool:
    return isinstance(values, np.ndarray) and values.dtype.kind in "fiub"


@dataclass(frozen=True)
class ChangeRecord:
    """One change event (docs/contracts.md): a deploy, config change, pipeline run, ..."""

    timestamp: float
    kind: str
    service: str = ""
    description: str = ""
    from_version: str | None = None
    to_version: str | None = None


@dataclass
class PredictionLog:
    """Columns of a prediction log as arrays of equal length.

    ``timestamp`` is float epoch seconds (UTC). ``label`` uses NaN (numeric) or None
    (strings) for rows not yet labelled. ``error`` is 0/1 (NaN unknown). ``features`` maps a
    name to a float array (numeric feature) or a string/object array or `Categorical`.
    ``invalid`` maps a feature name to a boolean mask of rows whose raw value could not be
    typed like the rest of the column (mixed types); the loader fills it, the engine reports it.
    ``notes`` are loader remarks the diagnosis should mention.
    """

    timestamp: np.ndarray
    model_version: np.ndarray | Categorical
    prediction: np.ndarray | Categorical
    label: np.ndarray | Categorical | None = None
    latency_ms: np.ndarray | None = None
    error: np.ndarray | None = None
    features: dict[str, np.ndarray | Categorical] = field(default_factory=dict)
    name: str = "log"
    invalid: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # share of the served rows the log holds (a monitor samples large windows): rates scale by it
    sample_fraction: float = 1.0

    def __post_init__(self) -> None:
        self.timestamp = np.asarray(self.timestamp, dtype=np.float64)
        n = self.timestamp.shape[0]
        columns: Mapping[str, Any] = {
            "model_version": self.model_version,
            "prediction": self.prediction,
            "label": self.label,
            "latency_ms": self.latency_ms,
            "error": self.error,
            **self.features,
        }
        for col, values in columns.items():
            if values is not None and len(values) != n:
                raise ValueError(f"column {col!r} has {len(values)} rows, timestamp has {n}")
        if not isinstance(self.model_version, Categorical):
            self.model_version = as_categorical(self.model_version)
        self.prediction = _numeric_or_categorical(self.prediction)
        if self.label is not None:
            self.label = _numeric_or_categorical(self.label)
        if self.latency_ms is not None:
            self.latency_ms = np.asarray(self.latency_ms, dtype=np.float64)
        if self.error is not None:
            self.error = np.asarray(self.error, dtype=np.float64)
        self.features = {k: _numeric_or_categorical(v) for k, v in self.features.items()}

    @property
    def timestamps(self) -> np.ndarray:
        return self.timestamp

    def __len__(self) -> int:
        return int(self.timestamp.shape[0])

    def take(self, index: np.ndarray | slice) -> PredictionLog:
        """Rows selected by a slice or index array (columns share the selection)."""

        def pick(v: Any) -> Any:
            if v is None:
                return None
            return v.take(index) if isinstance(v, Categorical) else v[index]

        return PredictionLog(
            timestamp=self.timestamp[index],
            model_version=pick(self.model_version),
            prediction=pick(self.prediction),
            label=pick(self.label),
            latency_ms=pick(self.latency_ms),
            error=pick(self.error),
            features={k: pick(v) for k, v in self.features.items()},
            name=self.name,
            invalid={k: v[index] for k, v in self.invalid.items()},
            notes=list(self.notes),
            sample_fraction=self.sample_fraction,
        )

    def sorted_by_time(self) -> PredictionLog:
        ts = self.timestamp
        if ts.shape[0] < 2 or bool(np.all(ts[1:] >= ts[:-1])):
            return self
        return self.take(np.argsort(ts, kind="stable"))


def _numeric_or_categorical(values: Any) -> np.ndarray | Categorical:
    if isinstance(values, Categorical):
        return values
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]").astype(np.int64).astype(np.float64) / 1e9
    return as_categorical(arr)


def _categories_of(values: np.ndarray | Categorical | None, n: int) -> Categorical:
    if values is None:
        return Categorical(np.full(n, -1, dtype=np.int64), np.empty(0, dtype=object))
    return as_categorical(values)


def _stacked(
    first: np.ndarray | Categorical | None, second: np.ndarray | Categorical | None, n1: int, n2: int
) -> np.ndarray | Categorical | None:
    """One column of two logs stacked; a side without it is missing there (NaN, or code -1)."""
    if first is None and second is None:
        return None
    if isinstance(first, Categorical) or isinstance(second, Categorical):
        ca, cb, cats = align_categorical(_categories_of(first, n1), _categories_of(second, n2))
        return Categorical(np.concatenate([ca, cb]).astype(np.int64), cats)
    a_num = np.asarray(first, dtype=np.float64) if first is not None else np.full(n1, np.nan)
    b_num = np.asarray(second, dtype=np.float64) if second is not None else np.full(n2, np.nan)
    return np.concatenate([a_num, b_num])


def stack_logs(first: PredictionLog, second: PredictionLog, *, name: str) -> PredictionLog:
    """The rows of `first` then `second` as one log: the union of their columns.

    Why: a model baseline may need two sources at once, a training set's labels and the
    log's own predictions of the version live before the onset (neither alone can judge a
    version without labels). Categories are re-encoded on one shared list.
    """
    n1, n2 = len(first), len(second)
    cols = {
        key: _stacked(getattr(first, key), getattr(second, key), n1, n2)
        for key in ("model_version", "prediction", "label", "latency_ms", "error")
    }
    features = {
        f: _stacked(first.features.get(f), second.features.get(f), n1, n2)
        for f in dict.fromkeys([*first.features, *second.features])
    }
    invalid = {
        f: np.concatenate(
            [first.invalid.get(f, np.zeros(n1, dtype=bool)), second.invalid.get(f, np.zeros(n2, dtype=bool))]
        )
        for f in dict.fromkeys([*first.invalid, *second.invalid])
    }
    return PredictionLog(
        timestamp=np.concatenate([first.timestamp, second.timestamp]),
        model_version=cols["model_version"],  # type: ignore[arg-type]
        prediction=cols["prediction"],  # type: ignore[arg-type]
        label=cols["label"],
        latency_ms=cols["latency_ms"],  # type: ignore[arg-type]
        error=cols["error"],  # type: ignore[arg-type]
        features={k: v for k, v in features.items() if v is not None},
        name=name,
        invalid=invalid,
        notes=list(first.notes),
        sample_fraction=first.sample_fraction,
    )
