"""Fixtures of the security tests: the intake helpers (real `serve` processes, payloads, row counts)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "intake"))

from collections.abc import Callable, Iterator  # noqa: E402

import pytest  # noqa: E402
from intake_support import ServiceProcess  # noqa: E402


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

sys.path.insert(0, str(Path(__file__).parent.parent / "runbooks"))
