"""`POST /changes`: one change event (deploy, config change...) recorded for the localizer."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from bot.api.deps import JsonBody, MetricsDep, RuntimeDep, Writer
from bot.api.schemas import ChangeCreated, ChangeIn, Problem
from bot.db import transaction
from bot.errors import InvalidInput
from bot.intake import validation_message
from bot.models import ChangeEvent
from bot.textcheck import check_text_tree
from bot.timeparse import parse_timestamp
from diagnostics.log import CHANGE_KINDS

router = APIRouter(tags=["changes"], dependencies=[Writer],
                   responses={400: {"model": Problem}, 401: {"model": Problem}, 422: {"model": Problem}})


def parse_change(data: object) -> ChangeIn:
    if not isinstance(data, dict):
        raise InvalidInput(f"body: expected a JSON object, got {type(data).__name__}")
    try:
        change = ChangeIn.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None
    if change.kind not in CHANGE_KINDS:
        raise InvalidInput(f"kind: unknown change kind {change.kind!r} (expected one of {', '.join(CHANGE_KINDS)})")
    check_text_tree(change.model_dump(exclude={"timestamp"}), "")
    return change


@router.post("/changes", status_code=201, response_model=ChangeCreated, summary="A change event")
async def post_change(data: JsonBody, runtime: RuntimeDep, metrics: MetricsDep) -> ChangeCreated:
    change = parse_change(data)
    ts = parse_timestamp(change.timestamp, "timestamp")

    def store() -> int:
        with transaction(runtime.sessions) as session:
            row = ChangeEvent(
                timestamp=ts, kind=change.kind, service=change.service, description=change.description,
                from_version=change.from_version, to_version=change.to_version, origin="api",
            )
            session.add(row)
            session.flush()
            return row.id

    change_id = await run_in_threadpool(store)
    metrics.changes_recorded.labels(change.kind).inc()
    return ChangeCreated(id=change_id)
