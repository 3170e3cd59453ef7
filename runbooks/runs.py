"""Reading run records back: the runbook a run was started with, the step that proposed a mitigation.

Shared by the executor (which advances runs) and the mitigation service (which re-renders a
step's parameters at execution time), so neither has to import the other.
"""

from __future__ import annotations

import json
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Mitigation
from runbooks.models import RunbookRun, RunbookStep
from runbooks.schema import Runbook


@lru_cache(maxsize=64)
def _parse_definition(key: str, definition_json: str) -> Runbook:
    return Runbook.model_validate(json.loads(definition_json))


def runbook_of(run: RunbookRun) -> Runbook:
    text = json.dumps(run.definition, sort_keys=True)
    return _parse_definition(f"{run.runbook}:{run.runbook_digest}", text)


def latest_mitigation(s: Session, run_id: int, before_idx: int) -> Mitigation | None:
    row = s.scalars(
        select(RunbookStep).where(RunbookStep.run_id == run_id, RunbookStep.step_index < before_idx,
                                  RunbookStep.mitigation_id.is_not(None))
        .order_by(RunbookStep.step_index.desc())
    ).first()
    return s.get(Mitigation, row.mitigation_id) if row is not None and row.mitigation_id else None


def run_step_of(s: Session, mitigation_id: int) -> RunbookStep | None:
    return s.scalars(select(RunbookStep).where(RunbookStep.mitigation_id == mitigation_id)).first()


def escalate_to_of(s: Session, mitigation_id: int) -> list[str] | None:
    """The ``escalate_to`` of the runbook whose step proposed the mitigation (None: not from a runbook)."""
    row = run_step_of(s, mitigation_id)
    run = s.get(RunbookRun, row.run_id) if row is not None else None
    return runbook_of(run).escalate_to if run is not None else None
