"""Mitigation rows through their lifecycle: plan, claim, execute, reconcile, revert.

Every state change is a conditional UPDATE on the mitigation row (``... WHERE status = 'proposed'``),
so two approvals arriving together, or a retry after a crash, cannot execute the same mitigation
twice: exactly one transaction wins the claim. The external change (a registry call) happens
between two committed states, ``executing`` before and ``executed`` after; a process that dies
in between leaves ``executing``, which `reconcile` settles by observing the target instead of
calling the action again. Each executed (or reverted) mitigation writes an audit record, a
timeline event and a change event in the same transaction.

Outcomes are fenced. A claim into ``executing`` or ``reverting`` increments the row's
``attempt``, and the process that made it writes its outcome only while the row still holds that
status and attempt (`_settle`). A process that lost its claim while it kept running (its database
session, and with it the mitigation's lock, dropped; another replica settled the mitigation) is
refused when its late outcome arrives: the refusal is a ``mitigation_stale`` event on the
timeline, the settled record stands.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func as sa_func
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.catalog import Catalog
from bot.db import transaction, utcnow
from bot.egress import EgressPolicy
from bot.incidents import (
    IllegalTransition,
    audit,
    change_to_dict,
    changes_in_window,
    escalation_targets,
    log_event,
    transition,
)
from bot.incidents import escalate as record_escalation
from bot.models import TRANSITIONS, ChangeEvent, Incident, Mitigation
from bot.runtime import Runtime
from runbooks.actions import ActionContext, ActionError, get_action
from runbooks.context import incident_view
from runbooks.ownership import owning
from runbooks.registry import registry_for

log = logging.getLogger(__name__)

ENGINE_ACTOR = "mlresponder"
EXECUTED_STATES = ("executed", "verified", "failed_verification")
CHANGE_LOOKBACK_MINUTES = 7 * 24 * 60


class MitigationError(Exception):
    """A mitigation request that cannot be honoured; the message says why."""


class MitigationNotFound(MitigationError):
    pass


class MitigationConflict(MitigationError):
    """Someone else already approved, rejected, executed or reverted it."""


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE (the claim succeeded when it is 1)."""
    return int(result.rowcount)


def get_mitigation(session: Session, mitigation_id: int) -> Mitigation:
    m = session.get(Mitigation, int(mitigation_id))
    if m is None:
        raise MitigationNotFound(f"no mitigation {mitigation_id}")
    return m


OWNERS = "owners"


def escalate(session: Session, incident: Incident, who: list[str], message: str, *, catalog: Catalog,
             **data: Any) -> None:
    """An escalation on the timeline; ``owners`` means the catalog owners of the incident's service:
    their Slack user group or user (mentioned by the chat) and, with a routing key, a PagerDuty page."""
    service = catalog.get(incident.catalog_service)
    resolved: list[str] = []
    page: dict[str, Any] | None = None
    for name in who:
        if name != OWNERS:
            resolved.append(name)
        elif service is None:
            resolved.append(f"owners of {incident.service} (not in the service catalog)")
        else:
            resolved.append(service.owners.slack or f"owners of {service.name} (no owners.slack in the catalog)")
            if service.owners.pagerduty_routing_key:
                page = {"service": service.name}
    resolved = list(dict.fromkeys(resolved))
    extra: dict[str, Any] = {"page": page} if page else {}
    record_escalation(session, incident, resolved, message, **extra, **data)


def action_context(runtime: Runtime, session: Session, incident: Incident, action_name: str,
                   target: str, params: dict[str, Any]) -> ActionContext:
    action = get_action(action_name)
    try:
        parsed = action.Params.model_validate(params)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ActionError(f"{action_name}: params.{where}: {first['msg']}") from exc
    # Deploys of the incident's service and its dependencies; mlresponder's own mitigations are not deploys.
    changes = changes_in_window(session, incident, lookback_minutes=CHANGE_LOOKBACK_MINUTES, mitigations=False,
                                services=runtime.catalog.change_scope(incident.catalog_service, incident.service))
    return ActionContext(
        target=target, params=parsed, registry=lambda: registry_for(runtime),
        incident=incident_view(incident), diagnosis=incident.diagnosis,
        changes=[change_to_dict(c) for c in changes],
        egress=EgressPolicy.parse(runtime.settings.egress_allow),
    )


