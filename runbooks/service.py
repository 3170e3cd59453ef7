"""What the other domains call (Slack buttons and commands, the API, the CLI).

Every function takes the `Runtime`, records what it did on the incident timeline and raises
`MitigationError` (or `RunbookServiceError`) with a message fit for a person when it cannot
do what was asked. None of them talks to chat: the chat adapter renders the timeline.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.catalog import Service
from bot.db import transaction
from bot.incidents import get_incident, log_event, record_diagnosis
from bot.models import Incident, Mitigation
from bot.runtime import Runtime
from runbooks import executor, mitigations, runs
from runbooks.actions import ACTIONS, ActionError, get_action, hand_proposable
from runbooks.engine import RunbookEngine
from runbooks.mitigations import MitigationConflict, MitigationError, MitigationNotFound
from runbooks.models import RunbookRun
from runbooks.schema import Runbook
from runbooks.sources import open_source

__all__ = [
    "MitigationConflict", "MitigationError", "MitigationNotFound", "RunbookServiceError",
    "approve_mitigation", "plan_mitigation", "propose_mitigation", "reject_mitigation", "revert_mitigation",
    "run_diagnosis",
]


class RunbookServiceError(Exception):
    """A runbook request that cannot be served (no runbook applies, no data source...)."""


def _engine(runtime: Runtime) -> Any:
    return runtime.parts.get(RunbookEngine)


def _continue_in_background(runtime: Runtime, mitigation_id: int) -> None:
    engine = _engine(runtime)
    if engine is not None and getattr(engine, "started", False):
        engine.submit(executor.continue_after_decision, runtime, mitigation_id)
    else:
        executor.continue_after_decision(runtime, mitigation_id)


def incident_service(runtime: Runtime, incident: Incident) -> Service:
    """The catalog entry of the incident's service; what any action on it reads or changes."""
    service = runtime.catalog.get(incident.catalog_service)
    if service is None:
        raise RunbookServiceError(
            f"{incident.ref}: service {incident.service!r} is not in the service catalog, so mlresponder has "
            "nothing to read or change for it (add it to MLRESPONDER_CATALOG)")
    return service


def _target_of(runtime: Runtime, incident: Incident, target: str | None) -> str:
    """The registered model of the incident's service; a person may name it, never another one."""
    try:
        service = incident_service(runtime, incident)
    except RunbookServiceError as exc:
        raise MitigationError(str(exc)) from None
    if service.model is None:
        raise MitigationError(f"{incident.ref}: service {service.name!r} has no model in the catalog")
    if target and target != service.model.registry:
        raise MitigationError(f"{incident.ref}: {target!r} is not the model of service {service.name!r} "
                              f"({service.model.registry!r}); mitigations act only on the incident's service")
    return service.model.registry


def run_diagnosis(runtime: Runtime, incident_id: int | str, actor: str) -> dict[str, Any]:
    """Diagnose an incident from its catalog service's prediction log and, when the catalog names its
    Prometheus series and a Prometheus is configured, from those series too; records and returns it.

    A person who clicks "Run diagnosis" on a latency incident expects what the runbook would read:
    a service with series but no prediction log is diagnosed from its series, not refused.
    The window and options come from the matching runbook's diagnose step when there is one.
    """
    from runbooks.loader import LoadedRunbook

    with transaction(runtime.sessions) as s:
        incident = get_incident(s, incident_id)
        service = incident_service(runtime, incident)
        series = bool(service.series()) and bool(runtime.settings.prometheus_url)
        if not service.prediction_log and not series:
            raise RunbookServiceError(
                f"{incident.ref}: service {service.name!r} has no prediction_log in the catalog"
                + (" and no Prometheus is configured for its series" if service.series() else " and no metrics")
                + ", so there is nothing to diagnose")
        run_rows = list(s.scalars(select(RunbookRun).where(RunbookRun.incident_id == incident.id)))
        candidates: list[Runbook] = [runs.runbook_of(r) for r in run_rows]
        engine = _engine(runtime)
        if engine is not None:
            matched: LoadedRunbook | None = engine.match_incident(incident)
            if matched is not None:
                candidates.append(matched.runbook)
        step = next((st.diagnose for rb in candidates for st in rb.steps if st.diagnose is not None), None)
        number = incident.id
    try:
        source = open_source(service.prediction_log) if service.prediction_log else ""
        reference = open_source(service.reference) if service.reference else None
        diagnosis = executor.run_diagnose(
            runtime, number, source, reference=reference,
            window=step.window if step else None, use_changes=step.use_changes if step else True,
            series=series)
    except Exception as exc:
        with transaction(runtime.sessions) as s:
            log_event(s, get_incident(s, number), "runbook_step", f"diagnosis requested by {actor} failed: {exc}",
                      actor=actor, data={"status": "failed", "error": str(exc)})
        raise RunbookServiceError(f"diagnosis of INC-{number} failed: {exc}") from exc
    with transaction(runtime.sessions) as s:
        record_diagnosis(s, get_incident(s, number), diagnosis, actor=actor)
    return diagnosis


