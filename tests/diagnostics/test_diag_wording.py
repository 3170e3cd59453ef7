"""Words that never contradict the data: every sentence the diagnosis prints about versions,
change events, inputs and performance is checked against facts read from the log itself."""

from __future__ import annotations

import re

import numpy as np
import pytest

from diagnostics import Diagnosis, diagnose
from diagnostics.log import Categorical
from tests.diagnostics.diag_synth import Case, make_case

FAULTS = (
    "healthy",
    "drift",
    "missing",
    "unseen",
    "bad_version",
    "bad_version_canary",
    "concept",
    "segment",
    "healthy_deploy",
    "confounded_deploy_during_drift",
    "confounded_drift_during_bad_deploy",
    "latency",
)


def _new_versions(case: Case) -> set[str]:
    mv = case.log.model_version
    assert isinstance(mv, Categorical)
    after = case.log.timestamp >= case.onset
    names = mv.categories
    before = {str(names[c]) for c in np.unique(mv.codes[~after]) if c >= 0}
    since = {str(names[c]) for c in np.unique(mv.codes[after]) if c >= 0}
    return since - before | {v for v in since if np.mean(mv.codes[after] == list(names).index(v)) > 0.5} - before


def _contradictions(case: Case, d: Diagnosis) -> list[str]:
    out = []
    new = _new_versions(case)
    announced = {c.to_version for c in case.changes if c.to_version}
    data_score = max((f.score for f in d.findings if f.cause == "data" and f.check != "input_quality"), default=0.0)
    text = " ".join(f.evidence for f in d.findings) + " " + d.summary
    if new and re.search(r"model version (did not change|stayed put)", text):
        out.append(f"denies a version change while {sorted(new)} took traffic")
    if not new and "took traffic since the onset" in text:
        out.append("claims a new version where none took traffic")
    if "Inputs did not drift." in text and data_score >= 0.15:
        out.append(f"says inputs did not drift with a data finding at {data_score:.2f}")
    for f in d.findings:
        if f.check != "version_change":
            continue
        if "no change event recorded" in f.evidence and f.subject in announced:
            out.append(f"says {f.subject} had no change event, but the change log announced it")
        if "deployed per change log" in f.evidence and f.subject not in announced:
            out.append(f"says {f.subject} was deployed per change log, but no event names it")
    for f in d.findings:
        m = re.search(r"accuracy ([0-9.]+) -> accuracy ([0-9.]+)", f.evidence)
        if f.check == "performance" and m and float(m.group(1)) < float(m.group(2)):
            out.append(f"'Performance fell' while accuracy rose: {f.evidence}")
    return out


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("fault", FAULTS)
def test_sentences_agree_with_the_log(fault: str, task: str) -> None:
    case = make_case(fault, n=3000, seed=21, task=task)
    d = diagnose(case.log, onset=case.onset, changes=case.changes)
    assert not _contradictions(case, d), [f.evidence for f in d.findings[:4]]


def test_the_checker_catches_a_contradiction() -> None:
    """The fact checker is not vacuous: a sentence denying a real version change is caught."""
    case = make_case("bad_version", n=3000, seed=21)
    d = diagnose(case.log, onset=case.onset, changes=case.changes)
    d.findings[0].evidence = "Performance dropped everywhere while the inputs and the model version stayed put."
    assert _contradictions(case, d)
