"""`mlresponder postmortem INC-12 [--out DIR] [--log PRED_LOG]`: draft an incident's postmortem now."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "postmortem",
        help="draft the blameless postmortem of an incident (markdown + figures)",
        description="Draft the blameless postmortem of an incident from what mlresponder recorded, "
        "store it with the incident and post it to the incident channel.",
    )
    parser.add_argument("incident", help="incident id, e.g. INC-12")
    parser.add_argument("--out", help="folder for the markdown and its figures "
                        "(default: the postmortem_dir setting / <incident id>)")
    parser.add_argument("--log", dest="prediction_log",
                        help="prediction log (CSV or Parquet) for the impact figures and charts")
    parser.add_argument("--actor", default="cli", help="who asked for the draft (recorded on the timeline)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from bot.commands import settings_from
    from bot.incidents import IncidentNotFound
    from bot.runtime import Runtime
    from postmortems.impact import PredictionLogError
    from postmortems.service import draft_postmortem_full

    runtime = Runtime.create(settings_from(args))
    try:
        result = draft_postmortem_full(runtime, args.incident, args.actor, args.out, args.prediction_log)
    except (IncidentNotFound, PredictionLogError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        runtime.close()
    print(result.path.resolve())
    for figure in result.figures:
        print(figure.resolve())
    for note in result.blame_review:
        print(f"blameless check: note at {note.at} by {note.role} reworded ({note.reason})")
    return 0
