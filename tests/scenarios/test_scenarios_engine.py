"""The diagnostics engine on one small scenario of each kind: the right cause and culprit, through
the Python API, and the real CLI agreeing with it on one case."""

from __future__ import annotations

import pytest

from benchmarks.scenarios.engine import diagnose_api, diagnose_cli
from benchmarks.scenarios.generate import KINDS, Scenario
from benchmarks.scenarios.judge import judge

diagnostics = pytest.importorskip("diagnostics")
if not hasattr(diagnostics, "diagnose"):  # pragma: no cover - only while the engine is being written
    pytest.skip("the diagnostics engine is not there yet", allow_module_level=True)


@pytest.mark.parametrize("kind", KINDS)
def test_engine_localizes_each_kind(quick_scenarios: dict[str, Scenario], kind: str) -> None:
    sc = quick_scenarios[kind]
    run = diagnose_api(sc)
    verdict = judge(sc.expected, run.diagnosis)
    culprit = run.diagnosis.get("culprit")
    answer = f"{run.diagnosis.get('cause')} / {culprit} / {run.diagnosis.get('recommended_mitigation')}"
    assert verdict.cause, f"{sc.id}: expected {sc.expected}, got {answer}"
    assert verdict.culprit, f"{sc.id}: expected {sc.expected}, got {answer}"
    assert verdict.mitigation, f"{sc.id}: expected {sc.expected}, got {answer}"


def test_cli_json_matches_the_api(quick_scenarios: dict[str, Scenario]) -> None:
    sc = quick_scenarios["bad_version_event"]
    api, cli = diagnose_api(sc), diagnose_cli(sc)
    for key in ("cause", "culprit", "recommended_mitigation"):
        assert cli.diagnosis[key] == api.diagnosis[key]
    assert set(cli.diagnosis) >= {
        "cause",
        "culprit",
        "confidence",
        "onset",
        "recommended_mitigation",
        "findings",
        "runtime_ms",
    }
