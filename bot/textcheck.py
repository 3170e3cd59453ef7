"""Checks on text from outside before any database sees it: lengths and NUL characters.

PostgreSQL refuses a NUL in text and a string longer than its column with an error that
would fail the whole delivery as a 5xx (and Alertmanager would retry it forever); SQLite
stores either silently. Checking first gives the same 4xx on both, naming the field.
"""

from __future__ import annotations

from typing import Any

from bot.errors import InvalidInput


def _where(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check_text(value: str, where: str, *, max_length: int | None = None) -> str:
    if "\x00" in value:
        raise InvalidInput(f"{where}: contains a NUL character")
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"{where}: longer than {max_length} characters ({len(value)})")
    return value


def check_text_tree(value: Any, where: str, *, max_length: int | None = None) -> None:
    """Every string (keys included) in nested dicts and lists: no NUL, at most ``max_length``."""
    if isinstance(value, str):
        check_text(value, where or "body", max_length=max_length)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(str(k), _where(where, str(k)), max_length=max_length)
            check_text_tree(v, _where(where, str(k)), max_length=max_length)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_text_tree(v, _where(where, i), max_length=max_length)
