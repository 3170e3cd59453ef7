"""Parsing the timestamps users send: `diagnostics.timeparse` parses, this adds the app's error and range.

Only 1970-01-01 to 2200-01-01 is accepted: an alert from year 1 or 9999 is a sender's bug, and
stored it would move an incident's start to a date nothing downstream can compute with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.errors import InvalidInput
from diagnostics.timeparse import TimestampError, parse_utc

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _parse(value: Any, field: str) -> datetime:
    try:
        return parse_utc(value, field)
    except TimestampError as exc:
        raise InvalidInput(str(exc)) from exc


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