def plan(runtime: Runtime, session: Session, incident: Incident, action_name: str, target: str,
         params: dict[str, Any]) -> dict[str, Any]:
    """Dry run: what the action would change. Raises ActionError with a readable reason."""
    ctx = action_context(runtime, session, incident, action_name, target, params)
    return get_action(action_name).plan(ctx)


def execution_params(session: Session, m: Mitigation, catalog: Catalog | None = None) -> dict[str, Any]:
    """The parameters to execute with: a runbook step's params rendered again, now with the secrets."""
    from bot.secrets import secret_values
    from runbooks.context import build_context
    from runbooks.models import RunbookRun
    from runbooks.runs import latest_mitigation, run_step_of, runbook_of
    from runbooks.templating import render_tree

    row = run_step_of(session, m.id)
    run = session.get(RunbookRun, row.run_id) if row is not None else None
    if row is None or run is None:
        return dict(m.params)
    rb = runbook_of(run)
    body = rb.steps[row.step_index].mitigate
    if body is None:
        return dict(m.params)
    ctx = build_context(session, m.incident, run.context, runbook={"name": rb.name, "description": rb.description},
                        mitigation=latest_mitigation(session, run.id, row.step_index), catalog=catalog)
    return dict(render_tree(body.params, {**ctx, "secrets": secret_values()}))


def _ctx_for(runtime: Runtime, mitigation_id: int) -> tuple[ActionContext, dict[str, Any], str]:
    with transaction(runtime.sessions) as s:
        m = get_mitigation(s, mitigation_id)
        params = execution_params(s, m, runtime.catalog)
        return action_context(runtime, s, m.incident, m.action, m.target, params), dict(m.plan), m.action


def claim(runtime: Runtime, mitigation_id: int, actor: str, *, auto: bool = False) -> None:
    """proposed → approved for exactly one caller; the others get MitigationConflict."""
    with transaction(runtime.sessions) as s:
        pending = get_mitigation(s, mitigation_id)
        if pending.incident.status == "resolved" and pending.status == "proposed":
            raise MitigationError(f"{pending.incident.ref} is resolved; mitigation {pending.id} is no longer "
                                  "needed (reopen the incident to act on it)")
        won = rowcount(s.execute(
            update(Mitigation)
            .where(Mitigation.id == int(mitigation_id), Mitigation.status == "proposed")
            .values(status="approved", approved_by=actor, approved_at=utcnow())
        ))
        if won != 1:
            raise MitigationConflict(f"{_state_phrase(get_mitigation(s, mitigation_id))}; nothing to approve")
        m = get_mitigation(s, mitigation_id)
        s.refresh(m)
        how = "auto-approved by the runbook" if auto else f"approved by {actor}"
        log_event(s, m.incident, "mitigation_approved", f"mitigation {m.id} ({m.action} {m.target}) {how}",
                  actor=actor, data={"mitigation_id": m.id, "action": m.action, "target": m.target,
                                     "auto": auto})
        audit(s, actor, "mitigation.approve", f"mitigation {m.id}: {m.action} {m.target}",
              incident_id=m.incident_id, detail={"auto": auto, "plan": m.plan})


def _state_phrase(m: Mitigation) -> str:
    """Where a mitigation stands, for the person whose click came second."""
    by = f" by {m.approved_by}" if m.approved_by else ""
    phrases = {
        "approved": f"already approved{by}", "executing": f"already approved{by} and executing",
        "executed": f"already executed (approved{by})", "verified": f"already executed (approved{by}) and verified",
        "failed_verification": f"already executed (approved{by})", "rejected": "already rejected",
        "reverting": "being reverted", "reverted": f"already reverted by {m.reverted_by}",
        "failed": f"already failed: {m.error}",
    }
    return f"mitigation {m.id} is {phrases.get(m.status, m.status)}"


