"""Scenario suite for the diagnostics engine: realistic prediction logs with one known fault each.

`generate_scenario` builds one case, `generate_suite` the whole benchmark, and
`python -m benchmarks.scenarios.score` measures the engine against the expected answers.
"""

from benchmarks.scenarios.faults import Expected
from benchmarks.scenarios.generate import KINDS, Scenario, Spec, generate_scenario, generate_suite, suite_specs

__all__ = ["KINDS", "Expected", "Scenario", "Spec", "generate_scenario", "generate_suite", "suite_specs"]
