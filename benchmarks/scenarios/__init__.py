"""Scenario suite for the diagnostics engine: realistic prediction logs with one known fault each.

`generate_scenario` builds one case, `generate_suite` the whole benchmark (both re-exported here,
lazily, so `python -m benchmarks.scenarios.generate` does not import its own module twice), and
`python -m benchmarks.scenarios.score` measures the engine against the expected answers.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["KINDS", "Expected", "Scenario", "Spec", "generate_scenario", "generate_suite", "suite_specs"]


def __getattr__(name: str) -> Any:
    if name == "Expected":
        return importlib.import_module("benchmarks.scenarios.faults").Expected
    if name in __all__:
        return getattr(importlib.import_module("benchmarks.scenarios.generate"), name)
    raise AttributeError(name)