def reject(runtime: Runtime, mitigation_id: int, actor: str, reason: str | None = None) -> None:
    with transaction(runtime.sessions) as s:
        won = rowcount(s.execute(
            update(Mitigation)
            .where(Mitigation.id == int(mitigation_id), Mitigation.status == "proposed")
            .values(status="rejected", error=reason)
        ))
        m = get_mitigation(s, mitigation_id)
        if won != 1:
            raise MitigationConflict(f"{_state_phrase(m)}; it cannot be rejected")
        s.refresh(m)
        log_event(s, m.incident, "mitigation_rejected",
                  f"mitigation {m.id} ({m.action} {m.target}) rejected by {actor}"
                  + (f": {reason}" if reason else ""),
                  actor=actor, data={"mitigation_id": m.id, "reason": reason})
        audit(s, actor, "mitigation.reject", f"mitigation {m.id}: {m.action} {m.target}",
              incident_id=m.incident_id, detail={"reason": reason})


# A claim on a mitigation: the status it was claimed into and the attempt (fencing token) of that claim.
Claim = tuple[str, int]


def _claim(s: Session, mitigation_id: int, from_states: tuple[str, ...], to: str, **values: Any) -> Claim | None:
    """Move the row from one of ``from_states`` to ``to`` under a new attempt; None when it is elsewhere."""
    won = rowcount(s.execute(
        update(Mitigation).where(Mitigation.id == int(mitigation_id), Mitigation.status.in_(from_states))
        .values(status=to, attempt=Mitigation.attempt + 1, **values)
        .execution_options(synchronize_session=False)
    ))
    if won != 1:
        return None
    m = get_mitigation(s, mitigation_id)
    s.refresh(m)
    return to, m.attempt


def claim_of(s: Session, mitigation_id: int) -> Claim:
    """The claim a mitigation is held under now (what a process settling it in place of a dead one writes against)."""
    m = get_mitigation(s, mitigation_id)
    s.refresh(m)
    return m.status, m.attempt


def _settle(s: Session, mitigation_id: int, claim: Claim, **values: Any) -> Mitigation | None:
    """Write an outcome only while the row still holds ``claim``; None (nothing written) when another
    process settled it meanwhile."""
    status, attempt = claim
    won = rowcount(s.execute(
        update(Mitigation)
        .where(Mitigation.id == int(mitigation_id), Mitigation.status == status, Mitigation.attempt == attempt)
        .values(**values).execution_options(synchronize_session=False)
    ))
    m = get_mitigation(s, mitigation_id)
    s.refresh(m)
    return m if won == 1 else None


def _refused(s: Session, m: Mitigation, claim: Claim, outcome: str, **detail: Any) -> None:
    """A late outcome of a claim that was lost: on the timeline and in the audit log, never applied."""
    what = "revert" if claim[0] == "reverting" else "execution"
    message = (f"late outcome of mitigation {m.id} ({m.action} {m.target}) refused: its {what} (attempt {claim[1]}) "
               f"reported {outcome}, but the process carrying it had lost its claim and the mitigation was "
               f"settled meanwhile (it is {m.status}, attempt {m.attempt}); the record stands, check the target")
    log.warning("%s", message)
    log_event(s, m.incident, "mitigation_stale", message,
              data={"mitigation_id": m.id, "action": m.action, "target": m.target, "claim": claim[0],
                    "attempt": claim[1], "outcome": outcome, "status": m.status, "current_attempt": m.attempt,
                    **detail})
    audit(s, m.approved_by or ENGINE_ACTOR, f"mitigation.{'revert' if what == 'revert' else 'execute'}",
          f"mitigation {m.id}: {m.action} {m.target}", outcome="refused", incident_id=m.incident_id,
          detail={"attempt": claim[1], "outcome": outcome, "status": m.status, **detail})


