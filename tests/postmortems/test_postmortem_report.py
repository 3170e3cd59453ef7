"""`mlresponder report --since 30d`: MTTD/MTTA/MTTM/MTTR by service and severity, markdown and a PNG chart."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.db import transaction, utcnow
from bot.incidents import create_incident
from bot.wiring import create_runtime

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def seed(settings: Settings) -> None:
    """Three recent incidents with known spans, and one too old to count."""
    rt = create_runtime(settings, install_parts=False)
    now = utcnow()
    # (service, severity, opened days ago, detect, ack, mitigate, resolve) in minutes; None: never reached
    rows = [
        ("churn", "sev1", 3, 4.0, 2.0, 10.0, 60.0),
        ("churn", "sev2", 5, 6.0, 4.0, 20.0, 120.0),
        ("fraud", "sev2", 8, 2.0, 1.0, None, None),
        ("churn", "sev1", 45, 99.0, 99.0, 99.0, 99.0),
    ]
    try:
        with transaction(rt.sessions) as s:
            for service, severity, days, detect, ack, mitigate, resolve in rows:
                opened = now - timedelta(days=days)
                i = create_incident(s, title=f"{service} down", severity=severity, service=service, source="test",
                                    actor="t", started_at=opened - timedelta(minutes=detect))
                i.created_at = opened
                i.acknowledged_at = opened + timedelta(minutes=ack)
                i.mitigated_at = opened + timedelta(minutes=mitigate) if mitigate is not None else None
                i.resolved_at = opened + timedelta(minutes=resolve) if resolve is not None else None
                i.status = "resolved" if resolve is not None else "acknowledged"
    finally:
        rt.close()


def test_report_by_service_and_severity(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    seed(settings)
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", settings.database_url)
    out = tmp_path / "report"
    assert main(["report", "--since", "30d", "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert (out / "report.png").read_bytes().startswith(PNG_MAGIC)
    assert capsys.readouterr().out.startswith(md)
    assert "3 incident(s) opened in the period" in md  # the 45-day-old one is outside
    assert "| all | 3 | 4.0 | 2.3 | 15.0 (2/3) | 90.0 (2/3) |" in md
    assert "| churn | 2 | 5.0 | 3.0 | 15.0 | 90.0 |" in md
    assert "| fraud | 1 | 2.0 | 1.0 | — | — |" in md
    assert "| sev1 | 1 | 4.0 | 2.0 | 10.0 | 60.0 |" in md
    assert "| sev2 | 2 | 4.0 | 2.5 | 20.0 (1/2) | 120.0 (1/2) |" in md
    assert "![Mean response times by service](report.png)" in md

    assert main(["report", "--since", "4d", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overall"]["incidents"] == 1 and data["overall"]["MTTR"] == 60.0
    assert [g["name"] for g in data["by_severity"]] == ["sev1"]


def test_report_refuses_a_bad_period(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", settings.database_url)
    assert main(["report", "--since", "a month"]) == 2
    assert "--since: expected a duration like 30s, 5m, 2h, got 'a month'" in capsys.readouterr().err
