"""Runtime part: draft the postmortem automatically when an incident is resolved.

The bus calls listeners on the thread that committed (often an HTTP request or a Slack
action), so the listener only queues the draft; one worker thread renders it. A failed
draft is recorded on the timeline instead of being lost in a log file.

The bus only hears what this process commits. An incident resolved by another process (the
`mlresponder incident resolve` command, a replica that died before drafting) is found in the
event log by the scheduler leader (`catch_up`, every `CATCH_UP_EVERY` seconds): a resolution
with no draft (or failed draft) after it. Each resolution is drafted once across replicas: the
drafter holds a per-incident lock (a PostgreSQL session lock, dropped with a dead process) and
checks the event log again under it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import transaction, utcnow
from bot.events import EventNotice
from bot.incidents import get_incident, log_event
from bot.leader import session_lock
from bot.models import Incident, TimelineEvent
from postmortems.service import draft_postmortem

if TYPE_CHECKING:
    from pathlib import Path

    from bot.runtime import Runtime

log = logging.getLogger(__name__)

ACTOR = "mlresponder"
# How often the scheduler leader looks for resolutions nobody drafted, and how far back.
CATCH_UP_EVERY = 10.0
CATCH_UP_WINDOW = timedelta(days=7)
# First key of the per-incident draft lock ("mlrp"); the second is the incident id.
LOCK_CLASS = 0x6D6C7270
DRAFTED = ("postmortem_drafted", "postmortem_failed")


def undrafted(session: Session, incident_ids: list[int] | None = None) -> list[int]:
    """Resolved incidents (resolved within `CATCH_UP_WINDOW`, or among ``incident_ids``) whose
    latest resolution has no draft, nor a failed one, after it."""
    query = select(Incident.id).where(Incident.status == "resolved")
    if incident_ids is None:
        query = query.where(Incident.resolved_at >= utcnow() - CATCH_UP_WINDOW)
    else:
        query = query.where(Incident.id.in_(incident_ids))
    ids = list(session.scalars(query))
    if not ids:
        return []
    resolved: dict[int, int] = {}
    drafted: dict[int, int] = {}
    for incident_id, event_id, kind, data in session.execute(
            select(TimelineEvent.incident_id, TimelineEvent.id, TimelineEvent.kind, TimelineEvent.data)
            .where(TimelineEvent.incident_id.in_(ids), TimelineEvent.kind.in_(("status_changed", *DRAFTED)))):
        if kind in DRAFTED:
            drafted[incident_id] = max(event_id, drafted.get(incident_id, 0))
        elif (data or {}).get("to") == "resolved":
            resolved[incident_id] = max(event_id, resolved.get(incident_id, 0))
    return sorted(i for i, event_id in resolved.items() if drafted.get(i, 0) < event_id)


class PostmortemWorker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postmortem")
        self._futures: list[Future[Path | None]] = []
        self._lock = threading.Lock()
        self._stopped = False
        self._queued: set[int] = set()

    def on_events(self, notices: list[EventNotice]) -> None:
        for notice in notices:
            if notice.kind == "status_changed" and notice.data.get("to") == "resolved":
                self.submit(notice.incident_id)

    def catch_up(self) -> list[int]:
        """On the scheduler leader: queue the drafts of resolutions no process drafted (resolved
        from a terminal, or by a replica that died first); returns the incident ids queued."""
        with transaction(self.runtime.sessions) as session:
            due = undrafted(session)
        with self._lock:
            due = [i for i in due if i not in self._queued]
        if due:
            log.info("postmortems: drafting for resolution(s) made elsewhere: %s",
                     ", ".join(f"INC-{i}" for i in due))
        for incident_id in due:
            self.submit(incident_id)
        return due

    def submit(self, incident_id: int) -> Future[Path | None] | None:
        with self._lock:
            if self._stopped:
                log.warning("postmortem for INC-%s not drafted: the service is stopping", incident_id)
                return None
            self._queued.add(incident_id)
            future = self._pool.submit(self._draft_once, incident_id)
            self._futures = [f for f in self._futures if not f.done()] + [future]
            return future

    def _draft_once(self, incident_id: int) -> Path | None:
        """Draft the latest resolution unless another process is drafting it or already has."""
        try:
            with session_lock(self.runtime.settings.database_url, LOCK_CLASS, incident_id,
                              "mlresponder-postmortem") as mine:
                if not mine:
                    log.info("postmortem of INC-%s: another replica is drafting it", incident_id)
                    return None
                with transaction(self.runtime.sessions) as session:
                    if not undrafted(session, [incident_id]):
                        return None  # drafted meanwhile (or reopened): nothing to do
                return self._draft(incident_id)
        except Exception:  # the lock's session could not be opened: the leader's catch-up tries again
            log.exception("the postmortem of INC-%s could not be drafted", incident_id)
            return None
        finally:
            with self._lock:
                self._queued.discard(incident_id)

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
