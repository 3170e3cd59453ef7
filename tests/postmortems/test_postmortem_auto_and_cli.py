"""The automatic draft on resolution (off the committing thread) and `mlresponder postmortem`."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pm_recorded import model_diagnosis, record_incident, story, write_log
from sqlalchemy import select

from bot.cli import main
from bot.db import transaction
from bot.incidents import get_incident, transition
from bot.models import TimelineEvent
from bot.runtime import Runtime
from bot.wiring import PART_INSTALLERS, create_runtime, install_postmortems
from postmortems.worker import PostmortemWorker


def test_resolving_an_incident_drafts_its_postmortem_on_the_worker(store_runtime: Runtime) -> None:
    assert install_postmortems in PART_INSTALLERS
    install_postmortems(store_runtime)
    worker = store_runtime.parts[PostmortemWorker]
    drafting_threads: list[str] = []
    store_runtime.bus.subscribe(lambda notices: drafting_threads.extend(
        threading.current_thread().name for n in notices if n.kind == "postmortem_drafted"))

    s = story()
    incident_id = record_incident(store_runtime, s, model_diagnosis(s), resolve=False)
    with transaction(store_runtime.sessions) as session:
        assert get_incident(session, incident_id).postmortem_path is None  # mitigated is not resolved
    with transaction(store_runtime.sessions) as session:
        transition(session, get_incident(session, incident_id), "resolved", actor="U042ALICE")
    assert worker.wait(timeout=60)

    with transaction(store_runtime.sessions) as session:
        incident = get_incident(session, incident_id)
        assert incident.postmortem_path and Path(incident.postmortem_path).exists()
        assert "## Action items" in (incident.postmortem_md or "")
        kinds = [e.kind for e in session.scalars(select(TimelineEvent).order_by(TimelineEvent.id))]
    assert kinds.count("postmortem_drafted") == 1
    assert drafting_threads and drafting_threads[0].startswith("postmortem")


def test_a_failed_automatic_draft_is_recorded_on_the_timeline(store_runtime: Runtime, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the postmortem folder should be")
    runtime = create_runtime(store_runtime.settings.with_(postmortem_dir=str(blocker)), migrate=False,
                             install_parts=False)
    try:
        install_postmortems(runtime)
        s = story()
        incident_id = record_incident(runtime, s, model_diagnosis(s))
        assert runtime.parts[PostmortemWorker].wait(timeout=60)
        with transaction(runtime.sessions) as session:
            events = session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id,
                                                                 TimelineEvent.kind == "postmortem_failed")).all()
            assert len(events) == 1 and "the postmortem draft failed" in events[0].message
    finally:
        runtime.close()


def test_cli_drafts_into_the_given_folder(store_runtime: Runtime, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    s = story()
    incident_id = record_incident(store_runtime, s, model_diagnosis(s))
    log = write_log(tmp_path / "predictions.csv", s)
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", store_runtime.settings.database_url)
    monkeypatch.setenv("MLRESPONDER_SCHEDULER", "false")

    code = main(["postmortem", f"INC-{incident_id}", "--out", str(tmp_path / "pm"), "--log", str(log)])

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == str((tmp_path / "pm" / f"INC-{incident_id}-postmortem.md").resolve())
    assert out[1].endswith(f"INC-{incident_id}-metric.png")
    assert any("blameless check: note at" in line for line in out)


def test_cli_names_an_unknown_incident(store_runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", store_runtime.settings.database_url)
    monkeypatch.setenv("MLRESPONDER_SCHEDULER", "false")
    assert main(["postmortem", "INC-999"]) == 2
    assert "no incident INC-999" in capsys.readouterr().err


def test_cli_marks_a_drafted_postmortem_reviewed(store_runtime: Runtime, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    s = story()
    incident_id = record_incident(store_runtime, s, model_diagnosis(s))
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", store_runtime.settings.database_url)
    monkeypatch.setenv("MLRESPONDER_SCHEDULER", "false")

    assert main(["postmortem", f"INC-{incident_id}", "--reviewed"]) == 2
    assert "has no postmortem draft yet" in capsys.readouterr().err

    assert main(["postmortem", f"INC-{incident_id}", "--out", str(tmp_path / "pm")]) == 0
    assert main(["postmortem", f"INC-{incident_id}", "--reviewed", "--actor", "lead"]) == 0
    with transaction(store_runtime.sessions) as session:
        kinds = [e.kind for e in session.scalars(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident_id))]
    assert kinds.count("postmortem_reviewed") == 1
