"""Autogenerate a migration from the models: python scripts/new_migration.py "message" REV_ID.

Review the result by hand: replace UTCDateTime with sa.DateTime(timezone=True).
"""

from __future__ import annotations

import sys

from alembic import command

import bot.models  # noqa: F401  (registers the core tables)
from bot.db import alembic_config


def main() -> None:
    cfg = alembic_config("sqlite:////tmp/mlresponder-autogen.db")
    command.revision(cfg, message=sys.argv[1], autogenerate=True, rev_id=sys.argv[2])


if __name__ == "__main__":
    main()
