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
    parser.add_argument("--reviewed", action="store_true",
                        help="record that the team reviewed the draft (stops the review reminders) "
                        "instead of drafting")
    parser.add_argument("--file-action-items", dest="file_to", choices=("github", "jira"),
                        help="file the draft's action items (not filed yet) as GitHub issues or Jira tickets, "
                        "then redraw the draft with their keys and states")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from bot.commands import settings_from
    from bot.incidents import IncidentError, IncidentNotFound
    from bot.wiring import create_runtime
    from postmortems.impact import PredictionLogError
    from postmortems.service import draft_postmortem_full

    runtime = create_runtime(settings_from(args))
    if args.reviewed:
        try:
            mark_reviewed(runtime, args.incident, args.actor)
        except IncidentError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            runtime.close()
        print(f"{args.incident}: postmortem marked as reviewed")
        return 0
    from postmortems.trackers import TrackerError, file_action_items

    try:
        if args.file_to:
            for filed in file_action_items(runtime, args.incident, args.file_to, args.actor):
                print(f"filed {filed.key}: {filed.title} {filed.url}")
        result = draft_postmortem_full(runtime, args.incident, args.actor, args.out, args.prediction_log)
    except (IncidentNotFound, PredictionLogError, TrackerError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        runtime.close()
    print(result.path.resolve())
    for figure in result.figures:
        print(figure.resolve())
    for note in result.blame_review:
        print(f"blameless check: note at {note.at} by {note.role} reworded ({note.reason})")
    return 0


def mark_reviewed(runtime: Any, incident_ref: str, actor: str) -> None:
    """Log `postmortem_reviewed`, the event the escalation policy's review reminders wait for."""
    from bot.db import transaction
    from bot.incidents import IncidentError, get_incident, log_event

    with transaction(runtime.sessions) as session:
        incident = get_incident(session, incident_ref)
        if not incident.postmortem_md:
            raise IncidentError(f"{incident.ref} has no postmortem draft yet; draft it first")
        log_event(session, incident, "postmortem_reviewed", "postmortem reviewed", actor=actor)
