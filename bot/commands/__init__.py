"""Subcommands of the `mlresponder` CLI, one module each (see `bot.cli`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from bot.config import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(config_file=getattr(args, "config", None))


def json_text(data: Any, **kwargs: Any) -> str:
    """The commands' one way to write JSON: strict (a figure that is not finite is null, never the
    `NaN` or `Infinity` that jq and other strict readers refuse), ``kwargs`` as for `json.dumps`."""
    from diagnostics.strict_json import dumps  # numpy comes with it: only once JSON is asked for

    return dumps(data, **kwargs)


Column = tuple[str, int, Callable[[dict[str, Any]], str]]


def print_rows(rows: list[dict[str, Any]], columns: Sequence[Column], *, as_json: bool,
               empty: str | None = None) -> None:
    """The listing commands' one output path: JSON for scripts, an aligned table for people.

    A column is (header, width, cell); width 0 means "the rest of the line", untruncated.
    """
    if as_json:
        print(json_text(rows, indent=2))
        return
    if not rows and empty is not None:
        print(empty)
        return
    print(" ".join(f"{header:<{width}}" if width else header for header, width, _ in columns))
    for row in rows:
        print(" ".join(f"{cell(row)[:width]:<{width}}" if width else cell(row) for _, width, cell in columns))
