"""`mlresponder db upgrade`, `incidents list` and `incidents show`, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from intake_support import am_alert, am_payload, free_port, mlresponder_command, store_counts
from sqlalchemy import inspect

from bot.api import create_app
from bot.cli import main
from bot.config import Settings
from bot.db import make_engine, transaction
from bot.incidents import get_incident, transition
from bot.wiring import create_runtime


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLRESPONDER_", "SLACK_"))}
    env["MLRESPONDER_DATABASE_URL"] = database_url
    return subprocess.run([*mlresponder_command(), *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with two incidents: INC-1 acknowledged, INC-2 triggered."""
    folder = tmp_path_factory.mktemp("cli")
    settings = Settings(database_url=f"sqlite:///{folder / 'store.db'}", scheduler_enabled=False,
                        postmortem_dir=str(folder / "pm"))
    runtime = create_runtime(settings)
    try:
        client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
        client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-cli-1", service="ranker")))
        client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-cli-2", service="fraud", severity="info"),
                                                            group_key="other"))
        with transaction(runtime.sessions) as session:
            transition(session, get_incident(session, "INC-1"), "acknowledged", actor="alice")
    finally:
        runtime.close()
    return settings.database_url


def test_db_upgrade_creates_the_schema_and_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = run_cli(url, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "incident store is up to date" in result.stdout
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"incidents", "alerts", "dedup_keys", "timeline_events", "change_events", "mitigations",
            "audit_log", "alembic_version"} <= tables
    assert store_counts(url)["incidents"] == 0
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0  # again: nothing to do


@pytest.mark.parametrize("args", [["db", "upgrade"], ["incidents", "list"], ["incidents", "show", "INC-1"]])
def test_an_unreachable_store_is_one_line_not_a_traceback(args: list[str], monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    assert main(args) == 2
    assert "cannot reach the incident store" in capsys.readouterr().err


def test_incidents_list(store: str) -> None:
    result = run_cli(store, "incidents", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "SEV", "STATUS", "SERVICE", "CREATED", "TITLE"]
    assert lines[1].split()[:4] == ["INC-2", "sev4", "triggered", "fraud"]
    assert lines[2].split()[:4] == ["INC-1", "sev1", "acknowledged", "ranker"]


def test_incidents_list_json_with_filters(store: str, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", store)
    assert main(["incidents", "list", "--json", "--status", "acknowledged"]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == ["INC-1"]
    assert main(["incidents", "list", "--json", "--severity", "info"]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == ["INC-2"]
    assert main(["incidents", "list", "--json", "--service", "ranker", "--status", "open"]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == ["INC-1"]


def test_incidents_show(store: str) -> None:
    result = run_cli(store, "incidents", "show", "INC-1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("INC-1  AccuracyDrop on ranker")
    assert "severity sev1  status acknowledged  service ranker" in out
    for kind in ("incident_opened", "alert_fired", "status_changed"):
        assert kind in out
    assert "alice" in out


def test_incidents_show_json(store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", store)
    assert main(["incidents", "show", "inc-1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "INC-1" and data["alerts"][0]["fingerprint"] == "fp-cli-1"
    assert [e["kind"] for e in data["timeline"]] == ["incident_opened", "alert_fired", "status_changed"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [(["incidents", "show", "INC-999"], 1, "mlresponder incidents: no incident INC-999"),
     (["incidents", "show", "yesterday's"], 1, "is not an incident id"),
     (["incidents", "list", "--status", "closed"], 2, "--status: unknown status 'closed'"),
     (["incidents", "list", "--severity", "urgent"], 2, "--severity: unknown severity 'urgent'"),
     (["incidents", "list", "--limit", "0"], 2, "--limit: must be between")],
)
def test_cli_errors_are_one_line_with_an_exit_status(store: str, args: list[str], code: int, message: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # In-process (an escaping exception fails the test just as a traceback would); one subprocess checks
    # the same path end to end below.
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", store)
    assert main(args) == code
    out, err = capsys.readouterr()
    assert message in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_showing_an_unknown_incident_exits_1_without_a_traceback(store: str) -> None:
    result = run_cli(store, "incidents", "show", "INC-999")
    assert result.returncode == 1
    assert result.stderr.strip() == "mlresponder incidents: no incident INC-999"
    assert result.stdout == ""
