"""Shared fixtures: a fresh SQLite store per test, a real PostgreSQL per session.

Integration servers: under ``CI=true`` a missing server is a failure, never a skip. The helpers
behind these fixtures are in `tests.support` (importable from any test folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.runtime import Runtime
from bot.wiring import create_runtime
from tests.support.servers import PostgresServer

# `make unit` (the fast tier, under two minutes) runs ``-m "not slow"``; `make test` runs all.
# A test is slow when it needs a real server or process (the integration marker, PostgreSQL, a
# `mlresponder serve` process) or is in one of the modules measured slow (`--durations`).
SLOW_FIXTURES = frozenset({"postgres_server", "postgres_url", "start_service", "stoppable_postgres"})
SLOW_MODULES = frozenset({
    # filled from measurements: see below
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::")[0]
        if (item.get_closest_marker("integration") is not None
                or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
                or "postgres" in item.nodeid or module in SLOW_MODULES):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'mlresponder.db'}",
        scheduler_enabled=False,
        postmortem_dir=str(tmp_path / "postmortems"),
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = create_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.new_database()
