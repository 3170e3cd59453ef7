"""Invalid runbooks: every case names file, line and field with the exact message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.cli import main
from runbooks.loader import BUILTIN_DIR, RunbookError, load_runbooks

VALID = """\
# a runbook used by the tests
name: x
description: demo
match:
  alertname: ModelAccuracyDrop
  labels:
    team: ml
steps:
  - diagnose:
      log: /tmp/log.csv
  - notify:
      message: "cause {{ diagnosis.cause }}"
  - mitigate:
      action: rollback
      target: "{{ service.model.registry }}"
  - verify:
      log: /tmp/log.csv
      metric: accuracy
      expect: {better: higher}
"""


def _errors(tmp_path: Path, text: str, name: str = "x.yaml") -> list[str]:
    folder = tmp_path / "runbooks"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    with pytest.raises(RunbookError) as info:
        load_runbooks([path])
    return [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems]


def test_the_valid_example_and_the_builtins_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(VALID)
    [loaded] = load_runbooks([path])
    assert loaded.name == "x" and [s.kind for s in loaded.runbook.steps] == ["diagnose", "notify", "mitigate",
                                                                            "verify"]
    names = {r.name for r in load_runbooks([BUILTIN_DIR])}
    assert names == {"model-quality-drop", "data-drift", "latency-regression", "error-spike", "bad-deploy"}


def test_misspelt_action_names_line_and_field_and_suggests(tmp_path: Path) -> None:
    text = VALID.replace("action: rollback", "action: rolback")
    assert _errors(tmp_path, text) == [
        "runbooks/x.yaml:14: steps[2].mitigate.action: unknown action 'rolback' (did you mean 'rollback'?)"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("      message: \"cause {{ diagnosis.cause }}\"", "      mesage: hi",
         ["runbooks/x.yaml:11: steps[1].notify.message: required field is missing",
          "runbooks/x.yaml:12: steps[1].notify.mesage: unknown field 'mesage' (did you mean 'message'?)"]),
        ("  - notify:", "  - notfy:",
         ["runbooks/x.yaml:11: steps[1].notfy: unknown field 'notfy' (did you mean 'notify'?)"]),
        ("      target: \"{{ service.model.registry }}\"", "      target: x\n      approval: maybe",
         ["runbooks/x.yaml:16: steps[2].mitigate.approval: input should be 'required' or 'auto', got 'maybe'"]),
        ("      expect: {better: higher}", "      expect: {better: upward}",
         ["runbooks/x.yaml:19: steps[3].verify.expect.better: input should be 'higher' or 'lower', got 'upward'"]),
        ("      metric: accuracy\n", "      metric: accuracy\n      prometheus: up\n",
         ["runbooks/x.yaml:16: steps[3].verify: give exactly one of 'prometheus' or 'log'"]),
        ("      metric: accuracy\n", "      metric: accuracy\n      after: soon\n",
         ["runbooks/x.yaml:19: steps[3].verify.after: expected a duration like 30s, 5m, 2h, got 'soon'"]),
        ("    team: ml", "    team: {regex: '('}",
         ["runbooks/x.yaml:7: match.labels.team: invalid regular expression '(': missing ), unterminated "
          "subpattern at position 0"]),
        ("name: x", "name: Not A Slug",
         ["runbooks/x.yaml:2: name: string should match pattern '^[a-z0-9][a-z0-9_.-]{0,79}$', got 'Not A Slug'"]),
        ("description: demo", "description: demo\nseverity: urgent",
         ["runbooks/x.yaml:4: severity: unknown severity 'urgent' (expected one of sev1, sev2, sev3, sev4, or "
          "critical/high/warning/info)"]),
        ("      message: \"cause {{ diagnosis.cause }}\"", "      message: \"{{ ''.__class__.__mro__ }}\"",
         ["runbooks/x.yaml:12: steps[1].notify.message: template refused: access to '__class__', '__mro__' is "
          "not allowed in the sandbox"]),
        ("      message: \"cause {{ diagnosis.cause }}\"", "      message: \"{{ diagnosis.cause \"",
         ["runbooks/x.yaml:12: steps[1].notify.message: template syntax error: unexpected end of template, "
          "expected 'end of print statement'."]),
        ("  - mitigate:", "  - when: \"labels|attr('__dict__')\"\n    mitigate:",
         ["runbooks/x.yaml:13: steps[2].when: template refused: access to '__dict__' is not allowed in the "
          "sandbox"]),
        ("      target: \"{{ service.model.registry }}\"", "      target: x\n      params: {to_verison: '3'}",
         ["runbooks/x.yaml:16: steps[2].mitigate.params.to_verison: unknown field 'to_verison' "
          "(did you mean 'to_version'?)"]),
        ("      action: rollback\n      target: \"{{ service.model.registry }}\"",
         "      action: http\n      target: kserve\n      params: {url: 'ftp://x', timeout: 3}",
         ["runbooks/x.yaml:16: steps[2].mitigate.params.url: expected an http:// or https:// URL, got 'ftp://x'"]),
        ("  - verify:", "  - {}\n  - verify:",
         ["runbooks/x.yaml:16: steps[3]: a step needs exactly one of diagnose, notify, mitigate, verify, "
          "escalate, wait, got none"]),
        ("  - notify:\n      message: \"cause {{ diagnosis.cause }}\"",
         "  - notify: {message: a}\n    escalate: {who: [x], message: b}",
         ["runbooks/x.yaml:11: steps[1]: a step needs exactly one of diagnose, notify, mitigate, verify, "
          "escalate, wait, got notify, escalate"]),
        ("description: demo", "description: demo\ndescription: again",
         ["runbooks/x.yaml:4: description: duplicate key 'description'"]),
    ],
)
def test_each_invalid_case_has_its_exact_message(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    assert old in VALID
    text = VALID.replace(old, new)
    assert _errors(tmp_path, text) == expected


def test_yaml_syntax_errors_and_empty_files(tmp_path: Path) -> None:
    assert _errors(tmp_path, "name: x\nsteps: [\n  - notify\n") == [
        "runbooks/x.yaml:3: invalid YAML: expected the node content, but found '-'"
    ]
    assert _errors(tmp_path, "", name="empty.yaml") == [
        "runbooks/empty.yaml:1: empty file (expected a runbook mapping)"
    ]


def test_duplicate_runbook_names_across_files(tmp_path: Path) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "a.yaml").write_text(VALID)
    (folder / "b.yaml").write_text(VALID)
    with pytest.raises(RunbookError) as info:
        load_runbooks([folder])
    assert str(info.value) == f"{folder}/b.yaml:1: name: runbook name 'x' is already used by {folder}/a.yaml"


def test_cli_validate_prints_every_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(VALID)
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("action: rollback", "action: rolback").replace("name: x", "name: y"))
    assert main(["runbook", "validate", str(good)]) == 0
    assert f"ok {good}: x (4 steps)" in capsys.readouterr().out
    assert main(["runbook", "validate", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:14: steps[2].mitigate.action: unknown action 'rolback' (did you mean 'rollback'?)" in err
    assert "1 problem(s) found" in err
    assert main(["runbook", "validate", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml:0: no such file or directory" in capsys.readouterr().err


def test_cli_list_shows_the_builtins(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLRESPONDER_RUNBOOKS", raising=False)
    assert main(["runbook", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("model-quality-drop", "data-drift", "latency-regression", "error-spike", "bad-deploy"):
        assert name in out
    assert "rollback:mitigate" in out


def test_the_service_refuses_to_start_with_an_invalid_runbook(tmp_path: Path) -> None:
    from bot.config import Settings
    from bot.wiring import create_runtime

    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "x.yaml").write_text(VALID.replace("action: rollback", "action: rolback"))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", runbooks=str(folder),
                        scheduler_enabled=False)
    with pytest.raises(RunbookError, match=r"x.yaml:14: steps\[2\].mitigate.action: unknown action 'rolback'"):
        create_runtime(settings)


def test_the_documented_example_is_a_valid_runbook(tmp_path: Path) -> None:
    import re

    doc = (Path(__file__).parents[2] / "docs" / "runbooks.md").read_text()
    match = re.search(r"## Example\n\n```yaml\n(.*?)```", doc, re.S)
    assert match is not None
    (tmp_path / "example.yaml").write_text(match.group(1))
    [loaded] = load_runbooks([tmp_path / "example.yaml"])
    assert loaded.name == "fraud-quality-drop"


def test_a_runbook_may_not_take_a_source_url_or_target_from_the_alert(tmp_path: Path) -> None:
    hint = "; what mlresponder reads, calls or changes comes from the catalog (e.g. "
    assert _errors(tmp_path, """\
        name: steered
        match: {alertname: X}
        steps:
          - diagnose:
              log: "{{ annotations.prediction_log }}"
              reference: "{{ alert.annotations['ref'] | default('') }}"
          - mitigate:
              action: rollback
              target: "{{ labels.model | default(incident.service) }}"
              params: {to_version: "{{ labels.version }}"}
          - mitigate:
              action: http
              target: "{{ service.model.registry }}"
              params:
                url: "https://platform.internal/{{ incident.labels.model }}"
                json: {note: "{{ annotations.summary }}"}
          - verify:
              prometheus: "{{ annotations.latency_query }}"
              expect: {better: lower}
          - notify: {message: "{{ annotations.summary }} on {{ labels.model }}"}
        """) == [
        f"runbooks/x.yaml:5: steps[0].diagnose.log: may not come from the alert or other outside text "
        f"(annotations.prediction_log){hint}service.prediction_log)",
        f"runbooks/x.yaml:6: steps[0].diagnose.reference: may not come from the alert or other outside text "
        f"(alert.annotations.ref){hint}service.reference)",
        f"runbooks/x.yaml:9: steps[1].mitigate.target: may not come from the alert or other outside text "
        f"(labels.model, incident.service){hint}service.model.registry)",
        f"runbooks/x.yaml:10: steps[1].mitigate.params.to_version: may not come from the alert or other outside "
        f"text (labels.version){hint}service.…)",
        f"runbooks/x.yaml:15: steps[2].mitigate.params.url: may not come from the alert or other outside text "
        f"(incident.labels.model){hint}service.…)",
        f"runbooks/x.yaml:18: steps[3].verify.prometheus: may not come from the alert or other outside text "
        f"(annotations.latency_query){hint}service.metrics.<key>)",
    ]
