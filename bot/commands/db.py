"""`mlresponder db upgrade`: apply the schema migrations to the configured store."""

from __future__ import annotations

import argparse

from bot.commands import settings_from


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="incident store maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="apply all migrations (also done on `serve`)")
    up.set_defaults(func=upgrade_cmd)


def upgrade_cmd(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from bot.cli import CommandError
    from bot.db import upgrade

    settings = settings_from(args)
    try:
        upgrade(settings.database_url)
    except OperationalError as exc:
        raise CommandError(f"cannot reach the incident store: {type(exc.orig).__name__}") from None
    print("incident store is up to date")
    return 0