def _record_failure(runtime: Runtime, mitigation_id: int, claim: Claim, error: str, *,
                    escalate_to: list[str] | None, during: str = "execute") -> None:
    with transaction(runtime.sessions) as s:
        m = _settle(s, mitigation_id, claim, status="failed", error=error)
        if m is None:
            _refused(s, get_mitigation(s, mitigation_id), claim, f"failure ({error})", error=error)
            return
        log_event(s, m.incident, "mitigation_failed", f"mitigation {m.id} ({m.action} {m.target}) failed: {error}",
                  data={"mitigation_id": m.id, "action": m.action, "target": m.target, "error": error,
                        "during": during})
        audit(s, m.approved_by or ENGINE_ACTOR, "mitigation.execute", f"mitigation {m.id}: {m.action} {m.target}",
              outcome="failed", incident_id=m.incident_id, detail={"error": error, "plan": m.plan})
        escalate(s, m.incident, escalation_targets(m.incident, escalate_to),
                 f"mitigation {m.id} ({m.action} {m.target}) failed: {error}. Nothing was changed by it; "
                 "the incident needs a person.", mitigation_id=m.id, catalog=runtime.catalog)


def _version_change(session: Session, m: Mitigation, before: dict[str, Any], after: dict[str, Any],
                    description: str) -> None:
    action = get_action(m.action)
    session.add(ChangeEvent(
        timestamp=utcnow(), kind="model_deploy" if action.changes_model_version else "config_change",
        service=m.incident.catalog_service or m.target, description=description,
        from_version=None if before.get("version") is None else str(before["version"]),
        to_version=None if after.get("version") is None else str(after["version"]),
        origin="mitigation", mitigation_id=m.id,
        data={"incident": m.incident.ref, "action": m.action},
    ))


def move_incident(session: Session, incident: Incident, to_status: str, note: str) -> None:
    if incident.status != to_status and to_status in TRANSITIONS.get(incident.status, ()):
        try:
            transition(session, incident, to_status, actor=ENGINE_ACTOR, note=note)
        except IllegalTransition:  # raced with a person moving it; their word stands
            log.info("incident %s not moved to %s", incident.ref, to_status)


def _record_success(runtime: Runtime, mitigation_id: int, claim: Claim, before: dict[str, Any],
                    after: dict[str, Any], note: str = "") -> bool:
    """Record the execution (False: refused, the claim was lost meanwhile)."""
    with transaction(runtime.sessions) as s:
        m = _settle(s, mitigation_id, claim, status="executed", executed_at=utcnow(), before=before, after=after)
        if m is None:
            _refused(s, get_mitigation(s, mitigation_id), claim, "success", before=before, after=after)
            return False
        summary = m.plan.get("summary", f"{m.action} {m.target}")
        log_event(s, m.incident, "mitigation_executed", f"mitigation {m.id} executed: {summary}{note}",
                  actor=m.approved_by or ENGINE_ACTOR,
                  data={"mitigation_id": m.id, "action": m.action, "target": m.target, "before": before,
                        "after": after, "approved_by": m.approved_by})
        audit(s, m.approved_by or ENGINE_ACTOR, "mitigation.execute", f"mitigation {m.id}: {m.action} {m.target}",
              incident_id=m.incident_id,
              detail={"approved_by": m.approved_by,
                      "approved_at": m.approved_at.isoformat() if m.approved_at else None,
                      "target": m.target, "before": before, "after": after})
        _version_change(s, m, before, after, f"mitigation {m.id} ({m.action}) for {m.incident.ref}: {summary}")
        move_incident(s, m.incident, "mitigating", f"mitigation {m.id} executed")
    return True


def execute(runtime: Runtime, mitigation_id: int, *, escalate_to: list[str] | None = None) -> str:
    """Run an approved mitigation once; returns its final status ("executed" or "failed").

    Holds the mitigation's lock (`runbooks.ownership`) from before ``executing`` is committed
    until the outcome is: a live replica's mitigation is never settled by another one. When
    someone else holds it, nothing is done and the current status is returned."""
    with owning(runtime, mitigation_id) as mine:
        if not mine:
            with transaction(runtime.sessions) as s:
                return get_mitigation(s, mitigation_id).status
        return _execute_owned(runtime, mitigation_id, escalate_to)


