"""Scheduled work of the runbook engine (APScheduler job functions, stored by reference).

Each job is idempotent: it re-reads the persisted state and does nothing when the world moved
on (the mitigation was reverted, the run was already continued), so a job that fires twice
or late cannot do harm.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np

from bot.db import transaction, utcnow
from bot.incidents import escalation_targets, log_event
from bot.models import Incident
from bot.runtime import Runtime
from bot.scheduler import current_runtime
from runbooks import mitigations
from runbooks.context import build_context
from runbooks.executor import advance, finish_step, schedule, step_row, verify_job_id
from runbooks.models import RunbookRun
from runbooks.runs import runbook_of
from runbooks.schema import VerifyStep
from runbooks.sources import open_source
from runbooks.templating import TemplateFailed, TemplateRefused, render
from runbooks.verify import (
    MetricUnavailable,
    RecoveryVerdict,
    estimated_after_buckets,
    judge,
    log_metric_buckets,
    prometheus_range,
)

log = logging.getLogger(__name__)

_running: set[str] = set()  # ids of the runbook jobs running in this process right now
_running_guard = threading.Lock()


@contextlib.contextmanager
def _running_job(job_id: str) -> Iterator[None]:
    # APScheduler drops a one-off job from its store when it starts it: while it runs, only this
    # process knows it exists, and resumption must not mistake it for a job lost with a dead leader.
    with _running_guard:
        _running.add(job_id)
    try:
        yield
    finally:
        with _running_guard:
            _running.discard(job_id)


def running_here(job_id: str) -> bool:
    """Whether this process is running that job right now (it is then in no store)."""
    with _running_guard:
        return job_id in _running


def resume_after_wait(run_id: int, step_index: int, runtime: Runtime | None = None) -> None:
    with _running_job(f"runbooks-wait-{run_id}-{step_index}"):
        _resume_after_wait(run_id, step_index, runtime or current_runtime())


def _resume_after_wait(run_id: int, step_index: int, runtime: Runtime) -> None:
    with transaction(runtime.sessions) as s:
        run = s.get(RunbookRun, run_id)
        if run is None or run.status != "waiting" or run.current_step != step_index:
            return
        finish_step(s, run, step_row(s, run_id, step_index), output={"waited": True})
        run.status = "running"
    advance(runtime, run_id)


def _measure(runtime: Runtime, body: VerifyStep, ctx: dict[str, Any], baseline_start: float,
             incident_start: float, after_start: float) -> tuple[Any, Any, str]:
    """Baseline and after-mitigation measurements, and how the latter was estimated ("" if measured)."""
    now = utcnow()
    if body.prometheus is not None:
        base_url = runtime.settings.prometheus_url
        if not base_url:
            raise MetricUnavailable("no Prometheus configured (MLRESPONDER_PROMETHEUS_URL)")
        query = render(body.prometheus, ctx)
        if not query.strip():
            raise MetricUnavailable("the Prometheus query rendered empty")
        from datetime import UTC, datetime

        def at(ts: float) -> datetime:
            return datetime.fromtimestamp(ts, tz=UTC)

        baseline = prometheus_range(base_url, query, at(baseline_start), at(incident_start), body.step)
        after = prometheus_range(base_url, query, at(after_start), now, body.step)
        return baseline, after, ""
    assert body.log is not None and body.metric is not None
    from diagnostics.loader import LogError, load_log

    source = render(body.log, ctx).strip()
    try:
        data = load_log(open_source(source), query=render(body.query, ctx) if body.query else None)
    except (LogError, OSError, ValueError) as exc:
        raise MetricUnavailable(str(exc)) from exc
    baseline = log_metric_buckets(data, body.metric, baseline_start, incident_start, body.step)
    after = log_metric_buckets(data, body.metric, after_start, float("inf"), body.step)
    served_since = int(np.count_nonzero(np.asarray(data.timestamp) >= after_start))
    if body.metric in ("accuracy", "mae") and after.shape[0] < body.expect.measurements and served_since:
        # the labels of the rows served since the mitigation have not arrived: judge on the estimate
        estimate, how = estimated_after_buckets(data, body.metric, baseline_start, incident_start, after_start,
                                                body.step)
        return baseline, estimate, how
    return baseline, after, ""


def verify_mitigation(mitigation_id: int, run_id: int, step_index: int, attempt: int = 1,
                      runtime: Runtime | None = None) -> str | None:
    """Judge recovery after a mitigation and continue, escalate or re-check its run."""
    with _running_job(verify_job_id(mitigation_id)):
        return _verify_mitigation(mitigation_id, run_id, step_index, attempt, runtime or current_runtime())


def _awaits(run: RunbookRun | None, row_output: dict[str, Any], step_index: int, attempt: int) -> bool:
    """Whether the run still waits for this very check (not one already judged: a duplicate or late job)."""
    return (run is not None and run.status == "waiting_verification" and run.current_step == step_index
            and int(row_output.get("attempt", 1)) == attempt)


def _verify_mitigation(mitigation_id: int, run_id: int, step_index: int, attempt: int,
                       runtime: Runtime) -> str | None:
    with transaction(runtime.sessions) as s:
        run = s.get(RunbookRun, run_id)
        m = mitigations.get_mitigation(s, mitigation_id)
        if run is None or not _awaits(run, step_row(s, run_id, step_index).output or {}, step_index, attempt):
            return None  # already handled (a duplicate or late job)
        rb = runbook_of(run)
        body = rb.steps[step_index].verify
        assert body is not None
        resolved = m.incident.status == "resolved"
        if m.status != "executed" or resolved:
            # a resolved incident needs no more checks (and no escalation if one were inconclusive)
            why = f"{m.incident.ref} is resolved" if resolved else f"mitigation {m.id} is {m.status}"
            finish_step(s, run, step_row(s, run_id, step_index), status="skipped", output={"skipped": why})
            run.status = "running"
            skip = True
        else:
            skip = False
            incident = s.get(Incident, run.incident_id)
            assert incident is not None
            ctx = build_context(s, incident, run.context, runbook={"name": rb.name}, mitigation=m,
                                catalog=runtime.catalog)
            onset = (incident.diagnosis or {}).get("onset")
            incident_start = incident.started_at.timestamp()
            if onset:
                from bot.timeparse import parse_timestamp

                with contextlib.suppress(ValueError):  # an unreadable onset: keep the incident start
                    incident_start = min(incident_start, parse_timestamp(onset, "onset").timestamp())
            assert m.executed_at is not None
            after_start = m.executed_at.timestamp()
            escalate_to = escalation_targets(incident, rb.escalate_to)
    if skip:
        advance(runtime, run_id)
        return "skipped"
    try:
        baseline, after, estimated = _measure(runtime, body, ctx, incident_start - body.baseline, incident_start,
                                              after_start)
        verdict = judge(baseline, after, body.expect)
        if estimated:
            verdict = dataclasses.replace(verdict, estimated=True, message=f"{verdict.message} ({estimated})")
    except (MetricUnavailable, TemplateFailed, TemplateRefused) as exc:
        verdict = RecoveryVerdict("inconclusive", f"cannot measure: {exc}", 0, 0, body.expect.measurements,
                          body.expect.better, body.expect.min_effect, body.expect.alpha)
    return _apply_verdict(runtime, run_id, step_index, mitigation_id, attempt, verdict, body, escalate_to)


def _apply_verdict(runtime: Runtime, run_id: int, idx: int, mitigation_id: int, attempt: int, verdict: RecoveryVerdict,
                   body: VerifyStep, escalate_to: list[str]) -> str:
    record = {**verdict.to_dict(), "attempt": attempt, "step": idx, "checked_at": utcnow().isoformat()}
    retry_at = None
    with transaction(runtime.sessions) as s:
        # Locked (PostgreSQL) and checked again: of two checks judged at once, one verdict counts.
        run = s.get(RunbookRun, run_id, with_for_update=True)
        row = step_row(s, run_id, idx)
        if not _awaits(run, row.output or {}, idx, attempt):
            log.info("verification %s of mitigation %s was already judged; this verdict is dropped",
                     attempt, mitigation_id)
            return "duplicate"
        assert run is not None
        m = mitigations.get_mitigation(s, mitigation_id)
        # Locked too: a revert claimed meanwhile keeps its claim (the verdict does not overwrite "reverting").
        s.refresh(m, with_for_update=True)
        settled = m.status == "executed"
        incident = m.incident
        data = {"result": verdict.result, "mitigation_id": m.id, "run_id": run_id, **record}
        if verdict.result == "pass":
            if settled:
                m.status = "verified"
            m.verification = record
            log_event(s, incident, "verification", f"verification of mitigation {m.id} passed: {verdict.message}",
                      data=data)
            mitigations.move_incident(s, incident, "mitigated", f"mitigation {m.id} verified")
            run.context = {**(run.context or {}), "verification": record}
            finish_step(s, run, row, output={"result": "pass", "mitigation_id": m.id, "message": verdict.message})
            run.status = "running"
        elif verdict.result == "inconclusive" and attempt <= body.retries:
            retry_at = utcnow() + timedelta(seconds=max(body.after, 1.0))
            m.verification = record
            log_event(s, incident, "verification",
                      f"verification of mitigation {m.id} inconclusive ({verdict.message}); checking again at "
                      f"{retry_at.isoformat()} (check {attempt + 1} of {body.retries + 1})",
                      data={**data, "next_check": retry_at.isoformat()})
            row.output = {"attempt": attempt + 1, "due": retry_at.isoformat(), "mitigation_id": m.id}
        else:
            m.verification = record
            if verdict.result == "fail":
                if settled:
                    m.status = "failed_verification"
                what = f"verification of mitigation {m.id} failed: {verdict.message}"
            else:
                what = (f"verification of mitigation {m.id} still inconclusive after {attempt} check(s): "
                        f"{verdict.message}")
            log_event(s, incident, "verification", what, data=data)
            mitigations.escalate(
                s, incident, escalate_to,
                f"{what}. The metric has not been shown to recover; revert it with "
                f"`mlresponder mitigation revert {m.id}` or take over.",
                mitigation_id=m.id, run_id=run_id, offer_revert=True, catalog=runtime.catalog)
            row.status = "failed"
            row.error = what
            row.finished_at = utcnow()
            run.status = "escalated"
            run.error = what
            run.finished_at = utcnow()
    if retry_at is not None:
        schedule(runtime, verify_job_id(mitigation_id), retry_at, "runbooks.jobs:verify_mitigation",
                 mitigation_id=mitigation_id, run_id=run_id, step_index=idx, attempt=attempt + 1)
    elif verdict.result == "pass":
        advance(runtime, run_id)
    return verdict.result
