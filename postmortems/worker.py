"""Runtime part: draft the postmortem automatically when an incident is resolved.

The bus calls listeners on the thread that committed (often an HTTP request or a Slack
action), so the listener only queues the draft; one worker thread renders it. A failed
draft is recorded on the timeline instead of being lost in a log file.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from bot.db import transaction
from bot.events import EventNotice
from bot.incidents import get_incident, log_event
from postmortems.service import draft_postmortem

if TYPE_CHECKING:
    from pathlib import Path

    from bot.runtime import Runtime

log = logging.getLogger(__name__)

ACTOR = "mlresponder"


class PostmortemWorker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postmortem")
        self._futures: list[Future[Path | None]] = []
        self._lock = threading.Lock()
        self._stopped = False

    def on_events(self, notices: list[EventNotice]) -> None:
        for notice in notices:
            if notice.kind == "status_changed" and notice.data.get("to") == "resolved":
                self.submit(notice.incident_id)

    def submit(self, incident_id: int) -> Future[Path | None] | None:
        with self._lock:
            if self._stopped:
                log.warning("postmortem for INC-%s not drafted: the service is stopping", incident_id)
                return None
            future = self._pool.submit(self._draft, incident_id)
            self._futures = [f for f in self._futures if not f.done()] + [future]
            return future

    def _draft(self, incident_id: int) -> Path | None:
        try:
            return draft_postmortem(self.runtime, incident_id, ACTOR)
        except Exception as exc:
            log.exception("drafting the postmortem of INC-%s failed", incident_id)
            try:
                with transaction(self.runtime.sessions) as session:
                    incident = get_incident(session, incident_id)
                    log_event(session, incident, "postmortem_failed",
                              f"the postmortem draft failed: {type(exc).__name__}: {exc}", actor=ACTOR)
            except Exception:
                log.exception("recording the failed postmortem of INC-%s failed too", incident_id)
            return None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until queued drafts are done (demo, tests); True when none is left running."""
        with self._lock:
            pending = list(self._futures)
        _done, not_done = wait(pending, timeout=timeout)
        return not not_done

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self._pool.shutdown(wait=True)
