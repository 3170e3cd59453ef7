"""`mlresponder diagnose`: localize a regression in a prediction log (see docs/contracts.md).

Exit 0 for any diagnosis ("none" included); exit 2 with one line on stderr when the input
cannot be diagnosed (missing required column, unparseable timestamp, empty log or window).
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "diagnose",
        help="localize a regression in a prediction log to a data, model or service cause",
        description="Diagnose a prediction log: which data, model or service change explains the regression.",
    )
    p.add_argument(
        "--log",
        required=True,
        help="prediction log: .parquet, .csv, or a SQLAlchemy URL (sqlite:///x.db?table=predictions)",
    )
    p.add_argument("--reference", help="known-good log or training data with the same feature columns")
    p.add_argument("--changes", help="change events, one JSON object per line")
    p.add_argument("--onset", help="when the regression started (ISO-8601); detected when omitted")
    p.add_argument("--format", choices=("json", "markdown"), default="json", help="output format (default json)")
    p.add_argument("--query", help="SQL query to read the log with (with a SQLAlchemy URL as --log)")
    p.add_argument("--details", action="store_true", help="JSON: add each finding's numbers under 'details'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from diagnostics import DiagnosisInputError, diagnose, to_markdown
    from diagnostics.loader import LogError, load_changes, load_log

    try:
        log = load_log(args.log, query=args.query)
        reference = load_log(args.reference) if args.reference else None
        changes = load_changes(args.changes) if args.changes else []
        diagnosis = diagnose(log, reference=reference, changes=changes, onset=args.onset)
    except (LogError, DiagnosisInputError) as exc:
        raise CommandError(str(exc)) from None
    except Exception as exc:  # a bug must still not spill a traceback over a responder's terminal
        if os.environ.get("MLRESPONDER_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CommandError(
            f"internal error while diagnosing {args.log}: {type(exc).__name__}: {first} "
            "(set MLRESPONDER_DEBUG=1 for the traceback)",
            exit_code=1,
        ) from None
    if args.format == "markdown":
        sys.stdout.write(to_markdown(diagnosis))
    else:
        sys.stdout.write(json.dumps(diagnosis.to_dict(include_details=args.details)) + "\n")
    return 0
