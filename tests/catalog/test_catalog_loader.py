"""The service catalog: schema, series kinds, selectors, secret references, file:line errors, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.catalog import Catalog, CatalogError, SeriesRef, kind_for_key, load_catalog
from bot.cli import main

ENV = {"MLRESPONDER_SECRET_PG": "s3cret-pg-pass", "MLRESPONDER_SECRET_PD_FRAUD": "R0UT1NGKEYfraud0000"}

CATALOG = """\
services:
  - name: fraud-scorer
    owners:
      slack: S0123ABCD
      pagerduty_routing_key: ${MLRESPONDER_SECRET_PD_FRAUD}
    model:
      registry: fraud-model
      serving_alias: champion
      fallback_alias: naive
    prediction_log: "postgresql+psycopg://ml:${MLRESPONDER_SECRET_PG}@db/serving?table=fraud_predictions"
    reference: /data/fraud/training.parquet
    auto_approve: [rollback]
    stakeholders_channel: C0STAKE
    team_cost_center: "42"          # a key of the team's own: kept, never acted on
    metrics:
      latency_p95_ms: histogram_quantile(0.95, sum by (le) (rate(h_bucket{job="fraud"}[1m]))) * 1000
      error_rate: sum(rate(http_requests_total{job="fraud",code=~"5.."}[1m]))
      requests_per_s: sum(rate(http_requests_total{job="fraud"}[1m]))
      cpu_utilization: avg(rate(process_cpu_seconds_total{job="fraud"}[1m]))
      gc_pause: {query: 'max(gc_pause_seconds{job="fraud"})', kind: latency}
    dependencies:
      - name: feature-store
        metrics:
          latency_p95_ms: max(fs_latency_ms)
          errors_total: sum(rate(fs_errors_total[1m]))
  - name: tumor-classifier
    match: {app: {regex: "tumou?r-.*"}, env: prod}
    owners: {slack: U0456EFGH}
    model: {registry: tumor-model}
