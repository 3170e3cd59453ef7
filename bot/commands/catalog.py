"""`mlresponder catalog validate [PATH...]`, `catalog list`, `catalog show NAME`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.commands import json_text, print_rows, settings_from


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("catalog", help="validate, list or show the service catalog (MLRESPONDER_CATALOG)")
    csub = p.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    val = csub.add_parser("validate", help="check catalog YAML files or folders; errors name file:line: field")
    val.add_argument("paths", nargs="*", metavar="PATH", help="default: MLRESPONDER_CATALOG")
    val.set_defaults(func=validate_cmd)
    ls = csub.add_parser("list", help="the services of the catalog")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_cmd)
    show = csub.add_parser("show", help="one service as the service sees it (secrets shown as references)")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=show_cmd)


def _load(args: argparse.Namespace, paths: list[str] | None = None) -> Any:
    from bot.catalog import CatalogError, load_catalog
    from bot.cli import CommandError
    from runbooks.actions import ACTIONS

    spec: Any = paths or settings_from(args).catalog
    if not spec:
        raise CommandError("no catalog: give a PATH or set MLRESPONDER_CATALOG", exit_code=2)
    try:
        return load_catalog(spec, known_actions=ACTIONS)
    except CatalogError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        raise CommandError(f"{len(exc.problems)} problem(s) found", exit_code=1) from None


def validate_cmd(args: argparse.Namespace) -> int:
    catalog = _load(args, args.paths)
    for entry in catalog.entries:
        s = entry.service
        print(f"ok {entry.file}:{entry.line}: {s.name} (match {s.describe_match()}; {len(s.series())} series, "
              f"{len(s.dependencies)} dependencies)")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    catalog = _load(args)
    rows = [{"name": s.name, "match": s.describe_match(), "model": s.model.registry if s.model else "",
             "owners": s.owners.slack or "", "auto_approve": s.auto_approve,
             "dependencies": s.dependency_names()} for s in catalog]
    print_rows(rows, [("NAME", 24, lambda r: r["name"]), ("MODEL", 20, lambda r: r["model"]),
                      ("OWNERS", 12, lambda r: r["owners"]), ("AUTO", 16, lambda r: ",".join(r["auto_approve"])),
                      ("MATCH", 0, lambda r: r["match"])], as_json=args.json, empty="no services")
    return 0


def show_cmd(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from bot.redact import redact

    catalog = _load(args)
    entry = catalog.where(args.name)
    if entry is None:
        raise CommandError(f"no service {args.name!r} in the catalog (services: {', '.join(catalog.names())})")
    s = entry.service
    data: dict[str, Any] = {
        "name": s.name, "file": f"{entry.file}:{entry.line}",
        "match": {k: m.describe() for k, m in s.match.items()},
        **s.model_dump(mode="json", exclude={"name", "match", "metrics", "dependencies"}),
        "series": [{"key": r.key, "kind": r.kind, "dependency": r.dependency, "query": r.query} for r in s.series()],
    }
    # The catalog holds references, not secrets; the redactor still runs in case one was resolved.
    text = str(redact(json_text(data, indent=2), extra=catalog.secret_values()))
    if args.json:
        print(text)
        return 0
    shown = json.loads(text)
    for key, value in shown.items():
        if key == "series":
            print("series:")
            for r in value:
                who = f"{r['dependency']}." if r["dependency"] else ""
                print(f"  {who}{r['key']} [{r['kind']}]: {r['query']}")
        elif isinstance(value, dict | list):
            print(f"{key}: {json_text(value)}")
        elif value is not None:
            print(f"{key}: {value}")
    return 0
