"""`mlresponder runbook validate PATH...` and `mlresponder runbook list`."""

from __future__ import annotations

import argparse
from typing import Any

from bot.commands import json_text, settings_from


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("runbook", help="validate or list runbooks")
    rsub = p.add_subparsers(dest="runbook_command", required=True, metavar="ACTION")
    val = rsub.add_parser("validate", help="check runbook YAML files or folders; errors name file:line: field")
    val.add_argument("paths", nargs="+", metavar="PATH")
    val.set_defaults(func=validate_cmd)
    ls = rsub.add_parser("list", help="list the runbooks the service would load (MLRESPONDER_RUNBOOKS or built-ins)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_cmd)


def validate_cmd(args: argparse.Namespace) -> int:
    import sys

    from runbooks.loader import RunbookError, load_runbooks

    try:
        loaded = load_runbooks(args.paths)
    except RunbookError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
        return 1
    for item in loaded:
        print(f"ok {item.file}: {item.name} ({len(item.runbook.steps)} steps)")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from runbooks.loader import RunbookError, load_runbooks, paths_from_setting

    settings = settings_from(args)
    try:
        loaded = load_runbooks(paths_from_setting(settings.runbooks))
    except RunbookError as exc:
        raise CommandError(f"invalid runbooks:\n{exc}", exit_code=1) from exc
    rows: list[dict[str, Any]] = []
    for item in loaded:
        rb = item.runbook
        match = {k: v.describe() for k, v in (("alertname", rb.match.alertname), ("service", rb.match.service)) if v}
        match.update({f"labels.{k}": v.describe() for k, v in rb.match.labels.items()})
        match.update({f"annotations.{k}": v.describe() for k, v in rb.match.annotations.items()})
        rows.append({"name": rb.name, "file": item.file, "description": rb.description, "severity": rb.severity,
                     "match": match, "steps": [f"{s.label(i)}:{s.kind}" for i, s in enumerate(rb.steps)]})
    if args.json:
        print(json_text(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['name']}  ({r['file']})")
        if r["description"]:
            print(f"  {r['description']}")
        print("  match: " + ", ".join(f"{k}={v}" for k, v in r["match"].items()))
        print(f"  severity: {','.join(r['severity'])}")
        print("  steps: " + " → ".join(r["steps"]))
    return 0
