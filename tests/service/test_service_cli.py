"""`mlresponder diagnose --service` end to end: a catalog file, a real Prometheus, a change log and
(optionally) a prediction log; the JSON contract, the sources judged together, and bad input."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from svc_support import History

from benchmarks.service_scenarios import generate as g
from bot.cli import main
from tests.support.contract import DIAGNOSIS_KEYS


def _files(tmp_path: Path, sc: g.ServiceScenario, **service_extra: Any) -> tuple[Path, Path]:
    entry = {**g.catalog_entry(sc), **service_extra}
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"services": [entry]}, sort_keys=False), encoding="utf-8")
    changes = tmp_path / "changes.jsonl"
    changes.write_text("".join(json.dumps(c) + "\n" for c in sc.changes), encoding="utf-8")
    return catalog, changes


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any] | None, str]:
    code = main(["diagnose", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and out.strip().startswith("{") else None), err


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _prediction_log(path: Path, sc: g.ServiceScenario, *, slower_after_onset: float) -> Path:
    """A prediction log of the service: v4 before the onset, v5 after, latency that follows the series."""
    rng = np.random.default_rng(3)
    ts = np.arange(sc.times[0], sc.times[-1], 2.0)
    after = ts >= sc.onset
    latency = rng.lognormal(np.log(60.0), 0.3, ts.size) * np.where(after, slower_after_onset, 1.0)
    x = rng.normal(0, 1, ts.size)
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(ts, unit="s", utc=True),
            "model_version": np.where(after, "5", "4"),
            "prediction": 1 / (1 + np.exp(-x)),
            "latency_ms": latency,
            "x": x,
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_dependency_fault_through_the_cli(
    prometheus_history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc = prometheus_history.scenarios["two_dependencies"]
    catalog, changes = _files(tmp_path, sc)
    code, out, err = _run(
        capsys,
        "--service",
        g.SERVICE,
        "--catalog",
        str(catalog),
        "--prometheus",
        prometheus_history.url,
        "--changes",
        str(changes),
        "--format",
        "json",
    )
    assert code == 0, err
    assert out is not None and set(out) == DIAGNOSIS_KEYS
    assert out["cause"] == "service"
    assert out["culprit"] == {"kind": "dependency", "name": "feature-store"}
    assert out["recommended_mitigation"] == "escalate_service"
    assert out["trigger"]["service"] == "feature-store" and out["trigger"]["kind"] == "infra"
    assert out["trigger"]["timestamp"].endswith("Z") and out["onset"].endswith("Z")
    for f in out["findings"]:
        assert set(f) == {"cause", "check", "subject", "score", "severity", "evidence"}
    assert out["findings"][0]["subject"].startswith("feature-store/")


def test_markdown_names_the_culprit_and_the_trigger(
    prometheus_history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc = prometheus_history.scenarios["memory_leak"]
    catalog, changes = _files(tmp_path, sc)
    onset = pd.Timestamp(sc.onset, unit="s", tz="UTC").isoformat()
    code = main(
        [
            "diagnose",
            "--service",
            g.SERVICE,
            "--catalog",
            str(catalog),
            "--prometheus",
            prometheus_history.url,
            "--changes",
            str(changes),
            "--onset",
            onset,
            "--format",
            "markdown",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "resource `memory_bytes`" in text and "model_deploy of scorer" in text
    assert "**rollback**" in text  # the service's own model deploy started the leak


def test_a_version_switch_in_the_minute_the_dependency_slowed_is_the_dependency(
    prometheus_history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The log alone sees v5 arrive with slower requests; the series see the feature store move."""
    sc = prometheus_history.scenarios["deploy_and_dependency"]
    catalog, changes = _files(tmp_path, sc)
    log = _prediction_log(tmp_path / "predictions.csv", sc, slower_after_onset=1.8)
    code, out, err = _run(
        capsys,
        "--service",
        g.SERVICE,
        "--catalog",
        str(catalog),
        "--prometheus",
        prometheus_history.url,
        "--changes",
        str(changes),
        "--log",
        str(log),
    )
    assert code == 0, err
    assert out is not None
    assert out["culprit"] == {"kind": "dependency", "name": "feature-store"}
    assert out["trigger"] is None  # the service's model deploy is not what the evidence supports
    # the log was read and diagnosed too: its latency finding is among the findings
    assert any(f["check"] == "latency" for f in out["findings"])


def test_prometheus_down_with_a_log_goes_on_with_the_log(
    prometheus_history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc = prometheus_history.scenarios["bad_model_deploy"]
    catalog, changes = _files(tmp_path, sc)
    log = _prediction_log(tmp_path / "predictions.csv", sc, slower_after_onset=2.5)
    code, out, err = _run(
        capsys,
        "--service",
        g.SERVICE,
        "--catalog",
        str(catalog),
        "--prometheus",
        _closed_port_url(),
        "--changes",
        str(changes),
        "--log",
        str(log),
    )
    assert code == 0, err
    assert out is not None and out["cause"] != "none"
    missing = [f for f in out["findings"] if f["check"] == "source_unavailable"]
    assert missing and "unreachable" in missing[0]["evidence"]


def test_prometheus_down_alone_is_none_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prometheus_history: History
) -> None:
    sc = prometheus_history.scenarios["bad_config"]
    catalog, changes = _files(tmp_path, sc)
    code, out, err = _run(
        capsys,
        "--service",
        g.SERVICE,
        "--catalog",
        str(catalog),
        "--prometheus",
        _closed_port_url(),
        "--changes",
        str(changes),
    )
    assert code == 0, err
    assert out is not None and out["cause"] == "none" and out["trigger"] is None
    assert out["findings"][0]["check"] == "source_unavailable" and "Prometheus" in out["findings"][0]["evidence"]


def test_unusable_input_exits_non_zero_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prometheus_history: History
) -> None:
    sc = prometheus_history.scenarios["bad_config"]
    catalog, _ = _files(tmp_path, sc)
    code, _, err = _run(
        capsys, "--service", "no-such-service", "--catalog", str(catalog), "--prometheus", prometheus_history.url
    )
    assert code != 0 and "no-such-service" in err and "scorer" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  - name: scorer\n    metrics: [not, a, mapping]\n", encoding="utf-8")
    code, _, err = _run(capsys, "--service", "scorer", "--catalog", str(bad), "--prometheus", prometheus_history.url)
    assert code != 0 and "bad.yaml" in err
    code, _, err = _run(
        capsys,
        "--service",
        "scorer",
        "--catalog",
        str(catalog),
        "--prometheus",
        prometheus_history.url,
        "--onset",
        "yesterday-ish",
    )
    assert code != 0 and "yesterday-ish" in err
