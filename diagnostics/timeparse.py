"""The one timestamp parser: ISO-8601 (with Z or an offset, Go's nanoseconds) or epoch seconds, as UTC.

It lives here because `diagnostics` imports nothing of the app, yet the app (`bot.timeparse`) must
parse the same way; the app wraps `TimestampError` into its own 4xx error and adds its range policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class TimestampError(ValueError):
    """A value that is not a timestamp; the message names the field and the value."""


def _utc(parsed: datetime, field: str, value: Any) -> datetime:
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise TimestampError(f"{field}: timestamp {value!r} is out of range (1970-2200)") from None


def parse_utc(value: Any, field: str) -> datetime:
    """An aware UTC datetime from a datetime, epoch seconds (number or text) or ISO-8601 text."""
    if isinstance(value, datetime):
        return _utc(value, field, value)
    if isinstance(value, bool):
        raise TimestampError(f"{field}: expected an ISO-8601 timestamp or epoch seconds, got {value!r}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise TimestampError(f"{field}: epoch seconds out of range: {str(value)[:40]!r}") from exc
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 64:
            raise TimestampError(f"{field}: not a timestamp (longer than 64 characters)")
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except ValueError:
            pass
        except (OverflowError, OSError) as exc:
            raise TimestampError(f"{field}: epoch seconds out of range: {value!r}") from exc
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
            raise TimestampError(f"{field}: cannot parse timestamp {value!r} (expected ISO-8601, e.g. "
                                 "2026-11-27T03:02:00Z, or epoch seconds)") from None
        return _utc(parsed, field, value)
    raise TimestampError(f"{field}: expected an ISO-8601 timestamp or epoch seconds, got {type(value).__name__}")
