"""A traffic drop a day before a harmless redeploy: the version's share dated the log, the drop was lost.

A new version's share steps from exactly nothing (z 150-400 over days of rows), so no other step
of the onset scan is 'clearly strong' beside it (half the strongest): with labels withheld and a
harmless redeploy a day after the drop, the window began at the redeploy, where the rate no longer
moved, and the verdict was "none" with the version as the top finding (the cycles checker's 5- and
10-day drops). The rate's own step is now diagnosed when the verdict at the redeploy is "none", and
kept when the diagnosis there is the traffic's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.outside.cycles.gen import Built, build, make_spec
from diagnostics import diagnose
from diagnostics.loader import load_log
from diagnostics.onset import traffic_beside_version


def _five_days(fault: str) -> Built:
    """Tuning seed 204 (120 hours, labels withheld after the alert, a redeploy a day after it)."""
    spec = make_spec(204)
    spec.fault, spec.fault_size = fault, 0.3 if fault else 0.0
    return build(spec, Path(tempfile.mkdtemp(prefix="cyc-redeploy-")))


def test_a_drop_a_day_before_a_harmless_redeploy_is_found() -> None:
    # main (74a1c9b): onset at the redeploy (2026-07-11T14:19), "none", the top finding "Version v8
    # ...: no labels; its predictions depart from the baseline's by 0% of their variance"
    built = _five_days("traffic_drop")
    d = diagnose(load_log(built.log), changes=built.changes)
    assert (d.cause, d.culprit_kind) == ("service", "traffic"), [f.evidence[:100] for f in d.findings[:2]]
    assert d.onset_detected and abs(d.onset - built.onset) < 3600.0


def test_the_same_log_without_a_drop_stays_quiet() -> None:
    # guard: the harmless redeploy alone still dates the log and the verdict stays "none"
    built = _five_days("")
    d = diagnose(load_log(built.log), changes=built.changes)
    assert d.cause == "none", [f.evidence[:100] for f in d.findings[:2]]


def test_the_rate_step_is_offered_only_beside_a_version() -> None:
    strong = [(227.0, 300, "version=v8"), (145.0, 300, "version=v7"), (24.0, 100, "traffic")]
    assert traffic_beside_version("version=v8", strong, 300, 0.0, 60.0) == 6000.0
    assert traffic_beside_version("traffic", strong, 100, 0.0, 60.0) is None  # the rate dated the log itself
    assert traffic_beside_version("version=v8", strong[:2], 300, 0.0, 60.0) is None  # no strong rate step
    at_the_deploy = [*strong[:2], (24.0, 299, "traffic")]  # the rate steps with the version: nothing else to try
    assert traffic_beside_version("version=v8", at_the_deploy, 300, 0.0, 60.0) is None
