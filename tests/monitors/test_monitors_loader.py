"""Monitor YAML: valid files load; every mistake names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.monitors.loader import MonitorConfigError, load_config, parse_text

GOOD = """\
monitors:
  - name: fraud-scorer-inputs
    service: fraud-scorer
    severity: sev2
    schedule: {every: 5m}
    source:
      url: sqlite:///preds.db
      table: predictions
    window: 1h
    reference: {trailing: 24h}
    checks:
      drift: {features: [amount, age], ignore: [session_id]}
      missing:
      quality: {metric: accuracy}
  - name: fraud-scorer-serving
    service: fraud-scorer
    schedule: {cron: "*/10 * * * *"}
    source: {path: /data/preds/*.parquet}
    window: 30m
    reference: {source: {path: /data/train.parquet}}
    checks: {latency: {quantile: 0.99}, errors: {}}
escalation:
  severities:
    sev1:
      tiers:
        - {after: 5m, notify: [U01PRIMARY]}
        - {after: 15m, notify: [S02SECONDARY], webhook: true}
      reminder_every: 30m
  postmortem_review_after: 3d
  webhook: {kind: pagerduty, routing_key_env: PD_ROUTING_KEY}
"""


def test_valid_file_loads_with_defaults_and_durations() -> None:
    cfg = parse_text(GOOD, "good.yaml")
    first, second = cfg.monitors
    assert first.schedule.every == 300 and first.window == 3600 and first.reference.trailing == 86400
    assert first.checks.missing is not None  # empty = enabled
    assert first.checks.drift is not None and first.checks.drift.features == ["amount", "age"]
    assert first.checks.latency is None  # omitted = not run
    assert second.schedule.cron == "*/10 * * * *" and second.source.path == "/data/preds/*.parquet"
    assert cfg.escalation is not None and cfg.escalation.severities["sev1"].tiers[1].after == 900
    assert cfg.escalation.postmortem_review_after == 3 * 86400


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("drift: {features: [amount, age], ignore: [session_id]}", "drift: {psi: 0.2}",
         "bad.yaml:12: monitors[0].checks.drift.psi: Extra inputs are not permitted"),
        ("      table: predictions\n", "      table: predictions\n      tabel: x\n",
         "bad.yaml:9: monitors[0].source.tabel: Extra inputs are not permitted"),
        ("schedule: {every: 5m}", "schedule: {every: 5 minutes}",
         "bad.yaml:5: monitors[0].schedule.every: expected a duration"),
        ('schedule: {cron: "*/10 * * * *"}', 'schedule: {cron: "*/10 * * *"}',
         "bad.yaml:17: monitors[1].schedule: cron '*/10 * * *'"),
        ("severity: sev2", "severity: urgent", "bad.yaml:4: monitors[0].severity:"),
        ("    source: {path: /data/preds/*.parquet}", "    source: {path: /x.parquet, url: 'sqlite://'}",
         "bad.yaml:18: monitors[1].source: give either 'url'"),
        ("        - {after: 15m, notify: [S02SECONDARY], webhook: true}", "        - {after: 1m, notify: [S02]}",
         "bad.yaml:24: escalation.severities.sev1: tiers: list them in the order"),
        ("  - name: fraud-scorer-inputs", "  - name: 'fraud scorer'", "bad.yaml:2: monitors[0].name:"),
    ],
)
def test_errors_name_file_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    with pytest.raises(MonitorConfigError) as info:
        parse_text(GOOD.replace(old, new), "bad.yaml")
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_checks_must_not_be_empty_and_yaml_errors_have_lines() -> None:
    text = GOOD.replace("    checks: {latency: {quantile: 0.99}, errors: {}}", "    checks: {}")
    with pytest.raises(MonitorConfigError, match=r"bad.yaml:15: monitors\[1\]: checks: enable at least one"):
        parse_text(text, "bad.yaml")
    with pytest.raises(MonitorConfigError, match=r"bad.yaml:3: not valid YAML"):
        parse_text("monitors:\n  - name: x\n   bad: [", "bad.yaml")


def test_folder_merge_rejects_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(GOOD.split("escalation:")[0])
    with pytest.raises(MonitorConfigError) as info:
        load_config(str(tmp_path))
    assert any("name 'fraud-scorer-inputs' is already used in" in p for p in info.value.problems)
    with pytest.raises(MonitorConfigError, match="no such monitor file"):
        load_config(str(tmp_path / "missing.yaml"))
    only = load_config(str(tmp_path / "a.yaml"))
    assert set(only.monitors) == {"fraud-scorer-inputs", "fraud-scorer-serving"}


def test_docs_example_is_valid() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "monitors.md"
    text = docs.read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    cfg = parse_text(example, "docs/monitors.md")
    assert [m.name for m in cfg.monitors] == ["fraud-scorer-health"]
    assert cfg.escalation is not None and len(cfg.escalation.severities["sev1"].tiers) == 3
