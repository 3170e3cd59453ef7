"""The scheduler jobs of monitors and escalation (`bot.wiring.install_monitors` calls this).

When this process has a scheduler, one job per enabled monitor plus the escalation sweep are
kept in its persistent store.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.monitors.escalation import JOB_PREFIX, SWEEP_FUNC
from bot.monitors.schema import MonitorSpec

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

MONITOR_JOB_PREFIX = "monitor:"
RUN_FUNC = "bot.monitors.runner:scheduled_run"


def schedule_jobs(scheduler: Any, specs: list[MonitorSpec], sweep_every: float | None) -> None:
    """Add or update each monitor's job; drop jobs of monitors that are gone or disabled.

    A job whose trigger is unchanged is left alone: replacing it would recompute its next run
    time and forget a run that came due while the service was down (the restart would lose it).
    """
    wanted = {f"{MONITOR_JOB_PREFIX}{s.name}": s for s in specs if s.enabled}
    for job_id in scheduler.job_ids():
        if job_id.startswith(MONITOR_JOB_PREFIX) and job_id not in wanted:
            scheduler.cancel(job_id)
    for job_id, spec in wanted.items():
        existing = scheduler.aps.get_job(job_id)
        if existing is not None and _same_trigger(existing.trigger, spec) and existing.kwargs == {"name": spec.name}:
            continue
        if spec.schedule.every is not None:
            scheduler.every(job_id, RUN_FUNC, seconds=float(spec.schedule.every),
                            start_date=datetime(1970, 1, 1, tzinfo=UTC), name=spec.name)
        else:
            scheduler.every(job_id, RUN_FUNC, cron=spec.schedule.cron, name=spec.name)
    sweep_id = f"{JOB_PREFIX}sweep"
    existing_sweep = scheduler.aps.get_job(sweep_id)
    if sweep_every is None:
        if existing_sweep is not None:
            scheduler.cancel(sweep_id)
        return
    if existing_sweep is None or getattr(existing_sweep.trigger, "interval", None) is None \
            or existing_sweep.trigger.interval.total_seconds() != float(sweep_every):
        scheduler.every(sweep_id, SWEEP_FUNC, seconds=float(sweep_every), start_date=datetime(1970, 1, 1, tzinfo=UTC))


def _same_trigger(trigger: Any, spec: MonitorSpec) -> bool:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if spec.schedule.every is not None:
        return isinstance(trigger, IntervalTrigger) and trigger.interval.total_seconds() == float(spec.schedule.every)
    if not isinstance(trigger, CronTrigger):
        return False
    return str(trigger) == str(CronTrigger.from_crontab(spec.schedule.cron or "", timezone="UTC"))
