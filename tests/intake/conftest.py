"""Fixtures of the intake tests: a store URL per backend, real `mlresponder serve` processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from intake_support import ServiceProcess


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store on each backend (PostgreSQL: a new database on the session's server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'intake.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def start_service() -> Iterator[Callable[..., ServiceProcess]]:
    """Start `mlresponder serve` processes; every one is stopped and cleaned up after the test."""
    started: list[ServiceProcess] = []

    def start(database_url: str, **kwargs: object) -> ServiceProcess:
        service = ServiceProcess(database_url, **kwargs)  # type: ignore[arg-type]
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.close()