def plan_mitigation(runtime: Runtime, incident_id: int | str, action: str, target: str | None = None,
                    params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Dry run: what the action would change for this incident, recording nothing."""
    if action not in ACTIONS:
        raise MitigationError(f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
    with transaction(runtime.sessions) as s:
        incident = get_incident(s, incident_id)
        chosen = _target_of(runtime, incident, target)
        try:
            ctx = mitigations.action_context(runtime, s, incident, action, chosen, params or {})
        except ActionError as exc:
            raise MitigationError(str(exc)) from exc
    try:
        return get_action(action).plan(ctx)
    except ActionError as exc:
        raise MitigationError(f"{action} of {chosen}: {exc}") from exc


def propose_mitigation(runtime: Runtime, incident_id: int | str, action: str, actor: str,
                       target: str | None = None) -> int:
    """Propose a mitigation by hand (it still needs an approval); returns the mitigation id."""
    if action not in ACTIONS:
        raise MitigationError(f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
    if action not in hand_proposable():
        raise MitigationError(f"an {action} mitigation needs its request from a runbook; "
                              "it cannot be proposed by hand")
    with transaction(runtime.sessions) as s:
        incident = get_incident(s, incident_id)
        chosen = _target_of(runtime, incident, target)
        duplicate = mitigations.open_duplicate(s, incident.id, action, chosen)
        if duplicate is not None:
            return duplicate.id
        try:
            ctx = mitigations.action_context(runtime, s, incident, action, chosen, {})
        except ActionError as exc:
            raise MitigationError(str(exc)) from exc
        number = incident.id
    try:
        plan = get_action(action).plan(ctx)
    except ActionError as exc:
        with transaction(runtime.sessions) as s:
            log_event(s, get_incident(s, number), "mitigation_failed",
                      f"{action} of {chosen} proposed by {actor} cannot be planned: {exc}", actor=actor,
                      data={"mitigation_id": None, "action": action, "target": chosen, "error": str(exc),
                            "during": "plan"})
        raise MitigationError(f"{action} of {chosen}: {exc}") from exc
    try:
        with transaction(runtime.sessions) as s:
            incident = get_incident(s, number)
            m = Mitigation(incident_id=number, idempotency_key=f"{number}:manual:{uuid.uuid4().hex[:16]}",
                           action=action, target=chosen, params={}, approval="required", plan=plan,
                           status="proposed")
            s.add(m)
            s.flush()
            log_event(s, incident, "mitigation_proposed",
                      f"mitigation {m.id} proposed by {actor}: {plan.get('summary', action)}; awaits approval",
                      actor=actor, data={"mitigation_id": m.id, "action": action, "target": chosen, "plan": plan,
                                         "approval": "required"})
            return m.id
    except IntegrityError as exc:  # pragma: no cover - random keys do not collide
        raise MitigationError(f"could not record the proposal: {exc}") from exc


def approve_mitigation(runtime: Runtime, mitigation_id: int, actor: str) -> dict[str, Any]:
    """Approve and execute once. A second, concurrent approval gets MitigationConflict."""
    with transaction(runtime.sessions) as s:
        m = mitigations.get_mitigation(s, mitigation_id)
        escalate_to = runs.escalate_to_of(s, m.id)
    mitigations.claim_and_execute(runtime, mitigation_id, actor, escalate_to=escalate_to)
    _continue_in_background(runtime, mitigation_id)
    with transaction(runtime.sessions) as s:
        return mitigations.mitigation_to_dict(mitigations.get_mitigation(s, mitigation_id))


def reject_mitigation(runtime: Runtime, mitigation_id: int, actor: str, reason: str | None = None) -> dict[str, Any]:
    mitigations.reject(runtime, mitigation_id, actor, reason)
    _continue_in_background(runtime, mitigation_id)
    with transaction(runtime.sessions) as s:
        return mitigations.mitigation_to_dict(mitigations.get_mitigation(s, mitigation_id))


def revert_mitigation(runtime: Runtime, mitigation_id: int, actor: str) -> dict[str, Any]:
    """Undo an executed mitigation (the registry pointer goes back; a change event records it)."""
    return mitigations.revert(runtime, mitigation_id, actor)


def list_mitigations(runtime: Runtime, incident_id: int | str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    with transaction(runtime.sessions) as s:
        stmt = select(Mitigation).order_by(Mitigation.id.desc()).limit(limit)
        if incident_id is not None:
            stmt = stmt.where(Mitigation.incident_id == get_incident(s, incident_id).id)
        return [mitigations.mitigation_to_dict(m) for m in s.scalars(stmt)]


def get_mitigation(runtime: Runtime, mitigation_id: int) -> dict[str, Any]:
    with transaction(runtime.sessions) as s:
        return mitigations.mitigation_to_dict(mitigations.get_mitigation(s, mitigation_id))


