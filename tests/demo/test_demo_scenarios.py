"""Each demo scenario end to end: real sklearn models in a real MLflow registry, the real HTTP
intake on uvicorn, the runbook engine, and the postmortem. One registry serves all scenarios
(creating an MLflow SQLite store is the slow part), reset to the champion before each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

from bot.cli import main  # noqa: E402
from bot.demo.flow import DemoOutcome, Stage, build_stage, run_demo  # noqa: E402
from bot.demo.scenarios import SCENARIOS  # noqa: E402

POSTMORTEM_SECTIONS = (
    "## Summary", "## Impact", "## Detection, response and recovery", "## Root cause and trigger",
    "### Evidence", "### Contributing factors", "## Mitigations", "## Timeline (UTC)", "## Figures",
    "### What went well", "### What went wrong", "### Where we got lucky", "## Action items",
)


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    yield build_stage(tmp_path_factory.mktemp("demo-stage"))


@pytest.fixture(scope="module")
def outcomes(stage: Stage, tmp_path_factory: pytest.TempPathFactory) -> dict[str, DemoOutcome]:
    """Every scenario once, in a row on the shared registry (each test then asserts on its own)."""
    results: dict[str, DemoOutcome] = {}
    for name in SCENARIOS:
        results[name] = run_demo(name, tmp_path_factory.mktemp(f"demo-{name}"), stage=stage, echo=lambda _: None)
        # the registry state right after the scenario, before the next one resets it
        results[name].marks["_serving_after"] = float(stage.registry.alias_version())
    return results


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_is_diagnosed_and_mitigated(name: str, outcomes: dict[str, DemoOutcome], stage: Stage) -> None:
    scenario, outcome = SCENARIOS[name], outcomes[name]
    diagnosis = outcome.diagnosis
    assert diagnosis["cause"] == scenario.expected_cause
    assert diagnosis["culprit"]["kind"] == scenario.expected_culprit_kind
    assert diagnosis["culprit"]["name"] == scenario.expected_culprit_name(stage.registry)
    assert diagnosis["recommended_mitigation"] == scenario.expected_mitigation

    expected_version = stage.registry.versions[scenario.expected_serving_role]
    assert outcome.serving_version == expected_version
    assert int(outcome.marks["_serving_after"]) == int(expected_version)
    kinds = [e["kind"] for e in outcome.incident["timeline"]]
    assert "incident_opened" in kinds and "diagnosis" in kinds
    assert outcome.incident["status"] == "resolved"
    assert outcome.incident["alerts"][0]["labels"]["alertname"] == scenario.alertname

    mitigations = outcome.incident["mitigations"]
    if scenario.expected_mitigation == "escalate_service":
        assert mitigations == []
        escalations = [e for e in outcome.incident["timeline"] if e["kind"] == "escalation"]
        assert escalations and "tumor-classifier-owner" in escalations[0]["message"]
    else:
        (m,) = mitigations
        assert m["action"] == scenario.expected_mitigation
        assert m["approved_by"] == "demo-oncall"
        assert m["before"]["version"] == stage.registry.versions[scenario.deploy_role or "champion"]
        assert m["after"]["version"] == expected_version
        assert m["status"] == "verified", m["verification"]
        # the mitigation is a change event too, so it can be undone
        changes = [e for e in outcome.incident["timeline"] if e["kind"] == "change"]
        assert any(c["data"]["origin"] == "mitigation" for c in changes)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_postmortem_has_every_section(name: str, outcomes: dict[str, DemoOutcome]) -> None:
    scenario, outcome = SCENARIOS[name], outcomes[name]
    md = outcome.postmortem_path.read_text()
    for section in POSTMORTEM_SECTIONS:
        assert section in md, section
    ref = outcome.incident["id"]
    assert (outcome.postmortem_path.parent / f"{ref}-metric.png").exists()
    assert ("## Mitigations" in md) and (scenario.expected_mitigation in md or scenario.metric == "latency")
    assert f"Cause: **{scenario.expected_cause}**" in md
    assert "Predictions served during the impact:" in md  # the log was found from the alert
    feature_png = outcome.postmortem_path.parent / f"{ref}-feature.png"
    assert feature_png.exists() == (scenario.expected_culprit_kind == "feature")
    assert "demo-oncall" not in md  # people by role


def test_narrative_tells_the_story_with_timings(outcomes: dict[str, DemoOutcome]) -> None:
    outcome = outcomes["bad-deploy"]
    text = "\n".join(outcome.narrative)
    for fragment in ("change: model_deploy", "POST /alerts/alertmanager: 201", "diagnosis: cause model",
                     "executed rollback", "verification: verified", "postmortem drafted"):
        assert fragment in text, fragment
    assert outcome.marks["alert"] < outcome.marks["diagnosis"] < outcome.marks["mitigation"]
    assert outcome.marks["mitigation"] < outcome.marks["resolved"] <= outcome.marks["postmortem"]


def test_unknown_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--scenario", "meteor"])
    assert exc.value.code == 2
    assert "invalid choice: 'meteor'" in capsys.readouterr().err


def test_demo_command_runs_the_default_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What `make demo` runs, through the CLI, with its own fresh MLflow registry."""
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "scenario bad-deploy" in out and "Postmortem: " in out
    postmortem = Path(out.rsplit("Postmortem: ", 1)[1].strip().splitlines()[0])
    assert postmortem.exists() and postmortem.is_relative_to(tmp_path)
