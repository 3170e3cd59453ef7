"""The runbook executor: advances a run step by step, with every step's state persisted.

A run is a row (`RunbookRun`) plus one row per step (`RunbookStep`). The executor commits a
step's outcome together with its effect on the timeline (a notify event and "step done" are
one transaction), so a restart never repeats a message and never skips one. Steps that wait
(approval, a verification delay, ``wait``) leave the run in a ``waiting_*`` state and hand over
to a persisted APScheduler job or to the person who approves; whoever continues calls
`advance` again. A lease on the run row (``host:pid:token`` until a deadline) keeps two threads
or processes from advancing the same run. The lease is short (`LEASE_SECONDS`) and renewed by a
heartbeat thread while its holder works (`HEARTBEAT_EVERY`), so a long step keeps it however long
it takes, while a holder that died on another host lets it lapse within seconds; a lease left by
a dead process of this host is taken over at once. Deadlines are read on the database's clock
(PostgreSQL), so hosts whose clocks disagree do not shorten or stretch them. A holder whose lease
was taken over (its heartbeat could not renew it) stops at the next step boundary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import transaction, utcnow
from bot.incidents import escalation_targets, log_event, record_diagnosis
from bot.models import Incident, Mitigation
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.secrets import masked_values
from bot.yamldoc import format_loc
from runbooks import mitigations, ownership
from runbooks.actions import ActionError, get_action
from runbooks.context import build_context
from runbooks.loader import LoadedRunbook
from runbooks.mitigations import rowcount
from runbooks.models import RUN_ACTIVE, RunbookRun, RunbookStep
from runbooks.runs import escalate_to_of, latest_mitigation, run_step_of, runbook_of
from runbooks.schema import STEP_KINDS, Runbook, Step
from runbooks.sources import missing_catalog_data, open_source
from runbooks.templating import TemplateFailed, TemplateRefused, evaluate, render, render_tree

log = logging.getLogger(__name__)

# A run's lease lapses this long after its holder's last heartbeat; the scheduler leader's
# resumption pass (every 5 s) then picks the run up: within 15 s of a replica's death.
LEASE_SECONDS = 9.0
HEARTBEAT_EVERY = 2.0
HOST = socket.gethostname()


class StepFailed(Exception):
    """A step that cannot complete; the run stops and the incident is escalated."""


# ---------------------------------------------------------------- starting and leasing runs

def start_run(runtime: Runtime, incident_id: int, loaded: LoadedRunbook, *, actor: str = "mlresponder") -> int:
    """Create the run of ``loaded`` for an incident (once per incident and runbook) and advance it."""
    with transaction(runtime.sessions) as s:
        existing = s.scalars(select(RunbookRun).where(RunbookRun.incident_id == incident_id,
                                                      RunbookRun.runbook == loaded.name)).first()
        if existing is not None:
            return existing.id
    try:
        with transaction(runtime.sessions) as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise ValueError(f"no incident {incident_id}")
            run = RunbookRun(incident_id=incident_id, runbook=loaded.name, runbook_file=loaded.file,
                             runbook_digest=loaded.digest, definition=loaded.raw, status="running",
                             current_step=0, context={})
            s.add(run)
            s.flush()
            for i, step in enumerate(loaded.runbook.steps):
                s.add(RunbookStep(run_id=run.id, step_index=i, name=step.label(i), kind=step.kind,
                                  status="pending", output={}))
            log_event(s, incident, "runbook_started",
                      f"runbook {loaded.name} started ({len(loaded.runbook.steps)} steps, {loaded.file})",
                      actor=actor, data={"run_id": run.id, "runbook": loaded.name, "file": loaded.file,
                                         "steps": [st.label(i) for i, st in enumerate(loaded.runbook.steps)]})
            run_id = run.id
    except IntegrityError:  # another thread started it a moment ago
        with transaction(runtime.sessions) as s:
            found = s.scalars(select(RunbookRun).where(RunbookRun.incident_id == incident_id,
                                                       RunbookRun.runbook == loaded.name)).one()
            return found.id
    advance(runtime, run_id)
    return run_id


def _new_owner() -> str:
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def db_now(s: Session) -> datetime:
    """Now, on the database's clock on PostgreSQL (leases are compared across hosts), else this process's."""
    if s.get_bind().dialect.name == "postgresql":
        value = s.scalar(select(func.now()))
        assert isinstance(value, datetime)
        return value.astimezone(UTC)
    return utcnow()


def _acquire(runtime: Runtime, run_id: int, owner: str) -> bool:
    with transaction(runtime.sessions) as s:
        now = db_now(s)
        won = rowcount(s.execute(
            update(RunbookRun)
            .where(RunbookRun.id == run_id,
                   or_(RunbookRun.lease_owner.is_(None), RunbookRun.lease_until < now,
                       RunbookRun.lease_owner == owner))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=LEASE_SECONDS))
        ))
    return bool(won == 1)


class _Heartbeat:
    """Renews a run's lease every `HEARTBEAT_EVERY` seconds, from a thread of its own, for as long
    as its holder works on the run (a diagnosis or a mitigation's call may take minutes); stops
    when the lease was taken over meanwhile (the holder then stops at its next step)."""

    def __init__(self, runtime: Runtime, run_id: int, owner: str) -> None:
        self.runtime, self.run_id, self.owner = runtime, run_id, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"run-lease-{run_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            try:
                with transaction(self.runtime.sessions) as s:
                    kept = rowcount(s.execute(
                        update(RunbookRun).where(RunbookRun.id == self.run_id, RunbookRun.lease_owner == self.owner)
                        .values(lease_until=db_now(s) + timedelta(seconds=LEASE_SECONDS))))
            except Exception as exc:  # the database is unreachable for a moment: try again at the next beat
                log.warning("runbook run %s: renewing its lease failed (%s); retrying", self.run_id,
                            type(exc).__name__)
                continue
            if kept != 1:
                log.warning("runbook run %s: its lease was taken over; this process stops advancing it", self.run_id)
                return


def _release(runtime: Runtime, run_id: int, owner: str) -> None:
    with transaction(runtime.sessions) as s:
        s.execute(update(RunbookRun).where(RunbookRun.id == run_id, RunbookRun.lease_owner == owner)
                  .values(lease_owner=None, lease_until=None))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_dead_leases(runtime: Runtime) -> int:
    """Free leases held by processes of this host that no longer exist (killed, crashed)."""
    cleared = 0
    with transaction(runtime.sessions) as s:
        for run in s.scalars(select(RunbookRun).where(RunbookRun.lease_owner.is_not(None))):
            host, _, rest = (run.lease_owner or "").partition(":")
            pid_text = rest.split(":", 1)[0]
            if host == HOST and pid_text.isdigit() and int(pid_text) != os.getpid() \
                    and not _pid_alive(int(pid_text)):
                run.lease_owner = None
                run.lease_until = None
                cleared += 1
    return cleared


def reconcile_interrupted(runtime: Runtime) -> list[int]:
    """Mitigations a dead process left claimed, executing or reverting: settle them without calling
    the action (or its revert) again.

    Those a live replica (or thread) is carrying hold their lock (`runbooks.ownership`) and are
    left alone; returns the ids that were settled here."""
    with transaction(runtime.sessions) as s:
        pending = [(m.id, m.status, escalate_to_of(s, m.id)) for m in s.scalars(
            select(Mitigation).where(Mitigation.status.in_(("approved", "executing", "reverting"))))]
    settled = []
    for mitigation_id, seen, escalate_to in pending:
        if ownership.held_here(mitigation_id):
            continue
        if mitigations.reconcile(runtime, mitigation_id, escalate_to=escalate_to) != seen:
            settled.append(mitigation_id)
    return settled


# The job a waiting run counts on, by run status: when it is neither stored nor running, the run is re-armed.
def _awaited_job(run: RunbookRun, row: RunbookStep | None) -> str | None:
    if row is None:
        return None
    if run.status == "waiting":
        return f"runbooks-wait-{run.id}-{row.step_index}"
    if run.status == "waiting_verification":
        mitigation_id = (row.output or {}).get("mitigation_id")
        return verify_job_id(int(mitigation_id)) if mitigation_id is not None else None
    return None


def _orphaned(s: Session, run: RunbookRun, now: datetime, armed: Callable[[str], bool] | None) -> bool:
    """Whether nobody will move this run on unless resumption does."""
    if run.lease_owner is not None and run.lease_until is not None and run.lease_until >= now:
        return False  # someone is advancing it
    if armed is None or run.status == "running":
        return True  # at start-up every unfinished run is picked up; a free "running" one always
    row = s.scalars(select(RunbookStep).where(RunbookStep.run_id == run.id,
                                              RunbookStep.step_index == run.current_step)).first()
    if run.status == "waiting_approval":
        # decided (executed, failed, rejected) but nobody continued the run: its continuation was lost
        m = s.get(Mitigation, row.mitigation_id) if row is not None and row.mitigation_id else None
        return m is not None and m.status not in ("proposed", "approved", "executing", "reverting")
    job = _awaited_job(run, row)
    return job is not None and not armed(job)


def resume_active(runtime: Runtime, *, armed: Callable[[str], bool] | None = None,
                  submit: Callable[[int], None] | None = None) -> list[int]:
    """Settle interrupted mitigations whose owner is gone, then pick up runs nobody is moving on.

    With ``armed`` (a job id -> "is it stored or running?" test, from the scheduler leader's
    periodic resumption), a waiting run is picked up only when the job it waits for was lost (the
    leader running it died); without, every unfinished run is (one process, at start). Each run
    changes hands by a conditional update and `advance`'s lease, so a run a live replica is
    advancing is never touched. ``submit`` hands each run to a worker (default: advance it here).
    """
    clear_dead_leases(runtime)
    reconcile_interrupted(runtime)
    ids = []
    with transaction(runtime.sessions) as s:
        now = db_now(s)
        runs = list(s.scalars(select(RunbookRun).where(RunbookRun.status.in_(RUN_ACTIVE))))
        picked = [(run.id, run.status) for run in runs if _orphaned(s, run, now, armed)]
    for run_id, seen in picked:
        # Waiting steps re-arm their (idempotent, same-id) jobs; nothing is repeated.
        with transaction(runtime.sessions) as s:
            moved = rowcount(s.execute(
                update(RunbookRun)
                .where(RunbookRun.id == run_id, RunbookRun.status == seen,
                       or_(RunbookRun.lease_owner.is_(None), RunbookRun.lease_until < now))
                .values(status="running")))
        if moved == 1:
            ids.append(run_id)
    if ids:
        log.info("runbooks: resuming run(s) %s", ", ".join(map(str, ids)))
    for run_id in ids:
        (submit or (lambda r: advance(runtime, r)))(run_id)
    return ids


# ---------------------------------------------------------------- the step loop

def advance(runtime: Runtime, run_id: int) -> None:
    """Run steps until the run waits, fails or completes. Safe to call from anywhere, any time."""
    owner = _new_owner()
    while True:
        if not _acquire(runtime, run_id, owner):
            return  # someone else is advancing it; they re-check the status when they let go
        try:
            with _Heartbeat(runtime, run_id, owner):
                _advance_locked(runtime, run_id, owner)
        except Exception as exc:  # a bug must not leave the run "running" forever
            log.exception("runbook run %s crashed", run_id)
            _fail_run(runtime, run_id, None, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            _release(runtime, run_id, owner)
        with transaction(runtime.sessions) as s:
            run = s.get(RunbookRun, run_id)
            if run is None or run.status != "running":
                return


def _advance_locked(runtime: Runtime, run_id: int, owner: str) -> None:
    while True:
        with transaction(runtime.sessions) as s:
            run = s.get(RunbookRun, run_id)
            if run is None or run.status != "running":
                return
            if run.lease_owner != owner:  # taken over while this process was cut off: its holder goes on
                log.warning("runbook run %s: its lease was taken over; this process stops advancing it", run_id)
                return
            run.lease_until = db_now(s) + timedelta(seconds=LEASE_SECONDS)
            rb = runbook_of(run)
            idx = run.current_step
            incident = s.get(Incident, run.incident_id)
            assert incident is not None
            if incident.status == "resolved":  # resolved by a person meanwhile: nothing left to do
                run.status = "cancelled"
                run.finished_at = utcnow()
                log_event(s, incident, "runbook_step", f"runbook {rb.name} stopped: {incident.ref} is resolved",
                          data={"run_id": run.id, "runbook": rb.name, "status": "cancelled"})
                return
            if idx >= len(rb.steps):
                run.status = "completed"
                run.finished_at = utcnow()
                log_event(s, incident, "runbook_step", f"runbook {rb.name} finished",
                          data={"run_id": run.id, "runbook": rb.name, "status": "completed"})
                return
            step = rb.steps[idx]
            row = step_row(s, run.id, idx)
            if row.status in ("done", "skipped"):  # committed before a crash; move on
                run.current_step = idx + 1
                continue
            go: bool | None = True
            error = ""
            ctx = build_context(s, incident, run.context, runbook={"name": rb.name, "description": rb.description},
                                mitigation=latest_mitigation(s, run.id, idx), catalog=runtime.catalog)
            if step.when is not None:
                try:
                    go = bool(evaluate(step.when, ctx))
                except (TemplateRefused, TemplateFailed) as exc:
                    go = None
                    error = f"steps[{idx}].when: {exc}"
                if go is None:
                    pass
                elif not go:
                    finish_step(s, run, row, status="skipped", output={"when": step.when})
                    log_event(s, incident, "runbook_step",
                              f"runbook {rb.name}: step {row.name} skipped (when: {step.when})",
                              data={"run_id": run.id, "step": idx, "name": row.name, "status": "skipped"})
                    continue
            missing = missing_catalog_data(step, ctx) if go else None
            if missing is not None:
                _skip_for_catalog(s, run, row, incident, rb.name, missing)
                continue
            row.status = "running"
            row.attempts += 1
            row.started_at = row.started_at or utcnow()
        if go is None:
            _fail_run(runtime, run_id, idx, error)
            return
        handler = _HANDLERS[step.kind]
        try:
            outcome = handler(runtime, run_id, idx, step, rb, ctx)
        except (TemplateRefused, TemplateFailed) as exc:
            _fail_run(runtime, run_id, idx, f"steps[{idx}].{step.kind}: {exc}")
            return
        except StepFailed as exc:
            _fail_run(runtime, run_id, idx, str(exc))
            return
        if outcome != "next":
            return


def _skip_for_catalog(s: Session, run: RunbookRun, row: RunbookStep, incident: Incident, runbook: str,
                      reason: str) -> None:
    """Skip a step that needs catalog data; the timeline says why once per run and reason."""
    finish_step(s, run, row, status="skipped", output={"skipped": reason})
    noted = list((run.context or {}).get("catalog_skips") or [])
    if reason in noted:
        return
    run.context = {**(run.context or {}), "catalog_skips": [*noted, reason]}
    log_event(s, incident, "runbook_step",
              f"runbook {runbook}: steps that read data or change a model are skipped: {reason}",
              data={"run_id": run.id, "step": row.step_index, "name": row.name, "status": "skipped",
                    "reason": reason})


def step_row(s: Session, run_id: int, idx: int) -> RunbookStep:
    row = s.scalars(select(RunbookStep).where(RunbookStep.run_id == run_id, RunbookStep.step_index == idx)).one()
    return row


def finish_step(s: Session, run: RunbookRun, row: RunbookStep, *, status: str = "done",
            output: dict[str, Any] | None = None) -> None:
    row.status = status
    row.finished_at = utcnow()
    if output is not None:
        row.output = output
        steps = dict((run.context or {}).get("steps") or {})
        steps[row.name] = output
        run.context = {**(run.context or {}), "steps": steps}
    run.current_step = row.step_index + 1


def _fail_run(runtime: Runtime, run_id: int, idx: int | None, error: str, *, escalated: bool = False) -> None:
    with transaction(runtime.sessions) as s:
        run = s.get(RunbookRun, run_id)
        if run is None:
            return
        incident = s.get(Incident, run.incident_id)
        assert incident is not None
        rb = runbook_of(run)
        if idx is not None:
            row = step_row(s, run_id, idx)
            row.status = "failed"
            row.error = error
            row.finished_at = utcnow()
        run.status = "failed"
        run.error = error
        run.finished_at = utcnow()
        where = f" at step {idx}" if idx is not None else ""
        log_event(s, incident, "runbook_step", f"runbook {rb.name} failed{where}: {error}",
                  data={"run_id": run_id, "step": idx, "status": "failed", "error": error})
        if not escalated:
            mitigations.escalate(s, incident, escalation_targets(incident, rb.escalate_to),
                                 f"runbook {rb.name} stopped{where}: {error}", run_id=run_id,
                                 catalog=runtime.catalog)


# ---------------------------------------------------------------- step kinds

Handler = Callable[[Runtime, int, int, Step, Runbook, dict[str, Any]], str]
_HANDLERS: dict[str, Handler] = {}


def step_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the handler of one step kind of the schema (`runbooks.schema.STEP_KINDS`)."""
    if kind not in STEP_KINDS:
        raise ValueError(f"no step kind {kind!r} in the runbook schema (kinds: {', '.join(STEP_KINDS)})")

    def register(handler: Handler) -> Handler:
        _HANDLERS[kind] = handler
        return handler

    return register


@step_handler("diagnose")
def _diagnose(runtime: Runtime, run_id: int, idx: int, step: Step, rb: Runbook, ctx: dict[str, Any]) -> str:
    body = step.diagnose
    assert body is not None
    source = render(body.log, ctx).strip()
    reference = render(body.reference, ctx).strip() if body.reference else None
    query = render(body.query, ctx) if body.query else None
    onset = render(body.onset, ctx).strip() if body.onset else None
    try:
        diagnosis = run_diagnose(runtime, ctx["incident"]["id"], open_source(source) if source else "",
                                 reference=open_source(reference) if reference else None, query=query,
                                 onset=onset or None, window=body.window, use_changes=body.use_changes,
                                 series=body.series)
    except Exception as exc:
        raise StepFailed(f"steps[{idx}].diagnose: {exc}") from exc
    with transaction(runtime.sessions) as s:
        run = s.get(RunbookRun, run_id)
        assert run is not None
        incident = s.get(Incident, run.incident_id)
        assert incident is not None
        record_diagnosis(s, incident, diagnosis)
        run.context = {**(run.context or {}), "diagnosis": diagnosis}
        finish_step(s, run, step_row(s, run_id, idx), output={
            "cause": diagnosis.get("cause"), "culprit": diagnosis.get("culprit"),
            "confidence": diagnosis.get("confidence"),
            "recommended_mitigation": diagnosis.get("recommended_mitigation")})
    return "next"


def run_diagnose(runtime: Runtime, incident_id: int, source: str, *, reference: str | None = None,
                 query: str | None = None, onset: str | None = None, window: float | None = None,
                 use_changes: bool = True, series: bool = False) -> dict[str, Any]:
    """Load the prediction log and run the diagnostics engine; returns the diagnose JSON dict.

    ``series``: the incident's catalog service is diagnosed from its Prometheus series too
    (`bot.service_diagnosis`); the dict then carries ``series_figure`` for the postmortem.
    """
    import numpy as np

    from bot.incidents import changes_in_window
    from diagnostics import ChangeRecord, diagnose
    from diagnostics.loader import load_log

    if not source and not series:
        raise ValueError("the prediction log source rendered empty")
    with transaction(runtime.sessions) as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None
        started = incident.started_at
        catalog_service = incident.catalog_service
        incident_ref = incident.ref
        changes = [
            ChangeRecord(timestamp=c.timestamp.timestamp(), kind=c.kind, service=c.service,
                         description=c.description, from_version=c.from_version, to_version=c.to_version)
            for c in changes_in_window(
                s, incident, lookback_minutes=mitigations.CHANGE_LOOKBACK_MINUTES, mitigations=False,
                services=runtime.catalog.change_scope(incident.catalog_service, incident.service))
        ] if use_changes else []
    service = runtime.catalog.get(catalog_service) if series else None
    if series and service is not None and not query:
        return _diagnose_service(runtime, service, source, changes, onset, ref=incident_ref,
                                 since=None if window is None else started.timestamp() - window,
                                 reference=reference)
    if not source:
        raise ValueError("the prediction log source rendered empty and the incident has no catalog service")
    log_data = load_log(source, query=query)
    if window is not None:
        cutoff = started.timestamp() - window
        log_data = log_data.take(np.flatnonzero(np.asarray(log_data.timestamp) >= cutoff))
    ref = load_log(reference, reference=True) if reference else None
    return diagnose(log_data, reference=ref, changes=changes, onset=onset).to_dict()


def _diagnose_service(runtime: Runtime, service: Any, source: str, changes: list[Any], onset: str | None,
                      since: float | None, ref: str, reference: str | None = None) -> dict[str, Any]:
    from bot.service_diagnosis import diagnose_service_full
    from diagnostics.engine import to_epoch

    diagnosis, figure = diagnose_service_full(
        service, prometheus_url=runtime.settings.prometheus_url, log=source or None, log_from_catalog=False,
        changes=changes, onset=to_epoch(onset) if onset else None, log_since=since, reference=reference)
    out = diagnosis.to_dict()
    if figure is not None:
        png = draw_series_figure(runtime, ref, figure, f"{diagnosis.culprit_kind} {diagnosis.culprit_name}".strip())
        out["series_figure"] = {**figure, **({"png": str(png)} if png is not None else {})}
    return out


def draw_series_figure(runtime: Runtime, ref: str, figure: dict[str, Any], culprit: str) -> Path | None:
    """The figure the incident card shows (uploaded by the chat), beside the incident's postmortem
    files; a figure that cannot be drawn costs the card its picture, never the diagnosis."""
    from diagnostics.series_figure import draw_png

    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    path = Path(runtime.settings.postmortem_dir) / ref / f"{ref}-diagnosis-{stamp}-series.png"
    named = culprit if not culprit.startswith("none") else "nothing moved beyond its usual range"
    try:
        return draw_png(figure, f"{ref}: the service's series around the onset ({named})", path).resolve()
    except Exception:
        log.exception("%s: the series figure could not be drawn", ref)
        return None


@step_handler("notify")
def _notify(runtime: Runtime, run_id: int, idx: int, step: Step, rb: Runbook, ctx: dict[str, Any]) -> str:
    assert step.notify is not None
    text = render(step.notify.message, ctx).strip()
    with transaction(runtime.sessions) as s:
        run = s.get(RunbookRun, run_id)
        assert run is not None
        incident = s.get(Incident, run.incident_id)
        assert incident is not None
        log_event(s, incident, "notify", text, data={"text": text, "run_id": run_id, "step": idx})
        finish_step(s, run, step_row(s, run_id, idx), output={"text": text})
    return "next"


@step_handler("escalate")
def _escalate(runtime: Runtime, run_id: int, idx: int, step: Step, rb: Runbook, ctx: dict[str, Any]) -> str:
    assert step.escalate is not None
    who = [render(w, ctx).strip() for w in step.escalate.who]
    text = render(step.escalate.message, ctx).strip()
    with transaction(runtime.sessions) as s:
        run = s.get(RunbookRun, run_id)
        assert run is not None
        incident = s.get(Incident, run.incident_id)
        assert incident is not None
        mitigations.escalate(s, incident, who, text, run_id=run_id, step=idx, catalog=runtime.catalog)
        finish_step(s, run, step_row(s, run_id, idx), output={"who": who, "message": text})
    return "next"


def schedule(runtime: Runtime, job_id: str, when: datetime, func: str, **kwargs: Any) -> None:
    """A persisted APScheduler job when the process has a scheduler, else an in-process timer."""
    when = max(when, utcnow() + timedelta(milliseconds=200))  # past run dates would be "missed"
    scheduler = runtime.parts.get(Scheduler)
    if scheduler is not None:
        scheduler.run_at(job_id, when, func, **kwargs)
        return
    import importlib

    module_name, _, name = func.partition(":")
    target = getattr(importlib.import_module(module_name), name)
    delay = max((when - utcnow()).total_seconds(), 0.0)
    timer = threading.Timer(delay, target, kwargs={**kwargs, "runtime": runtime})
    timer.daemon = True
    timer.start()
    log.warning("no scheduler in this process: %s runs in %.0fs from an in-memory timer", job_id, delay)


@step_handler("wait")
def _wait(runtime: Runtime, run_id: int, idx: int, step: Step, rb: Runbook, ctx: dict[str, Any]) -> str:
    assert step.wait is not None
    with transaction(runtime.sessions) as s:
        run = s.get(RunbookRun, run_id)
        assert run is not None
        row = step_row(s, run_id, idx)
        due_text = (row.output or {}).get("due")
        due = datetime.fromisoformat(due_text) if due_text else utcnow() + timedelta(seconds=step.wait.duration)
        row.output = {"due": due.isoformat()}
        row.status = "waiting"
        run.status = "waiting"
        incident = s.get(Incident, run.incident_id)
        assert incident is not None
        if not due_text:
            log_event(s, incident, "runbook_step", f"runbook {rb.name}: waiting until {due.isoformat()}",
                      data={"run_id": run_id, "step": idx, "status": "waiting", "until": due.isoformat()})
    schedule(runtime, f"runbooks-wait-{run_id}-{idx}", due, "runbooks.jobs:resume_after_wait",
             run_id=run_id, step_index=idx)
    return "wait"


@step_handler("mitigate")
def _mitigate(runtime: Runtime, run_id: int, idx: int, step: Step, rb: Runbook, ctx: dict[str, Any]) -> str:
    body = step.mitigate
    assert body is not None
    incident_id = int(ctx["incident"]["id"])
    key = f"{incident_id}:{rb.name}:{idx}"
    with transaction(runtime.sessions) as s:
        existing = s.scalars(select(Mitigation).where(Mitigation.idempotency_key == key)).first()
        mitigation_id = existing.id if existing is not None else None
        if existing is None:
            target = render(body.target, ctx).strip()
            # Stored and planned with secrets masked; `mitigations.execution_params` renders the real ones.
            params = render_tree(body.params, {**ctx, "secrets": masked_values()})
            if not target:
                raise StepFailed(f"steps[{idx}].mitigate.target: rendered empty from {body.target!r}")
            incident = s.get(Incident, incident_id)
            assert incident is not None
            try:
                action_ctx = mitigations.action_context(runtime, s, incident, body.action, target, params)
            except ActionError as exc:
                raise StepFailed(f"steps[{idx}].mitigate.params: {exc}") from exc
    if mitigation_id is None:
        plan: dict[str, Any] = {}
        plan_error: str | None = None
        try:
            plan = get_action(body.action).plan(action_ctx)
        except ActionError as exc:
            plan_error = str(exc)
        except Exception as exc:
            log.exception("planning %s failed", body.action)
            plan_error = f"unexpected error: {type(exc).__name__}: {exc}"
        try:
            with transaction(runtime.sessions) as s:
                run = s.get(RunbookRun, run_id)
                incident = s.get(Incident, incident_id)
                assert run is not None and incident is not None
                approval, policy_note = _approval_by_policy(body.approval, body.action, ctx.get("service"))
                m = Mitigation(incident_id=incident_id, idempotency_key=key, action=body.action, target=target,
                               params=params, approval=approval, plan=plan,
                               status="failed" if plan_error else "proposed", error=plan_error)
                s.add(m)
                s.flush()
                row = step_row(s, run_id, idx)
                row.mitigation_id = m.id
                mitigation_id = m.id
                if plan_error:
                    log_event(s, incident, "mitigation_failed",
                              f"mitigation {body.action} {target} cannot be planned: {plan_error}",
                              data={"mitigation_id": m.id, "action": body.action, "target": target,
                                    "error": plan_error, "during": "plan"})
                    mitigations.escalate(
                        s, incident, escalation_targets(incident, rb.escalate_to),
                        f"runbook {rb.name} could not prepare {body.action} of {target}: {plan_error}. "
                        "Nothing was changed.", mitigation_id=m.id, run_id=run_id, catalog=runtime.catalog)
                else:
                    how = "runs at once (approval: auto)" if approval == "auto" else "awaits approval"
                    how += policy_note
                    log_event(s, incident, "mitigation_proposed",
                              f"mitigation {m.id} proposed: {plan.get('summary', body.action)}; {how}",
                              data={"mitigation_id": m.id, "action": body.action, "target": target, "plan": plan,
                                    "approval": approval, "run_id": run_id})
        except IntegrityError:  # the same step proposed it concurrently: use that one
            with transaction(runtime.sessions) as s:
                found = s.scalars(select(Mitigation).where(Mitigation.idempotency_key == key)).one()
                mitigation_id = found.id
                step_row(s, run_id, idx).mitigation_id = found.id
    assert mitigation_id is not None
    return _settle_mitigation_step(runtime, run_id, idx, mitigation_id, rb)


def _approval_by_policy(asked: str, action: str, service: dict[str, Any] | None) -> tuple[str, str]:
    """A runbook's ``approval: auto`` holds only for actions the service's catalog entry auto-approves."""
    if asked != "auto":
        return asked, ""
    if service is not None and action in (service.get("auto_approve") or []):
        return "auto", ""
    name = service["name"] if service is not None else "this incident's service"
    return "required", f" (the runbook says approval: auto, but {name} does not list {action} in auto_approve)"


def _settle_mitigation_step(runtime: Runtime, run_id: int, idx: int, mitigation_id: int, rb: Runbook) -> str:
    with transaction(runtime.sessions) as s:
        m = mitigations.get_mitigation(s, mitigation_id)
        status, approval = m.status, m.approval
    if status == "proposed" and approval == "auto":
        with contextlib.suppress(mitigations.MitigationConflict):  # a concurrent resume claimed it
            mitigations.claim_and_execute(runtime, mitigation_id, f"runbook:{rb.name}", auto=True,
                                          escalate_to=rb.escalate_to)
    # "approved"/"executing": another thread or replica is executing it right now (one that died
    # half-way is settled by `resume_active` on the scheduler leader), so just wait for it.
    with transaction(runtime.sessions) as s:
        run = s.get(RunbookRun, run_id)
        assert run is not None
        row = step_row(s, run_id, idx)
        m = mitigations.get_mitigation(s, mitigation_id)
        if m.status == "proposed":
            row.status = "waiting"
            run.status = "waiting_approval"
            return "wait"
        if m.status in ("approved", "executing", "reverting"):  # another thread is on it
            row.status = "waiting"
            run.status = "waiting_approval"
            return "wait"
        if m.status == "failed":
            row.status = "failed"
            row.error = m.error
            row.finished_at = utcnow()
            run.status = "failed"
            run.error = m.error
            run.finished_at = utcnow()
            return "failed"  # already on the timeline and escalated
        finish_step(s, run, row, output={"mitigation_id": m.id, "action": m.action, "target": m.target,
                                     "status": m.status, "before": m.before, "after": m.after})
        return "next"


@step_handler("verify")
def _verify(runtime: Runtime, run_id: int, idx: int, step: Step, rb: Runbook, ctx: dict[str, Any]) -> str:
    body = step.verify
    assert body is not None
    with transaction(runtime.sessions) as s:
        run = s.get(RunbookRun, run_id)
        assert run is not None
        incident = s.get(Incident, run.incident_id)
        assert incident is not None
        row = step_row(s, run_id, idx)
        m = latest_mitigation(s, run_id, idx)
        if m is None or m.status != "executed":
            why = "no mitigation was executed" if m is None else f"mitigation {m.id} is {m.status}"
            finish_step(s, run, row, status="skipped", output={"skipped": why})
            log_event(s, incident, "runbook_step", f"runbook {rb.name}: verification skipped ({why})",
                      data={"run_id": run_id, "step": idx, "status": "skipped"})
            return "next"
        attempt = int((row.output or {}).get("attempt", 1))
        due_text = (row.output or {}).get("due")
        due = datetime.fromisoformat(due_text) if due_text else mitigations.due_after(m, body.after)
        first_time = not due_text
        row.output = {"attempt": attempt, "due": due.isoformat(), "mitigation_id": m.id}
        row.status = "waiting"
        run.status = "waiting_verification"
        mitigation_id = m.id
        if first_time:
            log_event(s, incident, "runbook_step",
                      f"runbook {rb.name}: verification of mitigation {m.id} at {due.isoformat()}",
                      data={"run_id": run_id, "step": idx, "status": "waiting", "until": due.isoformat(),
                            "mitigation_id": m.id})
    schedule(runtime, verify_job_id(mitigation_id), due, "runbooks.jobs:verify_mitigation",
             mitigation_id=mitigation_id, run_id=run_id, step_index=idx, attempt=attempt)
    return "wait"


def verify_job_id(mitigation_id: int) -> str:
    return f"runbooks-verify-{mitigation_id}"


_unhandled = set(STEP_KINDS) - set(_HANDLERS)
if _unhandled:  # a kind added to the schema without its handler: refuse to run any runbook
    raise RuntimeError(f"runbook step kinds without a handler: {', '.join(sorted(_unhandled))}")


# ---------------------------------------------------------------- continuing after outside events

def continue_after_decision(runtime: Runtime, mitigation_id: int) -> int | None:
    """After an approval or rejection: wake the run that waits on this mitigation."""
    with transaction(runtime.sessions) as s:
        row = run_step_of(s, mitigation_id)
        if row is None:
            return None
        run = s.get(RunbookRun, row.run_id)
        if run is None or run.status not in ("waiting_approval", "running"):
            return None
        # "running": another thread is advancing it; advance() below then finds the lease taken,
        # and that thread settles the step with the mitigation's new status.
        run.status = "running"
        run_id = run.id
    advance(runtime, run_id)
    return run_id


def step_path(idx: int, *rest: str | int) -> str:
    return format_loc(("steps", idx, *rest))
