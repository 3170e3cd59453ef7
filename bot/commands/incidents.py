"""`mlresponder incidents list|show`: read the incident store from a terminal."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.commands import json_text, print_rows, settings_from

if TYPE_CHECKING:
    from bot.runtime import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("incidents", help="list or show incidents")
    isub = p.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")
    ls = isub.add_parser("list", help="list incidents, newest first")
    ls.add_argument("--status", help="open, or a lifecycle status")
    ls.add_argument("--service")
    ls.add_argument("--severity")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=list_cmd)
    show = isub.add_parser("show", help="show one incident with its timeline")
    show.add_argument("ref", help="INC-<number>")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=show_cmd)
    for name, status, help_text in (("resolve", "resolved", "resolve an incident"),
                                    ("reopen", "reopened", "reopen a resolved incident"),
                                    ("ack", "acknowledged", "acknowledge an incident")):
        move = isub.add_parser(name, help=f"{help_text} (the incident channel hears of it through the running service)")
        move.add_argument("ref", help="INC-<number>")
        move.add_argument("--actor", help="who does it (default: the OS user)")
        move.add_argument("--note", help="a reason, shown on the timeline")
        move.set_defaults(func=transition_cmd, to_status=status)


def _open_runtime(args: argparse.Namespace) -> Runtime:
    """The store, migrated; an unreachable one is a one-line error, not a traceback."""
    from sqlalchemy.exc import OperationalError

    from bot.cli import CommandError
    from bot.wiring import create_runtime

    try:
        return create_runtime(settings_from(args), install_parts=False)
    except OperationalError as exc:
        raise CommandError(f"cannot reach the incident store: {type(exc.orig).__name__}") from None


def list_cmd(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from bot.db import transaction
    from bot.incidents import incident_to_dict, list_incidents, normalize_severity
    from bot.models import STATUSES

    if args.status and args.status != "open" and args.status not in STATUSES:
        raise CommandError(f"--status: unknown status {args.status!r} (expected open or one of {', '.join(STATUSES)})")
    if not 1 <= args.limit <= 10_000:
        raise CommandError("--limit: must be between 1 and 10000")
    if args.severity:
        try:
            normalize_severity(args.severity, "--severity")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    runtime = _open_runtime(args)
    try:
        with transaction(runtime.sessions) as session:
            rows = [
                incident_to_dict(session, i, full=False)
                for i in list_incidents(session, status=args.status, service=args.service,
                                        severity=args.severity, limit=args.limit)
            ]
    finally:
        runtime.close()
    print_rows(rows, [
        ("ID", 8, lambda r: r["id"]),
        ("SEV", 5, lambda r: r["severity"]),
        ("STATUS", 13, lambda r: r["status"]),
        ("SERVICE", 20, lambda r: r["service"]),
        ("CREATED", 21, lambda r: (r["created_at"] or "")[:19]),
        ("TITLE", 0, lambda r: r["title"]),
    ], as_json=args.json, empty="no incidents")
    return 0


def show_cmd(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from bot.db import transaction
    from bot.incidents import IncidentNotFound, get_incident, incident_to_dict

    runtime = _open_runtime(args)
    try:
        with transaction(runtime.sessions) as session:
            try:
                data = incident_to_dict(session, get_incident(session, args.ref))
            except IncidentNotFound as exc:
                raise CommandError(str(exc), exit_code=1) from None
    finally:
        runtime.close()
    if args.json:
        print(json_text(data, indent=2))
        return 0
    print(f"{data['id']}  {data['title']}")
    print(f"  severity {data['severity']}  status {data['status']}  service {data['service']}")
    print(f"  started {data['started_at']}  commander {data['commander'] or '-'}")
    if data["alerts_resolved"]:
        print("  all alerts resolved (awaiting a responder to resolve the incident)")
    if data.get("diagnosis"):
        d = data["diagnosis"]
        print(f"  diagnosis: {d.get('cause')} / {d.get('culprit', {}).get('name')} → {d.get('recommended_mitigation')}")
    print("  timeline:")
    for ev in data["timeline"]:
        print(f"    {ev['at'][:19]}  {ev['kind']:<20} {ev['actor']:<14} {ev['message']}")
    return 0


def transition_cmd(args: argparse.Namespace) -> int:
    import getpass

    from bot.cli import CommandError
    from bot.db import transaction
    from bot.incidents import IncidentError, get_incident, transition
    from bot.wiring import attach_outbox

    runtime = _open_runtime(args)
    attach_outbox(runtime)
    actor = args.actor or f"cli:{getpass.getuser()}"
    try:
        with transaction(runtime.sessions) as session:
            incident = get_incident(session, args.ref)
            transition(session, incident, args.to_status, actor=actor, note=args.note)
            ref = incident.ref
    except IncidentError as exc:
        raise CommandError(str(exc), exit_code=1) from None
    finally:
        runtime.close()
    print(f"{ref} is now {args.to_status}")
    return 0
