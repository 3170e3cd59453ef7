"""The runbook engine as a part of the running service.

`bot.wiring.install_runbooks` loads the runbooks (``settings.runbooks`` or the built-ins) and raises on
any invalid one, so the service refuses to start rather than fail mid-incident. Once started
(`mlresponder serve`), the engine matches every new incident against the runbooks and runs
the first match in a worker thread, and resumes runs a previous process left unfinished.
Processes that never start it (CLI commands) load and validate but do not run anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from bot.db import transaction
from bot.events import EventNotice
from bot.models import Incident
from bot.runtime import Runtime
from runbooks.loader import LoadedRunbook

log = logging.getLogger(__name__)


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
        from bot.scheduler import Scheduler

        scheduler = self.runtime.parts.get(Scheduler)
        if scheduler is None:  # no scheduler, no replicas: this process picks everything up now
            from runbooks.executor import resume_active

            self.submit(resume_active, self.runtime)
            return
        # Replicas: only the scheduler leader resumes, periodically, and only what is orphaned.
        from runbooks.jobs import arm_resumption

        arm_resumption(scheduler)

    def stop(self) -> None:
        self.started = False
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