"""


def _write(tmp_path: Path, text: str, name: str = "catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_catalog(_write(tmp_path, text), environ=ENV, known_actions=["rollback", "naive_model", "http"])
    return [str(p) for p in info.value.problems]


def test_the_contract_example_loads_with_kinds_from_keys(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path, CATALOG), environ=ENV)
    assert catalog.names() == ["fraud-scorer", "tumor-classifier"]
    fraud = catalog.get("fraud-scorer")
    assert fraud is not None and fraud.model is not None
    assert (fraud.model.registry, fraud.model.serving_alias, fraud.model.fallback_alias) == \
        ("fraud-model", "champion", "naive")
    assert fraud.series() == [
        SeriesRef("latency_p95_ms", 'histogram_quantile(0.95, sum by (le) (rate(h_bucket{job="fraud"}[1m]))) * 1000',
                  "latency"),
        SeriesRef("error_rate", 'sum(rate(http_requests_total{job="fraud",code=~"5.."}[1m]))', "errors"),
        SeriesRef("requests_per_s", 'sum(rate(http_requests_total{job="fraud"}[1m]))', "traffic"),
        SeriesRef("cpu_utilization", 'avg(rate(process_cpu_seconds_total{job="fraud"}[1m]))', "resource"),
        SeriesRef("gc_pause", 'max(gc_pause_seconds{job="fraud"})', "latency"),
        SeriesRef("latency_p95_ms", "max(fs_latency_ms)", "latency", "feature-store"),
        SeriesRef("errors_total", "sum(rate(fs_errors_total[1m]))", "errors", "feature-store"),
    ]
    assert fraud.auto_approves("rollback") and not fraud.auto_approves("naive_model")
    assert fraud.stakeholders_channel == "C0STAKE"
    assert fraud.model_extra == {"team_cost_center": "42"}
    # Secrets: the catalog holds references; they are filled in only when used.
    assert fraud.prediction_log == \
        "postgresql+psycopg://ml:${MLRESPONDER_SECRET_PG}@db/serving?table=fraud_predictions"
    assert fraud.prediction_log_source(ENV) == \
        "postgresql+psycopg://ml:s3cret-pg-pass@db/serving?table=fraud_predictions"
    assert fraud.owners.routing_key(ENV) == "R0UT1NGKEYfraud0000"
    assert catalog.secret_values(ENV) == ["R0UT1NGKEYfraud0000", "s3cret-pg-pass"]


@pytest.mark.parametrize(("key", "kind"), [
    ("latency_p95_ms", "latency"), ("latency", "latency"), ("error_rate", "errors"), ("errors_5xx", "errors"),
    ("requests_per_s", "traffic"), ("traffic_in", "traffic"), ("cpu_utilization", "resource"),
    ("memory_bytes", "resource"), ("gpu_utilization", "resource"), ("queue_depth", "resource"),
    ("error_budget", "resource"),
])
def test_series_kind_follows_the_key(key: str, kind: str) -> None:
    assert kind_for_key(key) == kind


def test_alert_labels_select_the_service(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path, CATALOG), environ=ENV)
    assert catalog.match({"service": "fraud-scorer", "alertname": "X"}) is catalog.get("fraud-scorer")
    assert catalog.match({"service": "fraud-scorer-2"}) is None
    assert catalog.match({"app": "tumour-v2", "env": "prod"}) is catalog.get("tumor-classifier")
    assert catalog.match({"app": "tumour-v2", "env": "staging"}) is None
    assert catalog.match({"app": "xtumor-v2", "env": "prod"}) is None  # a regex matches the whole value
    assert catalog.match({}) is None
    assert Catalog().match({"service": "fraud-scorer"}) is None


def test_a_folder_of_files_is_one_catalog_and_names_are_unique(tmp_path: Path) -> None:
    folder = tmp_path / "cat"
    folder.mkdir()
    _write(folder, "services:\n  - name: a\n", "1.yaml")
    _write(folder, "services:\n  - name: b\n  - name: a\n", "2.yml")
    with pytest.raises(CatalogError) as info:
        load_catalog(folder, environ=ENV)
    assert [str(p) for p in info.value.problems] == \
        [f"{folder}/2.yml:3: services[1].name: service 'a' is already defined at {folder}/1.yaml:2"]
    _write(folder, "services:\n  - name: b\n", "2.yml")
    assert load_catalog(str(folder), environ=ENV).names() == ["a", "b"]


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "catalog.yaml"
    assert _errors(tmp_path, """\
        services:
          - name: fraud-scorer
            owners:
              slack: ml-oncall
            model:
              serving_alias: champion
            predicton_log: /tmp/x.csv
            auto_approve: [rollback, rolback]
            metrics:
              latency_p95_ms: {query: "q", kind: slow}
        """) == [
        f"{f}:4: services[0].owners.slack: string should match pattern '^[SUW][A-Z0-9]{{2,}}$', got 'ml-oncall'",
        f"{f}:5: services[0].model.registry: required field is missing",
        f"{f}:10: services[0].metrics.latency_p95_ms.kind: input should be 'latency', 'errors', 'traffic' "
        "or 'resource', got 'slow'",
    ]
    assert _errors(tmp_path, "services:\n  - name: a\n    dependencies:\n      - name: fs\n      - name: fs\n") == \
        [f"{f}:5: services[0].dependencies[1].name: dependency 'fs' is listed twice"]
    assert _errors(tmp_path, """\
        services:
          - name: fraud-scorer
            predicton_log: /tmp/x.csv
            auto_approve: [rollback]
        """) == [
        f"{f}:3: services[0].predicton_log: unknown field 'predicton_log' (did you mean 'prediction_log'?)",
        f"{f}:4: services[0].auto_approve: auto-approving rollback needs 'model' (the registered model to roll back)",
    ]
    assert _errors(tmp_path, "services:\n  - name: a\n    name: b\n") == \
        [f"{f}:3: services[0].name: duplicate key 'name'"]
    assert _errors(tmp_path, "servics: []\n") == [f"{f}:1: servics: unknown field 'servics' (did you mean 'services'?)"]
    assert _errors(tmp_path, "services: [\n") == \
        [f"{f}:2: invalid YAML: expected the node content, but found '<stream end>'"]
    assert _errors(tmp_path, "") == [f"{f}:1: empty file (expected a mapping with 'services:')"]
    assert _errors(tmp_path, "- a\n") == [f"{f}:1: expected a mapping with 'services:', got list"]


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    problems = _errors(tmp_path, "services: !!python/object/apply:os.system ['touch pwned']\n")
    assert len(problems) == 1 and "invalid YAML" in problems[0] and "python/object/apply" in problems[0]
    assert not (Path.cwd() / "pwned").exists()


def test_secrets_only_as_environment_references(tmp_path: Path) -> None:
    f = tmp_path / "catalog.yaml"
    assert _errors(tmp_path, """\
        services:
          - name: a
            prediction_log: "postgresql://ml:hunter2@db/serving?table=t"
            reference: "postgresql://ml:${MLRESPONDER_SECRET_UNSET}@db/serving?table=t"
            owners:
              pagerduty_routing_key: 0123456789abcdef0123456789abcdef
          - name: b
            prediction_log: "postgresql://ml:${HOME}@db/serving?table=t"
            model: {registry: "${MLRESPONDER_SECRET_PG}"}
            notes: "xoxb-1234567890-abcdefgh"
        """) == [
        f"{f}:3: services[0].prediction_log: a password inside a URL must be a ${{MLRESPONDER_SECRET_…}} "
        "reference, not written literally",
        f"{f}:4: services[0].reference: ${{MLRESPONDER_SECRET_UNSET}}: environment variable "
        "MLRESPONDER_SECRET_UNSET is not set",
        f"{f}:6: services[0].owners.pagerduty_routing_key: write the routing key as a "
        "${MLRESPONDER_SECRET_…} reference, not literally",
        f"{f}:8: services[1].prediction_log: ${{HOME}}: only ${{MLRESPONDER_SECRET_…}} references are read "
        "from the environment",
        f"{f}:9: services[1].model.registry: ${{MLRESPONDER_SECRET_PG}}: secret references are read only in "
        "prediction_log, reference, owners.pagerduty_routing_key",
        f"{f}:10: services[1].notes: looks like a Slack token written literally; use a "
        "${MLRESPONDER_SECRET_…} reference",
    ]
    # No secret value appears in any message.
    assert not any("hunter2" in p or "0123456789abcdef" in p for p in _errors(tmp_path, """\
        services:
          - name: a
            prediction_log: "postgresql://ml:hunter2@db/serving?table=t"
            owners: {pagerduty_routing_key: 0123456789abcdef0123456789abcdef}
        """))


def test_no_catalog_is_the_empty_catalog() -> None:
    assert len(load_catalog(None)) == 0 and len(load_catalog("")) == 0


def test_cli_validate_list_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, CATALOG)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MLRESPONDER_CATALOG", str(path))
    assert main(["catalog", "validate"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"ok {path}:2: fraud-scorer (match service='fraud-scorer'; 7 series, 1 dependencies)",
                   f"ok {path}:26: tumor-classifier (match app=~/tumou?r-.*/, env='prod'; 0 series, 0 dependencies)"]
    assert main(["catalog", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["model"], r["owners"], r["auto_approve"], r["dependencies"]) for r in rows] == [
        ("fraud-scorer", "fraud-model", "S0123ABCD", ["rollback"], ["feature-store"]),
        ("tumor-classifier", "tumor-model", "U0456EFGH", [], []),
    ]
    assert main(["catalog", "show", "fraud-scorer", "--json"]) == 0
    text = capsys.readouterr().out
    shown = json.loads(text)
    assert shown["owners"] == {"slack": "S0123ABCD", "pagerduty_routing_key": "${MLRESPONDER_SECRET_PD_FRAUD}"}
    assert shown["prediction_log"].startswith("postgresql+psycopg://ml:${MLRESPONDER_SECRET_PG}@db/")
    assert shown["series"][5] == {"key": "latency_p95_ms", "kind": "latency", "dependency": "feature-store",
                                  "query": "max(fs_latency_ms)"}
    assert "s3cret-pg-pass" not in text and "R0UT1NGKEYfraud0000" not in text
    assert main(["catalog", "show", "fraud-scorer"]) == 0
    text = capsys.readouterr().out
    assert "  feature-store.errors_total [errors]: sum(rate(fs_errors_total[1m]))" in text
    assert "s3cret-pg-pass" not in text
    assert main(["catalog", "show", "nope"]) == 2
    assert "no service 'nope' in the catalog (services: fraud-scorer, tumor-classifier)" in capsys.readouterr().err
    bad = _write(tmp_path, "services:\n  - name: a\n    auto_approve: [rolback]\n", "bad.yaml")
    assert main(["catalog", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: services[0].auto_approve[0]: unknown action 'rolback'" in err and "1 problem(s) found" in err


def test_serve_refuses_an_invalid_catalog_with_one_line(tmp_path: Path) -> None:
    bad = _write(tmp_path, "services:\n  - name: a\n    prediction_log: postgresql://u:pw1234@h/db\n")
    env = {**os.environ, "MLRESPONDER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "MLRESPONDER_CATALOG": str(bad)}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "1"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"mlresponder serve: refusing to start: {bad}:3: services[0].prediction_log: a password inside a URL "
        "must be a ${MLRESPONDER_SECRET_…} reference, not written literally"]
    assert "pw1234" not in proc.stderr
    assert not (tmp_path / "x.db").exists()  # refused before the store is touched
