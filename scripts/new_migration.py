"""Autogenerate a migration from the models: python scripts/new_migration.py "message" REV_ID [DOWN_REV]."""
import sys
from alembic import command
from alembic.config import Config
import bot.models  # noqa
from bot.db import Base, alembic_config
cfg = alembic_config("sqlite:////tmp/autogen.db")
# temporarily point env at metadata
import bot.migrations
command.revision(cfg, message=sys.argv[1], autogenerate=True, rev_id=sys.argv[2])
