"""`mlresponder report --since 30d`: MTTD, MTTA, MTTM and MTTR by service and severity (markdown + PNG)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="response times (MTTD, MTTA, MTTM, MTTR) by service and severity over a period",
        description="Mean time to detect, acknowledge, mitigate and resolve the incidents opened in a period, "
        "by service and by severity: a markdown report and a PNG chart.",
    )
    parser.add_argument("--since", default="30d", help="how far back, e.g. 30d, 2w, 12h (default 30d)")
    parser.add_argument("--out", help="folder for report.md and report.png (default: ./report-<date>)")
    parser.add_argument("--service", help="only this service")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of markdown")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic_core import PydanticCustomError

    from bot.cli import CommandError
    from bot.commands import json_text, settings_from
    from bot.db import transaction, utcnow
    from bot.durations import parse_positive_duration
    from bot.incidents import incident_to_dict, list_incidents
    from bot.wiring import create_runtime
    from postmortems.report import build_report, draw_chart, to_markdown

    try:
        seconds = parse_positive_duration(args.since)
    except PydanticCustomError as exc:
        raise CommandError(f"--since: {exc}") from None
    until = utcnow()
    since = until - timedelta(seconds=seconds)
    runtime = create_runtime(settings_from(args), install_parts=False)
    try:
        with transaction(runtime.sessions) as session:
            records = [incident_to_dict(session, i)
                       for i in list_incidents(session, since=since, service=args.service, limit=100_000)]
    finally:
        runtime.close()
    report = build_report(records, since, until)
    if args.json:
        print(json_text(report.to_dict(), indent=2))
        return 0
    out = Path(args.out or f"report-{until:%Y-%m-%d}")
    chart = draw_chart(report, out / "report.png")
    markdown = to_markdown(report, chart.name)
    (out / "report.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    print(f"written: {out / 'report.md'}, {chart}")
    return 0
