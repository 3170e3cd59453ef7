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
from tests.support.fake_slack import FakeSlack
from tests.support.servers import PostgresServer

# `make unit` (the fast tier, under two minutes) runs ``-m "not slow"``; `make test` runs all.
# A test is slow when it needs a real server or process (the integration marker, PostgreSQL, a
# `mlresponder serve` process) or is in one of the modules measured slow (`--durations`).
SLOW_FIXTURES = frozenset({"postgres_server", "postgres_url", "start_service", "stoppable_postgres"})
SLOW_MODULES = frozenset({  # each over ~10 s in a --durations run of the whole suite
    "tests/monitors/test_monitors_scenarios.py", "tests/monitors/test_monitors_faults.py",
    "tests/monitors/test_monitors_schedule.py", "tests/monitors/test_monitors_runner.py",
    "tests/demo/test_demo_scenarios.py", "tests/cli/test_cli_serve_refuses.py",
    "tests/intake/test_intake_resilience.py", "tests/intake/test_intake_cli.py",
    "tests/intake/test_intake_concurrency.py", "tests/intake/test_intake_bad_input.py",
    "tests/intake/test_intake_alertmanager.py", "tests/security/test_security_api.py",
    "tests/security/test_security_secrets_egress.py", "tests/runbooks/test_runbooks_crash.py",
    "tests/runbooks/test_runbooks_e2e.py", "tests/runbooks/test_runbooks_failures.py",
    "tests/scenarios/test_scenarios_engine.py", "tests/scenarios/test_scenarios_scale_smoke.py",
    # the slowest of the fast tier in a `-m "not slow" --durations=40` run (6-23 s per module)
    "tests/chat/test_chat_pagerduty.py", "tests/runbooks/test_runbooks_slack_revert.py",
    "tests/chat/test_chat_flow.py", "tests/chat/test_chat_roles_and_card.py",
    "tests/chat/test_chat_slow_commands.py", "tests/security/test_security_bad_input.py",
    "tests/chat/test_chat_updates_and_archive.py", "tests/chat/test_chat_slack_events.py",
    "tests/diagnostics/test_diag_relation.py",
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


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """The recording Slack Web API (point `slack_api_url` at its `url`)."""
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


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
