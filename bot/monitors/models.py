"""The monitor run history: one row per (monitor, tick), which is also the per-tick lock.

Replicas sharing the database race to insert the row for a tick; the unique key lets exactly
one win, on SQLite and PostgreSQL alike, and the row then records what the run found. A row
left ``running`` by a process that died is taken over once its lease has expired, so a crash
neither loses the tick nor lets two processes run it at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime, utcnow


class MonitorRun(Base):
    __tablename__ = "monitor_runs"
    __table_args__ = (
        UniqueConstraint("monitor", "tick", name="uq_monitor_runs_monitor_tick"),
        Index("ix_monitor_runs_monitor_started", "monitor", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(100))
    # The schedule slot this run belongs to (scheduled runs), or the request time (manual runs).
    tick: Mapped[datetime] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")  # schedule | manual | catch_up
    # running → ok | breach | error; missed = a slot coalesced into a later run while nothing ran
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    replica: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    diagnosis: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Alert fingerprints firing after this run: the next run resolves those that cleared.
    firing: Mapped[list[Any]] = mapped_column(JSON, default=list)
    incidents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
