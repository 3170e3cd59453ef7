"""How a source's columns map onto the prediction-log contract, and its timestamps as epoch seconds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

Task = Literal["classification", "regression"]
TsKind = Literal["numeric", "datetime", "text"]


@dataclass(frozen=True)
class Layout:
    """How a source's columns map onto the prediction-log contract (found by probing a sample)."""

    timestamp: str
    ts_kind: TsKind
    ts_sep: str  # "T" or " " for text timestamps, so bounds compare lexicographically
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    task: Task
    has_version: bool
    has_label: bool
    has_latency: bool
    error_kind: Literal["none", "bool", "numeric", "text"]
    columns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical), "task": self.task}


def epoch_seconds(values: Any) -> np.ndarray:
    """Timestamps of any contract form (datetime, ISO text, epoch seconds) as float epoch seconds."""
    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan)
    ts = pd.to_datetime(s, utc=True, errors="coerce", format="mixed") if s.dtype == object else \
        pd.to_datetime(s, utc=True, errors="coerce")
    out = ts.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float) / 1e9
    out[ts.isna().to_numpy()] = np.nan
    return out
