"""Alembic migrations of every domain (one branch per domain, applied with ``upgrade heads``).

`target_metadata()` imports every module that defines tables, so that autogenerate (and
`scripts/new_migration.py`) compares the database with all of them, not only the core's: a
table it does not see would come out as a ``drop_table``. A new models module is added here
(`tests/test_migrations.py` fails until it is).
"""

from __future__ import annotations

from sqlalchemy import MetaData


def target_metadata() -> MetaData:
    import bot.chat.models  # noqa: F401
    import bot.models  # noqa: F401
    import bot.monitors.models  # noqa: F401
    import runbooks.models  # noqa: F401
    from bot.db import Base

    return Base.metadata
