"""Nothing the store writes holds a secret: new rows, and columns set on rows loaded earlier.

The flush hook takes the known secrets once per flush and looks at what the flush writes (every
column of a new row, the changed columns of a loaded one); these pin that it still masks both.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from bot.db import transaction
from bot.incidents import create_incident, get_incident, log_event
from bot.models import Incident, TimelineEvent
from bot.runtime import Runtime

SECRET = "s3cr3t-value-from-the-environment"


def test_new_rows_and_changed_columns_are_stored_redacted(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLRESPONDER_SECRET_TOKEN", SECRET)
    with transaction(runtime.sessions) as s:
        incident = create_incident(s, title=f"opened with {SECRET}", severity="sev2", service="svc",
                                   source="test", actor="test", labels={"k": SECRET})
        log_event(s, incident, "note", f"note {SECRET}", data={"nested": [SECRET]})
        number = incident.id
    with transaction(runtime.sessions) as s:
        incident = get_incident(s, number)
        incident.summary = f"summary {SECRET}"  # a plain column set on a loaded row
        incident.labels["added"] = SECRET  # a JSON column changed in place, flagged
        flag_modified(incident, "labels")
    with transaction(runtime.sessions) as s:
        stored = s.scalars(select(Incident).where(Incident.id == number)).one()
        events = s.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == number)).all()
        texts = [stored.title, stored.summary, repr(stored.labels)] + [f"{e.message} {e.data!r}" for e in events]
    assert all(SECRET not in t for t in texts), texts
    assert stored.summary == "summary ***" and stored.labels == {"k": "***", "added": "***"}
    assert any(e.message == "note ***" and e.data == {"nested": ["***"]} for e in events)


def test_a_secret_set_after_start_is_caught_at_the_next_flush(runtime: Runtime,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with transaction(runtime.sessions) as s:
        incident = create_incident(s, title="t", severity="sev3", service="svc", source="test", actor="test")
        log_event(s, incident, "note", "before")
        monkeypatch.setenv("MLRESPONDER_SECRET_LATE", SECRET)
        log_event(s, incident, "note", f"after {SECRET}")
        number = incident.id
    with transaction(runtime.sessions) as s:
        messages = s.scalars(select(TimelineEvent.message).where(TimelineEvent.incident_id == number)).all()
    assert "after ***" in messages and not any(SECRET in m for m in messages)
