"""Parsing the timestamps users send: ISO-8601 (with Z or an offset) or epoch seconds, always UTC.

Only 1970-01-01 to 2200-01-01 is accepted: an alert from year 1 or 9999 is a sender's bug, and
stored it would move an incident's start to a date nothing downstream can compute with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.errors import InvalidInput

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _utc(parsed: datetime, field: str, value: Any) -> datetime:
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"{field}: timestamp {value!r} is out of range (1970-2200)") from None


def _parse(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        return _utc(value, field, value)
    if isinstance(value, bool):
        raise InvalidInput(f"{field}: expected an ISO-8601 timestamp or epoch seconds, got {value!r}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidInput(f"{field}: epoch seconds out of range: {str(value)[:40]!r}") from exc
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 64:
            raise InvalidInput(f"{field}: not a timestamp (longer than 64 characters)")
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except ValueError:
            pass
        except (OverflowError, OSError) as exc:
            raise InvalidInput(f"{field}: epoch seconds out of range: {value!r}") from exc
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
            raise InvalidInput(f"{field}: cannot parse timestamp {value!r} (expected ISO-8601, e.g. "
                               "2026-11-27T03:02:00Z, or epoch seconds)") from None
        return _utc(parsed, field, value)
    raise InvalidInput(f"{field}: expected an ISO-8601 timestamp or epoch seconds, got {type(value).__name__}")


def _in_range(parsed: datetime, field: str, value: Any) -> datetime:
    if not EARLIEST <= parsed < LATEST:
        shown = value if isinstance(value, str) else str(value)[:40]
        raise InvalidInput(f"{field}: timestamp {shown!r} is out of range (1970-2200)")
    return parsed


def parse_timestamp(value: Any, field: str) -> datetime:
    """An aware UTC datetime within 1970-2200, or `InvalidInput` (a ValueError) naming ``field``."""
    return _in_range(_parse(value, field), field, value)


def parse_optional_end(value: Any, field: str) -> datetime | None:
    """Alertmanager marks 'no end' with the zero time 0001-01-01T00:00:00Z."""
    if value in (None, ""):
        return None
    parsed = _parse(value, field)
    return None if parsed.year <= 1 else _in_range(parsed, field, value)


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None
