"""Parsing the timestamps users send: ISO-8601 (with Z or an offset) or epoch seconds, always UTC.

The one parser of the code base (alerts, change events, onsets, monitor ticks, postmortem
records). It lives in `diagnostics`, the bottom layer, so that every layer may use it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_timestamp(value: Any, field: str) -> datetime:
    """Return an aware UTC datetime or raise ValueError naming ``field`` and the bad value."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected an ISO-8601 timestamp or epoch seconds, got {value!r}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"{field}: epoch seconds out of range: {value!r}") from exc
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except ValueError:
            pass
        except (OverflowError, OSError) as exc:
            raise ValueError(f"{field}: epoch seconds out of range: {value!r}") from exc
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # Go (Alertmanager) sends nanoseconds; Python takes at most microseconds.
        if "." in text:
            head, _, tail = text.partition(".")
            digits = "".join(ch for ch in tail if ch.isdigit())
            rest = tail[len(digits):]
            text = f"{head}.{digits[:6]}{rest}" if digits else head + rest
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{field}: cannot parse timestamp {value!r} (expected ISO-8601, e.g. "
                             "2026-11-27T03:02:00Z, or epoch seconds)") from None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"{field}: expected an ISO-8601 timestamp or epoch seconds, got {type(value).__name__}")


def parse_optional_end(value: Any, field: str) -> datetime | None:
    """Alertmanager marks 'no end' with the zero time 0001-01-01T00:00:00Z."""
    if value in (None, ""):
        return None
    parsed = parse_timestamp(value, field)
    return None if parsed.year <= 1 else parsed


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None
