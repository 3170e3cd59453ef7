"""Persisted state of runbook runs, one row per run and one per step.

The executor commits a step's status before and after it acts, so a restarted process knows
exactly where each run stood. Mitigations themselves live in `bot.models.Mitigation`, whose
unique idempotency key (``<incident>:<runbook>:<step>``) is what makes "never twice" hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow

# running → waiting_approval | waiting_verification | waiting → running ... → completed | failed | escalated
RUN_ACTIVE = ("running", "waiting_approval", "waiting_verification", "waiting")
RUN_FINAL = ("completed", "failed", "escalated", "cancelled")


class RunbookRun(Base):
    __tablename__ = "runbook_runs"
    __table_args__ = (UniqueConstraint("incident_id", "runbook", name="uq_runbook_runs_incident_runbook"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    runbook: Mapped[str] = mapped_column(String(80))
    runbook_file: Mapped[str] = mapped_column(String(1000), default="")
    runbook_digest: Mapped[str] = mapped_column(String(64), default="")
    # The validated runbook as it was when the run started: a resumed run follows the same steps.
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(30), default="running", index=True)
    current_step: Mapped[int] = mapped_column(Integer, default=0)
    # Outputs visible to later templates: {"diagnosis": ..., "steps": {name: output}}.
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Which process is advancing it ("host:pid:token") and until when that claim holds.
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RunbookStep(Base):
    __tablename__ = "runbook_steps"
    __table_args__ = (UniqueConstraint("run_id", "step_index", name="uq_runbook_steps_run_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runbook_runs.id"), index=True)
    step_index: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    # pending → running → done | skipped | failed | waiting
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    output: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mitigation_id: Mapped[int | None] = mapped_column(ForeignKey("mitigations.id"), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
