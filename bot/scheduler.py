"""The one APScheduler of a process, with a persistent job store in the incident database.

Jobs are stored as references to module-level functions plus plain arguments, so they
survive restarts; a job finds the live `Runtime` through `current_runtime()`. Only one
scheduler may run jobs against a store (APScheduler 3's rule), so replicas elect it: every
`serve` process keeps a paused scheduler (it may add and cancel jobs in the shared store),
and the one holding a PostgreSQL advisory lock, on a connection of its own, runs them (see
`bot.leader`). On SQLite there is one process, and it always leads. CLI commands never run jobs.
Frequent, idempotent sweeps of the leader (`while_leading`) run on threads of their own instead
of as stored jobs, so they write nothing to the job store each time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.db import SQLITE_BUSY_TIMEOUT_S, migration_lock, normalize_url
from bot.leader import Leadership

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
        url = normalize_url(runtime.settings.database_url)
        options: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            # The job store has an engine of its own, outside the app's writer lock. With pysqlite's
            # 5 s default it met "database is locked" under load, and APScheduler's main loop died
            # with it, silently: wait as long as the app's own connections do.
            options["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
        store = SQLAlchemyJobStore(url=url, tablename=tablename, engine_options=options)
        self.aps = BackgroundScheduler(
            jobstores={"default": store},
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone="UTC",
        )
        self.started = False
        self._paused = False
        self._duties: list[tuple[str, Callable[[], object], float]] = []
        self._duty_stop = threading.Event()
        self._duty_threads: list[threading.Thread] = []
        self.leadership = Leadership(runtime.settings.database_url, on_elected=self._lead,
                                     on_deposed=self._follow, on_tick=self._poll_store)
        # /metrics: `mlresponder_scheduler_leader` is 1 on the replica that runs the jobs, 0 elsewhere.
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_LeaderCollector(self))

    @property
    def leader(self) -> bool:
        return self.started and self.leadership.leader

    def _ensure_store(self) -> None:
        # APScheduler keeps jobs added before start() in memory only; a paused start writes them
        # to the store at once without running anything (CLI processes and followers never run jobs).
        if not self.started and not self._paused:
            url = self.runtime.settings.database_url
            # Replicas starting together would race to create the job table: one at a time.
            with migration_lock(url):
                self.aps.start(paused=True)
            self._paused = True

    def start(self) -> None:
        """Join the election: jobs run here only while this process leads."""
        global _CURRENT
        if self.started:
            return
        _CURRENT = self.runtime
        self._ensure_store()
        self.started = True
        self.leadership.start()
        self._duty_stop.clear()
        for duty in self._duties:
            self._start_duty(*duty)

    def while_leading(self, name: str, fn: Callable[[], object], every: float) -> None:
        """Call ``fn`` every ``every`` seconds on whichever replica leads, from a thread of its own
        and outside the job store (a store write every few seconds starved SQLite under load).
        ``fn`` must be safe to run twice: a hand-over can overlap one call on the old leader with
        one on the new."""
        self._duties.append((name, fn, every))
        if self.started:
            self._start_duty(name, fn, every)

    def _start_duty(self, name: str, fn: Callable[[], object], every: float) -> None:
        def loop() -> None:
            while not self._duty_stop.wait(every):
                if not self.leader:
                    continue
                try:
                    fn()
                except Exception:  # the duty runs again at its next turn
                    log.exception("scheduler: %s failed", name)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        self._duty_threads.append(thread)
        thread.start()

    def _lead(self) -> None:
        self.aps.resume()
        self._paused = False

    def _follow(self) -> None:
        if self.aps.running:
            self.aps.pause()
        self._paused = True

    def _poll_store(self) -> None:
        # Another replica may have added a job (a verification due in a minute): look at the store.
        if self.leadership.leader and self.aps.running:
            self.aps.wakeup()

    def stop(self) -> None:
        global _CURRENT
        self._duty_stop.set()
        for thread in self._duty_threads:
            thread.join(10)
        self._duty_threads.clear()
        if self.started or self._paused:
            self.leadership.stop()
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


class _LeaderCollector(Collector):
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("mlresponder_scheduler_leader",
                                  "1 when this replica leads the scheduler (runs the scheduled jobs), else 0.")
        gauge.add_metric([], 1.0 if self.scheduler.leader else 0.0)
        yield gauge