def claim_and_execute(runtime: Runtime, mitigation_id: int, actor: str, *, auto: bool = False,
                      escalate_to: list[str] | None = None) -> str:
    """Approve and execute, holding the mitigation's lock from the claim on (no replica resuming
    interrupted work can mistake the freshly approved mitigation for an abandoned one)."""
    with owning(runtime, mitigation_id) as mine:
        if not mine:  # another approval (or a resumption) holds it: say where it stands
            with transaction(runtime.sessions) as s:
                m = get_mitigation(s, mitigation_id)
                phrase = (f"mitigation {m.id} is already being approved by someone else" if m.status == "proposed"
                          else _state_phrase(m))
            raise MitigationConflict(f"{phrase}; nothing to approve")
        claim(runtime, mitigation_id, actor, auto=auto)
        return execute(runtime, mitigation_id, escalate_to=escalate_to)


def _execute_owned(runtime: Runtime, mitigation_id: int, escalate_to: list[str] | None) -> str:
    with transaction(runtime.sessions) as s:
        claim = _claim(s, mitigation_id, ("approved",), "executing")
        if claim is None:
            return get_mitigation(s, mitigation_id).status
    try:
        ctx, plan_, action_name = _ctx_for(runtime, mitigation_id)
        before, after = get_action(action_name).execute(ctx, plan_)
    except ActionError as exc:
        _record_failure(runtime, mitigation_id, claim, str(exc), escalate_to=escalate_to)
        return _status(runtime, mitigation_id)
    except Exception as exc:  # a bug or an unexpected client error: still fail loudly, never half-record
        log.exception("mitigation %s failed unexpectedly", mitigation_id)
        _record_failure(runtime, mitigation_id, claim, f"unexpected error: {type(exc).__name__}: {exc}",
                        escalate_to=escalate_to)
        return _status(runtime, mitigation_id)
    _record_success(runtime, mitigation_id, claim, before, after)
    return _status(runtime, mitigation_id)


def _status(runtime: Runtime, mitigation_id: int) -> str:
    with transaction(runtime.sessions) as s:
        return get_mitigation(s, mitigation_id).status


def reconcile(runtime: Runtime, mitigation_id: int, *, escalate_to: list[str] | None = None) -> str:
    """Settle a mitigation a dead process left half-way, without ever calling the action twice.

    Only when its owner is gone: while a live replica (or another thread) holds the mitigation's
    lock it is left alone, and its current status is returned."""
    with owning(runtime, mitigation_id) as mine:
        with transaction(runtime.sessions) as s:
            claim = claim_of(s, mitigation_id)
        status = claim[0]
        if not mine:
            log.debug("mitigation %s is %s by a live owner: left alone", mitigation_id, status)
            return status
        if status == "approved":  # claimed but execution never began
            return execute(runtime, mitigation_id, escalate_to=escalate_to)
        if status == "executing":
            log.info("mitigation %s was left executing by a process that is gone: settling it", mitigation_id)
            _settle_interrupted(runtime, mitigation_id, claim, escalate_to)
        elif status == "reverting":
            log.info("mitigation %s was left reverting by a process that is gone: settling it", mitigation_id)
            _settle_interrupted_revert(runtime, mitigation_id, claim, escalate_to)
        return _status(runtime, mitigation_id)


def _settle_interrupted(runtime: Runtime, mitigation_id: int, claim: Claim, escalate_to: list[str] | None) -> None:
    try:
        ctx, plan_, action_name = _ctx_for(runtime, mitigation_id)
        in_place = get_action(action_name).verify(ctx, plan_)
    except ActionError:
        in_place = None
    if in_place:
        state = {"target": plan_.get("target"), "alias": plan_.get("alias")}
        _record_success(runtime, mitigation_id, claim, {**state, "version": plan_.get("from_version")},
                        {**state, "version": plan_.get("to_version")},
                        note=" (found in place after a restart; not executed again)")
        return
    reason = ("the process stopped while executing it and the change is not in place; it was not retried "
              "automatically (propose it again)" if in_place is False else
              "the process stopped while executing it and its outcome cannot be observed; check the target "
              "by hand (it was not retried)")
    _record_failure(runtime, mitigation_id, claim, reason, escalate_to=escalate_to, during="restart")


