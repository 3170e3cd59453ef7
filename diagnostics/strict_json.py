"""Strict JSON out of figures that may not be finite: the one way every output writes JSON.

Python's `json` writes a float that is not finite as `NaN` or `Infinity`, which is not JSON:
strict parsers (JavaScript's `JSON.parse`, jq, Go, PostgreSQL's `json` type) refuse the whole
document. Diagnostics do produce such figures — a ratio against a zero rate, a level of a series
that has no data — so every JSON mlresponder writes (the `mlresponder diagnose` contract, HTTP
answers, stored diagnoses and events, CLI output, benchmark files) goes through `dumps`, and a
non-finite number becomes null (docs/contracts.md); a file read back only by this project's own
tools may ask for the strings ``"Infinity"``, ``"-Infinity"``, ``"NaN"`` instead (``float()``
reads them back), where null would lose "infinite" against "unknown".

The common case costs nothing extra: the document is written by the C encoder with
``allow_nan=False`` first, and walked in Python only when that refuses a number.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

NonFinite = Literal["null", "string"]


def jsonable(value: Any, nonfinite: NonFinite = "null") -> Any:
    """``value`` with every non-finite float replaced (null, or its name as a string), numpy
    scalars and arrays as Python numbers and lists, tuples as lists, keys as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v, nonfinite) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, nonfinite) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and hasattr(value, "dtype"):  # numpy arrays and scalars
        return jsonable(tolist(), nonfinite)
    if isinstance(value, float) and not math.isfinite(value):
        if nonfinite == "null":
            return None
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def dumps(value: Any, *, nonfinite: NonFinite = "null", **kwargs: Any) -> str:
    """`json.dumps` that never writes NaN or Infinity (``kwargs`` as for `json.dumps`)."""
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except (ValueError, TypeError):  # a float that is not finite, or a numpy number, somewhere in it
        return json.dumps(jsonable(value, nonfinite), allow_nan=False, **kwargs)
