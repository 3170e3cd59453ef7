"""The `mlresponder` command line.

Each subcommand lives in its own module under `bot/commands/` and exposes
``register(subparsers)``; modules are discovered, so a domain adds a command without
touching this file. Heavy imports happen inside the handlers to keep `--help` fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from bot import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlresponder",
        description="Incident response for production ML systems: intake, diagnosis, mitigation, postmortem.",
    )
    parser.add_argument("--config", help="YAML config file with the same keys as the environment variables")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        return 130
    except CommandError as exc:
        print(f"mlresponder {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    return int(code or 0)


class CommandError(Exception):
    """An error the user can act on: printed as one line on stderr, no traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


if __name__ == "__main__":
    # Run the imported module's main, so that `CommandError` is one class whether the CLI is
    # started as `mlresponder` or as `python -m bot.cli`.
    from bot.cli import main as _main

    raise SystemExit(_main())
