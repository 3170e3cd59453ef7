"""The runbook engine as a part of the running service.

`bot.wiring.install_runbooks` loads the runbooks (``settings.runbooks`` or the built-ins) and raises on
any invalid one, so the service refuses to start rather than fail mid-incident. Once started
(`mlresponder serve`), the engine matches every new incident against the runbooks and runs
the first match in a worker thread. Work a dead process left unfinished (a mitigation it was
executing, a run it was advancing, a job it was running) is resumed by the scheduler leader
alone, every `RESUME_EVERY` seconds, and only once its owner is gone (`runbooks.ownership`,
run leases): replicas never settle each other's live work. On SQLite (one process) everything
unfinished is picked up once, at start. Processes that never start it (CLI commands) load and
validate but do not run anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from bot.db import is_postgres, transaction
from bot.events import EventNotice
from bot.models import Incident
from bot.runtime import Runtime
from bot.scheduler import Scheduler, current_runtime
from runbooks.loader import LoadedRunbook

log = logging.getLogger(__name__)

RESUME_JOB = "runbooks-resume"
RESUME_FUNC = "runbooks.engine:resume_orphans"
# How often the scheduler leader looks for work a dead replica left (and for jobs a dead leader was running).
RESUME_EVERY = 5.0


def incident_matches(loaded: LoadedRunbook, incident: Incident) -> bool:
    rb = loaded.runbook
    if incident.severity not in rb.severity:
        return False
    alert_labels: dict[str, Any] = {}
    annotations: dict[str, Any] = {}
    for alert in incident.alerts:
        alert_labels.update(alert.labels or {})
        annotations.update(alert.annotations or {})
    labels = {**alert_labels, **(incident.labels or {})}
    m = rb.match
    if m.alertname is not None:
        names = {labels.get("alertname"), *(a.labels.get("alertname") for a in incident.alerts if a.labels),
                 *(a.title for a in incident.alerts), incident.title}
        if not any(m.alertname.matches(n) for n in names if n):
            return False
    if m.service is not None and not m.service.matches(incident.service):
        return False
    return all(matcher.matches(labels.get(key)) for key, matcher in m.labels.items()) and all(
        matcher.matches(annotations.get(key)) for key, matcher in m.annotations.items()
    )


class RunbookEngine:
    def __init__(self, runtime: Runtime, runbooks: list[LoadedRunbook]) -> None:
        self.runtime = runtime
        self.runbooks = runbooks
        self.started = False
        self._pool: ThreadPoolExecutor | None = None
        self._futures: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def by_name(self, name: str) -> LoadedRunbook | None:
        return next((r for r in self.runbooks if r.name == name), None)

    def match_incident(self, incident: Incident) -> LoadedRunbook | None:
        """The first runbook (in file order) whose match, severity and labels fit."""
        return next((r for r in self.runbooks if incident_matches(r, incident)), None)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="runbooks")
            future = self._pool.submit(self._guarded, fn, *args)
            self._futures.add(future)
            future.add_done_callback(self._futures.discard)

    @staticmethod
    def _guarded(fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("runbook engine task %s failed", getattr(fn, "__name__", fn))

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait for submitted work (tests, shutdown); True when everything finished."""
        pending = set(self._futures)
        while pending:
            done, not_done = wait(pending, timeout=timeout)
            if not_done:
                return False
            pending = set(self._futures)
        return True

    def on_events(self, notices: list[EventNotice]) -> None:
        if not self.started:
            return
        for notice in notices:
            if notice.kind == "incident_opened":
                self.submit(self.run_for_incident, notice.incident_id)

    def run_for_incident(self, incident_id: int) -> int | None:
        from runbooks.executor import start_run

        with transaction(self.runtime.sessions) as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                return None
            loaded = self.match_incident(incident)
        if loaded is None:
            log.info("no runbook matches INC-%s", incident_id)
            return None
        return start_run(self.runtime, incident_id, loaded)

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        scheduler = self.runtime.parts.get(Scheduler)
        if scheduler is None or not is_postgres(self.runtime.settings.database_url):
            # One process (SQLite, or no scheduler): whatever is unfinished was left by a process
            # that is gone, so it is all picked up now.
            from runbooks.executor import resume_active

            self.submit(resume_active, self.runtime)
            return
        # Replicas: only the scheduler leader resumes, periodically, and only what is orphaned.
        arm_resumption(scheduler)

    def stop(self) -> None:
        self.started = False
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def arm_resumption(scheduler: Scheduler) -> None:
    """The periodic resumption job (it runs on the scheduler leader only, like every job)."""
    existing = scheduler.aps.get_job(RESUME_JOB) if RESUME_JOB in scheduler.job_ids() else None
    interval = getattr(getattr(existing, "trigger", None), "interval", None)
    if interval is None or interval.total_seconds() != RESUME_EVERY:
        scheduler.every(RESUME_JOB, RESUME_FUNC, seconds=RESUME_EVERY, start_date=datetime(1970, 1, 1, tzinfo=UTC))


def resume_orphans(runtime: Runtime | None = None) -> list[int]:
    """On the scheduler leader: settle mitigations whose replica died mid-execution, continue runs
    nobody is advancing, and re-arm the jobs a dead leader was running when it died."""
    from runbooks.executor import advance, resume_active
    from runbooks.jobs import running_here

    runtime = runtime or current_runtime()
    scheduler = runtime.parts.get(Scheduler)
    engine = runtime.parts.get(RunbookEngine)

    def armed(job_id: str) -> bool:
        return running_here(job_id) or (scheduler is not None and scheduler.aps.get_job(job_id) is not None)

    def submit(run_id: int) -> None:
        assert engine is not None
        engine.submit(advance, runtime, run_id)

    return resume_active(runtime, armed=armed, submit=submit if engine is not None else None)
