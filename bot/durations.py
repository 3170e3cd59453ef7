"""Durations as users write them in YAML (``90``, ``"90s"``, ``"5m"``, ``"2h"``, ``"7d"``, ``"1w"``).

One parser for runbooks and monitors, so the same text means the same time everywhere. Runbooks
may say ``0`` (e.g. verify at once), monitors may not (a zero window checks nothing): the two
annotated types below differ only in that bound.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: Any, *, allow_zero: bool = True) -> float:
    """Seconds from a number of seconds or a number with a unit; never negative."""
    if isinstance(value, bool):
        raise PydanticCustomError("duration", f"expected a duration like 30s, 5m, 2h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise PydanticCustomError("duration", f"expected a duration like 30s, 5m, 2h, got {value!r}")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2) or "s"]
    if seconds < 0:
        raise PydanticCustomError("duration", f"a duration cannot be negative, got {value!r}")
    if seconds == 0 and not allow_zero:
        raise PydanticCustomError("duration", f"a duration must be positive, got {value!r}")
    return seconds


def parse_positive_duration(value: Any) -> float:
    return parse_duration(value, allow_zero=False)


Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_positive_duration)]
