"""`mlresponder diagnose`: localize a regression in a prediction log (see docs/contracts.md).

    mlresponder diagnose --log LOG [--reference REF] [--changes F] [--onset ISO] [--format json|markdown]
    mlresponder diagnose --service NAME --catalog CATALOG [--prometheus URL] [--log LOG] [--changes F] [--onset ISO]

Exit 0 for any diagnosis ("none" included, and a Prometheus or catalog log that cannot be read:
the diagnosis says so in a finding); exit 2 with one line on stderr when the input cannot be
diagnosed (missing required column, unparseable timestamp, empty log or window, unknown service,
invalid catalog).
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.commands import json_text


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "diagnose",
        help="localize a regression in a prediction log to a data, model or service cause",
        description="Diagnose a prediction log: which data, model or service change explains the regression.",
    )
    p.add_argument(
        "--log",
        help="prediction log: .parquet, .csv, or a SQLAlchemy URL (sqlite:///x.db?table=predictions); "
        "with --service, instead of the catalog's prediction_log",
    )
    p.add_argument("--service", help="diagnose this catalog service: its and its dependencies' Prometheus series")
    p.add_argument("--catalog", help="service catalog YAML file or folder (default: MLRESPONDER_CATALOG)")
    p.add_argument("--prometheus", help="Prometheus base URL (default: MLRESPONDER_PROMETHEUS_URL)")
    p.add_argument("--reference", help="known-good log or training data with the same feature columns")
    p.add_argument("--changes", help="change events, one JSON object per line")
    p.add_argument("--onset", help="when the regression started (ISO-8601); detected when omitted")
    p.add_argument("--format", choices=("json", "markdown"), default="json", help="output format (default json)")
    p.add_argument("--query", help="SQL query to read the log with (with a SQLAlchemy URL as --log)")
    p.add_argument("--details", action="store_true", help="JSON: add each finding's numbers under 'details'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli import CommandError

    if args.service:
        return run_service(args)
    if not args.log:
        raise CommandError("diagnose needs --log LOG, or --service NAME with --catalog CATALOG")
    return run_log(args)


def run_log(args: argparse.Namespace) -> int:
    from bot.cli import CommandError
    from diagnostics import DiagnosisInputError, diagnose, to_markdown
    from diagnostics.loader import LogError, load_changes, load_log

    try:
        log = load_log(args.log, query=args.query)
        reference = load_log(args.reference, reference=True) if args.reference else None
        changes = load_changes(args.changes) if args.changes else []
        diagnosis = diagnose(log, reference=reference, changes=changes, onset=args.onset)
    except (LogError, DiagnosisInputError) as exc:
        raise CommandError(str(exc)) from None
    except Exception as exc:  # a bug must still not spill a traceback over a responder's terminal
        if os.environ.get("MLRESPONDER_DEBUG"):
            raise
        raise _internal_error(exc, str(args.log)) from None
    if args.format == "markdown":
        sys.stdout.write(to_markdown(diagnosis))
    else:
        sys.stdout.write(json_text(diagnosis.to_dict(include_details=args.details)) + "\n")
    return 0


def run_service(args: argparse.Namespace) -> int:
    from bot.catalog import CatalogError, load_catalog
    from bot.cli import CommandError
    from bot.service_diagnosis import ServiceInputError, diagnose_service
    from diagnostics import DiagnosisInputError, to_markdown
    from diagnostics.engine import to_epoch
    from diagnostics.loader import LogError, load_changes

    if args.reference:
        raise CommandError("--reference is for --log alone; a catalog service's reference comes from the catalog")
    catalog_spec = args.catalog or os.environ.get("MLRESPONDER_CATALOG")
    if not catalog_spec:
        raise CommandError("--service needs --catalog CATALOG (or MLRESPONDER_CATALOG)")
    try:
        catalog = load_catalog(catalog_spec)
    except CatalogError as exc:
        raise CommandError(str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid catalog") from None
    service = catalog.get(args.service)
    if service is None:
        known = ", ".join(catalog.names()) or "none"
        raise CommandError(f"{catalog_spec}: no service named {args.service!r} in the catalog (known: {known})")
    url = args.prometheus or os.environ.get("MLRESPONDER_PROMETHEUS_URL") or None
    try:
        changes = load_changes(args.changes) if args.changes else []
        onset = to_epoch(args.onset) if args.onset else None
        diagnosis = diagnose_service(service, prometheus_url=url, log=args.log, changes=changes, onset=onset)
    except (LogError, DiagnosisInputError, ServiceInputError) as exc:
        raise CommandError(str(exc)) from None
    except Exception as exc:  # a bug must still not spill a traceback over a responder's terminal
        if os.environ.get("MLRESPONDER_DEBUG"):
            raise
        raise _internal_error(exc, f"service {args.service}") from None
    if args.format == "markdown":
        sys.stdout.write(to_markdown(diagnosis, title=f"Diagnosis of {service.name}"))
    else:
        sys.stdout.write(json_text(diagnosis.to_dict(include_details=args.details)) + "\n")
    return 0


def _internal_error(exc: Exception, subject: str) -> Exception:
    """One line for a bug, naming what was being diagnosed; MLRESPONDER_DEBUG=1 re-raises instead."""
    from bot.cli import CommandError

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return CommandError(
        f"internal error while diagnosing {subject}: {type(exc).__name__}: {first} "
        "(set MLRESPONDER_DEBUG=1 for the traceback)",
        exit_code=1,
    )