def _settle_interrupted_revert(runtime: Runtime, mitigation_id: int, claim: Claim,
                               escalate_to: list[str] | None) -> None:
    """A revert whose process died: observe the target and record what is true, never call it again."""
    with transaction(runtime.sessions) as s:
        m = get_mitigation(s, mitigation_id)
        before, after, actor = dict(m.before), dict(m.after), m.reverted_by or ENGINE_ACTOR
    try:
        ctx, _plan, action_name = _ctx_for(runtime, mitigation_id)
        undone = get_action(action_name).reverted(ctx, before, after)
    except ActionError:
        undone = None
    if undone:
        _record_reverted(runtime, mitigation_id, claim, actor, before,
                         note=" (found undone after the process reverting it stopped; not called again)")
        return
    reason = ("the process reverting it stopped before the revert took effect; the mitigation is still in place "
              "(revert it again)" if undone is False else
              "the process reverting it stopped and the outcome cannot be observed; check the target by hand "
              "(the revert was not retried)")
    _record_revert_failure(runtime, mitigation_id, claim, reason, actor=ENGINE_ACTOR, escalate_to=escalate_to)


def revert(runtime: Runtime, mitigation_id: int, actor: str) -> dict[str, Any]:
    """Undo an executed mitigation; refuses when the target changed since (nothing is clobbered).

    Holds the mitigation's lock from the claim (``reverting``) to the recorded outcome, like an
    execution: a revert whose process dies is settled by the scheduler leader (`reconcile`)."""
    with owning(runtime, mitigation_id) as mine:
        if not mine:
            with transaction(runtime.sessions) as s:
                m = get_mitigation(s, mitigation_id)
                doing = "reverted" if m.status == "reverting" else "acted on"
            raise MitigationConflict(f"mitigation {mitigation_id} is being {doing} by another process right now; "
                                     "try again in a moment")
        return _revert_owned(runtime, mitigation_id, actor)


def _revert_owned(runtime: Runtime, mitigation_id: int, actor: str) -> dict[str, Any]:
    with transaction(runtime.sessions) as s:
        m = get_mitigation(s, mitigation_id)
        previous = m.status
        claim = _claim(s, m.id, EXECUTED_STATES, "reverting", revert_from=Mitigation.status, reverted_by=actor)
        if claim is None:
            if previous == "reverted":
                raise MitigationConflict(f"mitigation {m.id} was already reverted by {m.reverted_by}")
            raise MitigationConflict(f"mitigation {m.id} is {previous}; only an executed mitigation can be "
                                     "reverted")
        before, after = dict(m.before), dict(m.after)
    try:
        ctx, _plan, action_name = _ctx_for(runtime, mitigation_id)
        state = get_action(action_name).revert(ctx, before, after)
    except Exception as exc:
        error = str(exc) if isinstance(exc, ActionError) else f"unexpected error: {type(exc).__name__}: {exc}"
        _record_revert_failure(runtime, mitigation_id, claim, error, actor=actor)
        raise MitigationError(f"revert of mitigation {mitigation_id} failed: {error}") from exc
    done = _record_reverted(runtime, mitigation_id, claim, actor, state)
    if done is None:
        raise MitigationConflict(f"mitigation {mitigation_id} was reverted, but the process doing it lost its "
                                 "claim meanwhile and another one settled it; see the timeline")
    return done


