"""`mlresponder demo [--scenario NAME]`: an ML incident from deploy to postmortem, in under a minute."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

SCENARIO_NAMES = ("bad-deploy", "data-drift", "broken-feature", "latency")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run an end-to-end incident on embedded defaults (SQLite, console chat, local MLflow)",
        description="Train and register a real scikit-learn model, break production in one of four ways, "
        "and watch mlresponder take the alert through diagnosis, mitigation, verification and the "
        "postmortem. Needs the demo extra: pip install 'mlresponder[demo]'.",
    )
    parser.add_argument("--scenario", choices=SCENARIO_NAMES, default="bad-deploy",
                        help="what goes wrong (default: bad-deploy)")
    parser.add_argument("--out", help="folder for the demo's files (default: a new temp folder, kept)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli import CommandError

    try:
        import mlflow  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise CommandError(f"the demo needs MLflow and scikit-learn ({exc.name} is missing): "
                           "pip install 'mlresponder[demo]'") from exc
    from bot.demo.flow import DemoError, run_demo
    from bot.demo.report import summary

    folder = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="mlresponder-demo-"))
    print(f"mlresponder demo: scenario {args.scenario}; files in {folder}")
    try:
        outcome = run_demo(args.scenario, folder)
    except DemoError as exc:
        raise CommandError(str(exc), exit_code=1) from exc
    print()
    print(summary(outcome))
    return 0
