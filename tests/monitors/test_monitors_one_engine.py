"""One check engine: a monitor gives the answer `diagnose` gives on the same windows.

The monitor reads its windows from a real SQLite (and PostgreSQL) table; `diagnose` is run
directly on the same rows, loaded by the diagnostics loader from the same table. Both must
name the same cause and culprit, with the diagnostics engine's own `Finding` types and
thresholds. The case that once split the two engines: a feature scaled x100 whose trailing
3-hour reference already held a few minutes of faulty rows (the old summary engine's
equal-width histogram over the polluted range gave PSI 0.0 and blamed concept drift).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from mon_helpers import monitor_doc, write_config
from mon_synth import FAULTS, START, make_log

from bot.config import Settings
from bot.monitors.runner import MonitorService
from bot.monitors.schema import ChecksSpec
from bot.runtime import Runtime
from bot.wiring import create_runtime
from diagnostics import diagnose
from diagnostics.checks import CHECKS, check_families, verdict_checks
from diagnostics.loader import load_log

END = START + timedelta(hours=4)
WINDOW_START = START + timedelta(hours=3)


def scaled_feature_log() -> pd.DataFrame:
    """Four hours; `amount` is logged in cents (x100) from 5 minutes before the window on."""
    frame = pd.concat([make_log("healthy", seed=1), make_log("healthy", seed=2, start=START + timedelta(hours=2))],
                      ignore_index=True)
    faulty = frame["timestamp"] >= WINDOW_START - timedelta(minutes=5)
    frame.loc[faulty, "amount"] = frame.loc[faulty, "amount"] * 100.0
    return frame


def _tables(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        scaled_feature_log().to_sql("scaled", engine, index=False, if_exists="replace")
        for fault in FAULTS:
            make_log(fault).to_sql(f"log_{fault}", engine, index=False, if_exists="replace")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('one') / 'predictions.db'}"
    _tables(url)
    return url


@pytest.fixture(scope="module")
def pg_url(postgres_server: Any) -> str:
    url = str(postgres_server.new_database())
    _tables(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def runtime(tmp_path: Path, settings: Settings, url: str) -> Iterator[Runtime]:
    scaled = {**monitor_doc("scaled", url, "scaled"), "reference": {"trailing": "3h"}}
    docs = [scaled] + [monitor_doc(f"m-{fault}", url, f"log_{fault}") for fault in FAULTS]
    rt = create_runtime(settings.with_(monitors=write_config(tmp_path / "monitors.yaml", docs)))
    try:
        yield rt
    finally:
        rt.close()


def _direct(url: str, table: str, start: Any, window_start: Any, end: Any) -> Any:
    """`diagnose` on the same rows, read by the diagnostics loader: window against trailing reference."""
    log = load_log(f"{url}?table={table}" if "?" not in url else url)
    ts = log.timestamp
    current = log.take(np.flatnonzero((ts >= window_start.timestamp()) & (ts < end.timestamp())))
    reference = log.take(np.flatnonzero((ts >= start.timestamp()) & (ts < window_start.timestamp())))
    return diagnose(current, reference=reference, onset=window_start.timestamp())


def test_scaled_feature_with_a_polluted_trailing_reference_is_a_unit_change(runtime: Runtime, url: str) -> None:
    outcome = runtime.parts[MonitorService].run("scaled", now=END)
    assert outcome.status == "breach", outcome.to_dict()
    assert outcome.diagnosis is not None
    got = outcome.diagnosis
    assert (got["cause"], got["culprit"], got["recommended_mitigation"]) == (
        "data", {"kind": "feature", "name": "amount"}, "naive_model")
    assert got["findings"][0]["check"] == "unit_change"
    direct = _direct(url, "scaled", START, WINDOW_START, END)
    assert (direct.cause, direct.culprit_kind, direct.culprit_name) == ("data", "feature", "amount")
    assert direct.findings[0].check == "unit_change"
    assert [f["check"] for f in got["findings"]] == [f.check for f in direct.findings]
    assert got["findings"][0]["evidence"] == direct.findings[0].evidence


@pytest.mark.parametrize("fault", FAULTS)
def test_monitor_and_diagnose_agree_on_every_fault(runtime: Runtime, url: str, fault: str) -> None:
    end = START + timedelta(hours=2)
    outcome = runtime.parts[MonitorService].run(f"m-{fault}", now=end)
    assert outcome.diagnosis is not None, outcome.to_dict()
    direct = _direct(url, f"log_{fault}", START, START + timedelta(hours=1), end).to_dict()
    for key in ("cause", "culprit", "recommended_mitigation", "confidence"):
        assert outcome.diagnosis[key] == direct[key], (key, outcome.diagnosis, direct)
    strip = [{k: v for k, v in f.items()} for f in direct["findings"]]
    assert outcome.diagnosis["findings"] == strip
    assert outcome.status == ("ok" if direct["cause"] == "none" else "breach")


def test_checks_only_choose_families_of_the_engines_checks(tmp_path: Path, settings: Settings,
                                                          sqlite_url: str) -> None:
    """A monitor without `quality` does not breach on a bad version; with it, it does (same finding)."""
    docs = [monitor_doc("no-quality", sqlite_url, "log_bad_version", checks={"drift": {}, "latency": {}}),
            monitor_doc("quality", sqlite_url, "log_bad_version", checks={"quality": {}})]
    rt = create_runtime(settings.with_(monitors=write_config(tmp_path / "monitors.yaml", docs)))
    try:
        end = START + timedelta(hours=2)
        quiet = rt.parts[MonitorService].run("no-quality", now=end, publish=False)
        loud = rt.parts[MonitorService].run("quality", now=end, publish=False)
    finally:
        rt.close()
    assert quiet.status == "ok" and quiet.diagnosis is not None and quiet.diagnosis["cause"] == "none"
    assert loud.status == "breach" and loud.diagnosis is not None
    assert loud.diagnosis["culprit"] == {"kind": "model_version", "name": "v2"}
    assert loud.diagnosis["findings"][0]["check"] in check_families()["quality"]
    assert loud.diagnosis["recommended_mitigation"] == CHECKS[loud.diagnosis["findings"][0]["check"]].mitigation


def test_monitor_families_are_the_check_registrys() -> None:
    """One table: every `checks:` key is a family of the registry, every verdict check of the
    engine's own checks is in exactly one family, and the mitigation a breach proposes is the
    registry's (the monitors keep no map of their own)."""
    families = check_families()
    assert set(families) == set(ChecksSpec.model_fields)
    own = {name for name, spec in verdict_checks().items() if spec.family is not None}
    assert sorted(n for names in families.values() for n in names) == sorted(own)
    assert {"drift", "unit_change", "missing_rate", "version_change", "latency", "traffic"} <= own
    import bot.monitors.checks as monitor_checks

    assert not [k for k, v in vars(monitor_checks).items() if isinstance(v, dict) and k.isupper()]
    assert all(CHECKS[name].mitigation != "none" for name in own)


def test_a_large_window_is_sampled_by_the_database_with_rates_kept(tmp_path: Path, settings: Settings,
                                                                   sqlite_url: str) -> None:
    doc = {**monitor_doc("sampled", sqlite_url, "log_traffic"), "max_rows": 1000}
    rt = create_runtime(settings.with_(monitors=write_config(tmp_path / "monitors.yaml", [doc])))
    try:
        outcome = rt.parts[MonitorService].run("sampled", now=START + timedelta(hours=2), publish=False)
    finally:
        rt.close()
    m = outcome.metrics
    assert m["sample_fraction"] < 0.5 and m["judged_reference_rows"] < 0.6 * m["reference_rows"]
    assert outcome.diagnosis is not None
    assert outcome.diagnosis["culprit"]["kind"] == "traffic"
    # the rates quoted are the served rates (the sample scaled back), not the sample's
    evidence = outcome.diagnosis["findings"][0]["evidence"]
    assert "predictions per minute" in evidence
    ref_rate = float(evidence.split(": ")[1].split(" -> ")[0])
    assert 50.0 <= ref_rate <= 70.0, evidence
