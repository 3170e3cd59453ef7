"""Fixtures for the scale tests: real `mlresponder serve` replicas on the session's PostgreSQL.

The helpers of the chat, monitor and runbook tests (fake Slack, monitor YAML, prediction logs,
the MLflow registry) are reused from their folders rather than copied.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).parent.parent
for folder in ("scale", "chat", "monitors", "runbooks"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))

from scale_support import Replica  # noqa: E402


def _runbook_fixtures():  # type: ignore[no-untyped-def]
    """The runbook tests' conftest (its MLflow registry fixture), loaded under a name of its own."""
    spec = importlib.util.spec_from_file_location("runbook_fixtures", TESTS / "runbooks" / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


mlflow_store = _runbook_fixtures().mlflow_store


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Callable[..., Replica]]:
    """Start `serve` processes; every one still running at the end is killed."""
    made: list[Replica] = []

    def start(env: dict[str, str], name: str | None = None, workers: int = 1, host: str | None = None) -> Replica:
        replica = Replica(env, tmp_path, name or f"r{len(made) + 1}", workers=workers, host=host)
        made.append(replica)
        return replica

    yield start
    for replica in made:
        replica.kill()
