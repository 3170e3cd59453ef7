"""On PostgreSQL (the team store): the migration applies and concurrent approvals from separate
connections still execute a mitigation once."""

from __future__ import annotations

import threading

import pytest
from rb_support import audit_count, count, events_of, make_runtime, mitigations_of, open_incident

from bot.config import Settings
from bot.models import ChangeEvent
from runbooks.mitigations import MitigationConflict
from runbooks.service import approve_mitigation, propose_mitigation, revert_mitigation

pytestmark = pytest.mark.integration


def test_double_approval_on_postgresql_executes_once(postgres_url: str, mlflow_store, tmp_path) -> None:
    settings = Settings(database_url=postgres_url, scheduler_enabled=True, mlflow_registry_uri=mlflow_store.uri,
                        postmortem_dir=str(tmp_path))
    rt = make_runtime(settings)
    try:
        model = mlflow_store.new_model()
        iid = open_incident(rt, "SomethingElse", model=model)
        mid = propose_mitigation(rt, iid, "rollback", "U-alice")
        barrier = threading.Barrier(3)
        outcomes: list[str] = []

        def approve(user: str) -> None:
            barrier.wait()
            try:
                approve_mitigation(rt, mid, user)
                outcomes.append("executed")
            except MitigationConflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=approve, args=(f"U-{i}",)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) == ["conflict", "conflict", "executed"]
        assert len(events_of(rt, iid, "mitigation_executed")) == 1
        assert audit_count(rt, "mitigation.execute") == 1
        assert count(rt, ChangeEvent, origin="mitigation") == 1
        assert mlflow_store.serving(model) == "1"
        revert_mitigation(rt, mid, "U-alice")
        assert mlflow_store.serving(model) == "2"
        assert mitigations_of(rt, iid)[0].status == "reverted"
    finally:
        rt.close()