def _record_revert_failure(runtime: Runtime, mitigation_id: int, claim: Claim, error: str, *, actor: str,
                           escalate_to: list[str] | None = None) -> None:
    """Back to the status the revert started from; with ``escalate_to`` (no person is waiting on the
    answer: the process that reverted is gone), the incident is escalated."""
    with transaction(runtime.sessions) as s:
        m = _settle(s, mitigation_id, claim, status=sa_func.coalesce(Mitigation.revert_from, "executed"),
                    reverted_by=None)
        if m is None:
            _refused(s, get_mitigation(s, mitigation_id), claim, f"failure ({error})", error=error)
            return
        log_event(s, m.incident, "mitigation_failed", f"revert of mitigation {m.id} failed: {error}",
                  actor=actor, data={"mitigation_id": m.id, "error": error, "during": "revert"})
        audit(s, actor, "mitigation.revert", f"mitigation {m.id}: {m.action} {m.target}", outcome="failed",
              incident_id=m.incident_id, detail={"error": error})
        if escalate_to is not None:
            escalate(s, m.incident, escalation_targets(m.incident, escalate_to),
                     f"revert of mitigation {m.id} ({m.action} {m.target}) failed: {error}", mitigation_id=m.id,
                     offer_revert=True, catalog=runtime.catalog)


def _record_reverted(runtime: Runtime, mitigation_id: int, claim: Claim, actor: str, state: dict[str, Any],
                     note: str = "") -> dict[str, Any] | None:
    """Record the revert (None: refused, the claim was lost meanwhile)."""
    with transaction(runtime.sessions) as s:
        m = _settle(s, mitigation_id, claim, status="reverted", reverted_at=utcnow(), reverted_by=actor)
        if m is None:
            _refused(s, get_mitigation(s, mitigation_id), claim, "reverted", after=state)
            return None
        log_event(s, m.incident, "mitigation_reverted",
                  f"mitigation {m.id} ({m.action} {m.target}) reverted by {actor}{note}",
                  actor=actor, data={"mitigation_id": m.id, "action": m.action, "target": m.target,
                                     "before": m.after, "after": state})
        audit(s, actor, "mitigation.revert", f"mitigation {m.id}: {m.action} {m.target}",
              incident_id=m.incident_id, detail={"before": m.after, "after": state})
        _version_change(s, m, dict(m.after), state, f"revert of mitigation {m.id} ({m.action}) for {m.incident.ref}")
        _after_revert(s, m, actor)
        return mitigation_to_dict(m)


def _after_revert(session: Session, m: Mitigation, actor: str) -> None:
    """Where the incident stands once a mitigation is undone.

    Another mitigation still in place, or an incident already resolved (a revert is then
    clean-up, e.g. the fixed champion serving again): the status stays. Otherwise nothing
    mitigates it any more, so it goes back to acknowledged, by the person who reverted (a
    person acting on it is what acknowledging means), never "mitigating" with nothing running.
    """
    incident = m.incident
    in_effect = [o.id for o in incident.mitigations if o.id != m.id and o.status in EXECUTED_STATES]
    if in_effect or incident.status not in ("mitigating", "mitigated"):
        return
    try:
        transition(session, incident, "acknowledged", actor=actor,
                   note=f"mitigation {m.id} reverted; no other mitigation is in place")
    except IllegalTransition:
        log.info("incident %s not moved back after the revert of mitigation %s", incident.ref, m.id)


def open_duplicate(session: Session, incident_id: int, action: str, target: str) -> Mitigation | None:
    return session.scalars(
        select(Mitigation).where(Mitigation.incident_id == incident_id, Mitigation.action == action,
                                 Mitigation.target == target,
                                 Mitigation.status.in_(("proposed", "approved", "executing")))
    ).first()


def mitigation_to_dict(m: Mitigation) -> dict[str, Any]:
    def iso(v: Any) -> str | None:
        return v.isoformat().replace("+00:00", "Z") if v is not None else None

    return {
        "id": m.id, "incident": f"INC-{m.incident_id}", "action": m.action, "target": m.target,
        "status": m.status, "approval": m.approval, "params": m.params, "plan": m.plan,
        "proposed_at": iso(m.proposed_at), "approved_by": m.approved_by, "approved_at": iso(m.approved_at),
        "executed_at": iso(m.executed_at), "before": m.before, "after": m.after,
        "verification": m.verification, "reverted_at": iso(m.reverted_at), "reverted_by": m.reverted_by,
        "error": m.error, "idempotency_key": m.idempotency_key,
    }


def due_after(m: Mitigation, seconds: float) -> Any:
    base = m.executed_at or utcnow()
    return base + timedelta(seconds=seconds)
