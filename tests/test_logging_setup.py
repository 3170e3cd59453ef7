"""The service's log: APScheduler's per-run lines are quiet, its errors and our jobs' own lines stay."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.logging_setup import configure_logging

job_log = logging.getLogger("runbooks.jobs")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root, executors = logging.getLogger(), logging.getLogger("apscheduler.executors")
    saved = (list(root.handlers), root.level, executors.level)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    executors.setLevel(saved[2])


def _run_two_jobs() -> None:
    """A real scheduler runs a job that logs and a job that raises, once each."""
    ran, raised = threading.Event(), threading.Event()

    def ours() -> None:
        job_log.info("our job ran")
        ran.set()

    def broken() -> None:
        raised.set()
        raise RuntimeError("boom")

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(ours, id="ours")
    scheduler.add_job(broken, id="broken")
    scheduler.start()
    try:
        assert ran.wait(30) and raised.wait(30)
    finally:
        scheduler.shutdown(wait=True)


def test_at_info_apschedulers_per_run_lines_are_quiet_and_errors_and_our_lines_stay(
        restored_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    _run_two_jobs()
    err = capsys.readouterr().err
    assert "runbooks.jobs: our job ran" in err
    assert "raised an exception" in err and "RuntimeError: boom" in err
    assert "Running job" not in err and "executed successfully" not in err


def test_at_debug_every_line_shows(restored_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug")
    _run_two_jobs()
    err = capsys.readouterr().err
    assert "Running job" in err and "executed successfully" in err and "our job ran" in err
