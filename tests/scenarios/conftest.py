"""Fixtures for the scenario suite: one small scenario of each kind, generated once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` is a top-level folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.scenarios.datasets import DATASETS  # noqa: E402
from benchmarks.scenarios.generate import KINDS, Scenario, generate_scenario  # noqa: E402


@pytest.fixture(scope="session")
def quick_scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scenario]:
    """Kind -> scenario, datasets rotated so classification and regression are both covered."""
    root = tmp_path_factory.mktemp("scenarios")
    return {
        kind: generate_scenario(kind, 1, DATASETS[i % len(DATASETS)], root / kind, variant=0, rows_per_minute=10.0)
        for i, kind in enumerate(KINDS)
    }
