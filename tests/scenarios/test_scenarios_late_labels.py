"""Labels withheld after the onset: data faults and bad versions are still localized.

Every scenario kind a label-free diagnosis should localize (data faults, bad versions, the
two confounded cases) from the session's quick suite, with every label at or after the onset
removed after loading (`benchmarks.late_labels.withhold_labels`), diagnosed with the given
and with the detected onset. Figures over a larger suite: docs/diagnostics.md ("Late labels").
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.late_labels import LABEL_FREE_KINDS, run_one, withhold_labels
from benchmarks.scenarios.generate import Scenario
from diagnostics.loader import load_log


@pytest.mark.parametrize("kind", LABEL_FREE_KINDS)
def test_fault_is_localized_without_labels_after_the_onset(kind: str, quick_scenarios: dict[str, Scenario]) -> None:
    scenario = quick_scenarios[kind]
    result = run_one(scenario)
    assert result.localized, f"{scenario.id}: got {result.answer}"
    assert result.localized_detected, f"{scenario.id} (detected onset): got {result.answer}"


def test_withheld_labels_are_really_gone(quick_scenarios: dict[str, Scenario]) -> None:
    scenario = quick_scenarios["feature_drift"]
    onset = scenario.onset.timestamp()
    log = withhold_labels(load_log(scenario.path_log), onset)
    after = log.timestamp >= onset
    label = log.label
    assert label is not None
    known = label.codes >= 0 if hasattr(label, "codes") else np.isfinite(label)
    assert not known[after].any() and known[~after].any()
