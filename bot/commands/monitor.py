"""`mlresponder monitor list|run NAME|history NAME`: see and run the monitors from a terminal."""

from __future__ import annotations

import argparse
from typing import Any

from bot.commands import json_text, print_rows, settings_from


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("monitor", help="list monitors, run one now, or show its run history")
    msub = p.add_subparsers(dest="monitor_command", required=True, metavar="ACTION")
    ls = msub.add_parser("list", help="configured monitors with their last run")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_cmd)
    run = msub.add_parser("run", help="run a monitor now; a breach opens or joins an incident")
    run.add_argument("name")
    run.add_argument("--at", help="judge the window ending at this ISO-8601 time instead of now")
    run.add_argument("--dry-run", action="store_true", help="judge only: no incident, no run record")
    run.add_argument("--json", action="store_true")
    run.set_defaults(func=run_cmd)
    hist = msub.add_parser("history", help="recent runs of a monitor, newest first")
    hist.add_argument("name")
    hist.add_argument("--limit", type=int, default=20)
    hist.add_argument("--json", action="store_true")
    hist.set_defaults(func=history_cmd)


def _runtime(args: argparse.Namespace) -> Any:
    from bot.cli import CommandError
    from bot.monitors.loader import MonitorConfigError
    from bot.wiring import create_runtime

    # No scheduler here: only `serve` runs jobs (one scheduler per store).
    settings = settings_from(args).with_(scheduler_enabled=False)
    if not settings.monitors:
        raise CommandError("no monitors configured: set MLRESPONDER_MONITORS to a YAML file or folder")
    try:
        return create_runtime(settings)
    except MonitorConfigError as exc:
        raise CommandError(f"invalid monitor configuration:\n{exc}") from None


def list_cmd(args: argparse.Namespace) -> int:
    from bot.db import transaction
    from bot.monitors.runner import MonitorService, last_runs

    runtime = _runtime(args)
    try:
        service = runtime.parts[MonitorService]
        with transaction(runtime.sessions) as session:
            last = last_runs(session)
            rows = []
            for name, spec in sorted(service.config.monitors.items()):
                run = last.get(name)
                schedule = f"every {spec.schedule.every:g}s" if spec.schedule.every else f"cron {spec.schedule.cron}"
                rows.append({
                    "name": name, "service": spec.service, "severity": spec.severity, "schedule": schedule,
                    "enabled": spec.enabled, "last_status": run.status if run else None,
                    "last_run": run.finished_at.isoformat() if run and run.finished_at else None,
                    "incidents": run.incidents if run else [],
                })
    finally:
        runtime.close()
    print_rows(rows, [
        ("NAME", 28, lambda r: r["name"]),
        ("SERVICE", 20, lambda r: r["service"]),
        ("SEV", 5, lambda r: r["severity"]),
        ("SCHEDULE", 18, lambda r: r["schedule"]),
        ("LAST", 8, lambda r: r["last_status"] or "-"),
        ("LAST RUN", 0, lambda r: f"{(r['last_run'] or '-')[:19]} {' '.join(r['incidents'])}"),
    ], as_json=args.json)
    return 0


def run_cmd(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from bot.monitors.runner import MonitorService, UnknownMonitor
    from bot.timeparse import parse_timestamp

    runtime = _runtime(args)
    try:
        service = runtime.parts[MonitorService]
        try:
            now = parse_timestamp(args.at, "--at") if args.at else None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        try:
            outcome = service.run(args.name, now=now, publish=not args.dry_run)
        except UnknownMonitor as exc:
            raise CommandError(str(exc.args[0])) from None
    finally:
        runtime.close()
    if args.json:
        print(json_text(outcome.to_dict(), indent=2, default=str))
        return 0 if outcome.status in ("ok", "breach", "skipped") else 1
    print(f"{outcome.monitor}: {outcome.status} in {outcome.duration_ms:.0f} ms"
          + (f" → {', '.join(outcome.incidents)}" if outcome.incidents else ""))
    if outcome.error:
        print(f"  error: {outcome.error}")
    for f in (outcome.diagnosis or {}).get("findings", []):
        print(f"  [{f['severity']}] {f['cause']}/{f['check']} {f['subject']}: {f['evidence']}")
    return 0 if outcome.status in ("ok", "breach", "skipped") else 1


def history_cmd(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from bot.db import transaction
    from bot.monitors.runner import MonitorService, UnknownMonitor, history

    runtime = _runtime(args)
    try:
        try:
            runtime.parts[MonitorService].spec(args.name)
        except UnknownMonitor as exc:
            raise CommandError(str(exc.args[0])) from None
        with transaction(runtime.sessions) as session:
            rows = [{
                "tick": r.tick.isoformat(), "trigger": r.trigger, "status": r.status, "replica": r.replica,
                "rows": r.rows, "duration_ms": r.duration_ms, "incidents": r.incidents, "error": r.error,
                "top_finding": ((r.diagnosis or {}).get("findings") or [{}])[0].get("evidence"),
            } for r in history(session, args.name, args.limit)]
    finally:
        runtime.close()
    if args.json:
        print(json_text(rows, indent=2))
        return 0
    if not rows:
        print(f"{args.name}: no runs yet")
        return 0
    for r in rows:
        detail = r["error"] or r["top_finding"] or ""
        ms = f"{r['duration_ms']:.0f}ms" if r["duration_ms"] is not None else "-"
        print(f"{r['tick'][:19]}  {r['status']:<8} {r['trigger']:<9} {ms:>7}  {' '.join(r['incidents'])}  {detail}")
    return 0
