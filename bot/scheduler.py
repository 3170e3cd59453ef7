"""The one APScheduler of a process, with a persistent job store in the incident database.

Jobs are stored as references to module-level functions plus plain arguments, so they
survive restarts; a job finds the live `Runtime` through `current_runtime()`. Only one
scheduler may run against a store (APScheduler 3's rule): `serve` starts it, other
commands do not.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.db import normalize_url

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

_CURRENT: Runtime | None = None


def current_runtime() -> Runtime:
    if _CURRENT is None:
        raise RuntimeError("no mlresponder runtime is running in this process")
    return _CURRENT


class Scheduler:
    """Wraps BackgroundScheduler: persistent store, no stacking, late runs coalesced."""

    def __init__(self, runtime: Runtime, *, tablename: str = "apscheduler_jobs") -> None:
        self.runtime = runtime
        store = SQLAlchemyJobStore(
            url=normalize_url(runtime.settings.database_url), tablename=tablename,
            engine_options={"pool_pre_ping": True},
        )
        self.aps = BackgroundScheduler(
            jobstores={"default": store},
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone="UTC",
        )
        self.started = False
        self._paused = False

    def _ensure_store(self) -> None:
        # APScheduler keeps jobs added before start() in memory only; a paused start writes them
        # to the store at once without running anything (CLI processes never run jobs).
        if not self.started and not self._paused:
            self.aps.start(paused=True)
            self._paused = True

    def start(self) -> None:
        global _CURRENT
        if self.started:
            return
        _CURRENT = self.runtime
        if self._paused:
            self.aps.resume()
            self._paused = False
        else:
            self.aps.start()
        self.started = True

    def stop(self) -> None:
        global _CURRENT
        if self.started or self._paused:
            self.aps.shutdown(wait=False)
            self.started = self._paused = False
        if _CURRENT is self.runtime:
            _CURRENT = None

    def run_at(self, job_id: str, when: datetime, func: str, **kwargs: Any) -> None:
        """Schedule ``func`` (a "module:function" reference) once; re-scheduling replaces it."""
        self._ensure_store()
        self.aps.add_job(func, "date", run_date=when, id=job_id, replace_existing=True, kwargs=kwargs)

    def every(self, job_id: str, func: str, *, seconds: float | None = None, cron: str | None = None,
              start_date: datetime | None = None, **kwargs: Any) -> None:
        """Repeat ``func``; ``start_date`` anchors an interval (e.g. to the epoch, to align replicas)."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        self._ensure_store()
        trigger: Any
        if cron:
            trigger = CronTrigger.from_crontab(cron, timezone="UTC")
        elif seconds:
            trigger = IntervalTrigger(seconds=seconds, start_date=start_date, timezone="UTC")
        else:
            raise ValueError("every(): give seconds or cron")
        self.aps.add_job(func, trigger, id=job_id, replace_existing=True, kwargs=kwargs)

    def cancel(self, job_id: str) -> bool:
        self._ensure_store()
        try:
            self.aps.remove_job(job_id)
        except Exception:  # JobLookupError: already ran or never existed
            return False
        return True

    def job_ids(self) -> list[str]:
        self._ensure_store()
        return [job.id for job in self.aps.get_jobs()]
