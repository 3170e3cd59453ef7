"""`mlresponder mitigation list|show|revert`: mitigations from a terminal."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from bot.commands import json_text, print_rows, settings_from


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("mitigation", help="list, show or revert mitigations")
    msub = p.add_subparsers(dest="mitigation_command", required=True, metavar="ACTION")
    ls = msub.add_parser("list", help="list mitigations, newest first")
    ls.add_argument("--incident", help="INC-<number>")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_cmd)
    show = msub.add_parser("show", help="show one mitigation (plan, before/after, verification)")
    show.add_argument("id", type=int)
    show.set_defaults(func=show_cmd)
    plan = msub.add_parser("plan", help="dry run: what a mitigation would change for an incident (records nothing)")
    plan.add_argument("incident", help="INC-<number>")
    plan.add_argument("action", help="rollback or naive_model")
    plan.add_argument("--target", help="registered model (default: the incident's model label or service)")
    plan.add_argument("--to-version", help="rollback: this version instead of the last known-good one")
    plan.set_defaults(func=plan_cmd)
    rev = msub.add_parser("revert", help="undo an executed mitigation (the serving version goes back)")
    rev.add_argument("id", type=int)
    rev.add_argument("--actor", help="who reverts (default: the OS user)")
    rev.set_defaults(func=revert_cmd)


def _with_runtime(args: argparse.Namespace, fn: Any) -> Any:
    from bot.cli import CommandError
    from bot.incidents import IncidentError
    from bot.wiring import attach_outbox, create_runtime
    from runbooks.mitigations import MitigationError

    runtime = create_runtime(settings_from(args), install_parts=False)
    attach_outbox(runtime)  # what this command records reaches the incident channel via the running service
    try:
        return fn(runtime)
    except (MitigationError, IncidentError) as exc:
        raise CommandError(str(exc), exit_code=1) from exc
    finally:
        runtime.close()


def list_cmd(args: argparse.Namespace) -> int:
    from runbooks.service import list_mitigations

    rows = _with_runtime(args, lambda rt: list_mitigations(rt, args.incident, limit=args.limit))
    print_rows(rows, [
        ("ID", 6, lambda r: str(r["id"])),
        ("INCIDENT", 9, lambda r: r["incident"]),
        ("ACTION", 12, lambda r: r["action"]),
        ("STATUS", 20, lambda r: r["status"]),
        ("TARGET", 24, lambda r: r["target"]),
        ("SUMMARY", 0, lambda r: str((r["plan"] or {}).get("summary", r["error"] or ""))),
    ], as_json=args.json, empty="no mitigations")
    return 0


def show_cmd(args: argparse.Namespace) -> int:
    from runbooks.service import get_mitigation

    print(json_text(_with_runtime(args, lambda rt: get_mitigation(rt, args.id)), indent=2))
    return 0


def plan_cmd(args: argparse.Namespace) -> int:
    from runbooks.service import plan_mitigation

    params = {"to_version": args.to_version} if args.to_version else {}
    result = _with_runtime(args, lambda rt: plan_mitigation(rt, args.incident, args.action, args.target, params))
    print(f"dry run: {result.get('summary', args.action)}")
    print(json_text(result, indent=2))
    return 0


def revert_cmd(args: argparse.Namespace) -> int:
    from runbooks.service import revert_mitigation

    actor = args.actor or f"cli:{getpass.getuser()}"
    result = _with_runtime(args, lambda rt: revert_mitigation(rt, args.id, actor))
    before, after = result.get("after") or {}, result.get("before") or {}
    print(f"mitigation {result['id']} reverted: {result['target']} serves version "
          f"{after.get('version', '?')} again (was {before.get('version', '?')})")
    return 0
