"""SQLAlchemy models of the incident store.

The timeline (`TimelineEvent`) is the one event log: every flow records what happened there
through `bot.incidents.log_event`, and the incident card, the API and the postmortem are
projections of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime, utcnow

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")

# Lifecycle: the states an incident may move to from each state.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "triggered": ("acknowledged", "mitigating", "resolved"),
    "acknowledged": ("mitigating", "mitigated", "resolved"),
    "mitigating": ("mitigated", "acknowledged", "resolved"),
    "mitigated": ("mitigating", "acknowledged", "resolved"),
    "resolved": ("reopened",),
    "reopened": ("acknowledged", "mitigating", "mitigated", "resolved"),
}
STATUSES = tuple(TRANSITIONS)
OPEN_STATUSES = tuple(s for s in STATUSES if s != "resolved")



class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="triggered", index=True)
    severity: Mapped[str] = mapped_column(String(8), index=True)
    service: Mapped[str] = mapped_column(String(200), default="unknown", index=True)
    # The catalog service the alert's labels selected; None: not in the catalog (nothing to act on).
    catalog_service: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str] = mapped_column(String(40), default="generic")
    commander: Mapped[str | None] = mapped_column(String(200), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Alertmanager groupKey of the alerts that opened it, if any.
    group_key: Mapped[str | None] = mapped_column(String(500), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # When the regression started: the earliest alert start, or the diagnosis' onset.
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set when every alert of the incident has resolved; a person still resolves the incident.
    alerts_resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    diagnosis: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Chat state (the Slack adapter owns these).
    chat_channel_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    chat_card_ts: Mapped[str | None] = mapped_column(String(64), nullable=True)
    postmortem_md: Mapped[str | None] = mapped_column(Text, nullable=True)
    postmortem_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)

    alerts: Mapped[list[Alert]] = relationship(back_populates="incident", order_by="Alert.id")
    events: Mapped[list[TimelineEvent]] = relationship(
        back_populates="incident", order_by="TimelineEvent.id"
    )
    mitigations: Mapped[list[Mitigation]] = relationship(
        back_populates="incident", order_by="Mitigation.id"
    )

    @property
    def ref(self) -> str:
        return f"INC-{self.id}"


class Alert(Base):
    __tablename__ = "alerts"
    # Intake finds an alert by (incident, fingerprint) on every delivery: with an index on the incident
    # alone, each re-send read every alert of its incident, and a storm's incident holds thousands.
    # Lookups by incident alone use the same index (its leading column).
    __table_args__ = (Index("ix_alerts_incident_fingerprint", "incident_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    fingerprint: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="firing")
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(8))
    service: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    group_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    generator_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)

    incident: Mapped[Incident] = relationship(back_populates="alerts")


class DedupKey(Base):
    """Keys that route alerts to the open incident they belong to.

    The primary key is what makes deduplication hold under concurrent deliveries: two
    transactions that both try to open an incident for ``fp:<fingerprint>`` cannot both commit.
    """

    __tablename__ = "dedup_keys"

    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimelineEvent(Base):
    __tablename__ = "timeline_events"
    # Lookups by incident, and by incident and kind (its role assignments: `bot.roles.roles_of`).
    __table_args__ = (Index("ix_timeline_events_incident_kind", "incident_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200), default="mlresponder")
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="events")


class ChangeEvent(Base):
    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_service_ts", "service", "timestamp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    from_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    to_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Who recorded it: "api", "mitigation", "monitor", ...
    origin: Mapped[str] = mapped_column(String(40), default="api")
    # For a mitigation's change: the mitigation that made it (so it can be undone).
    mitigation_id: Mapped[int | None] = mapped_column(ForeignKey("mitigations.id"), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Mitigation(Base):
    __tablename__ = "mitigations"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_mitigations_idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    # "<incident id>:<runbook run>:<step index>" or similar: one mitigation per incident step.
    idempotency_key: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(300))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # proposed → approved|rejected → executing → executed → verified|failed_verification; failed;
    # executed|verified|failed_verification → reverting → reverted (or back where it was)
    status: Mapped[str] = mapped_column(String(30), default="proposed")
    approval: Mapped[str] = mapped_column(String(20), default="required")
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reverted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The fencing token: incremented by every claim into executing or reverting; an outcome is
    # written only while the row still holds that claim (`runbooks.mitigations`).
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The status a revert started from (executed, verified, failed_verification).
    revert_from: Mapped[str | None] = mapped_column(String(30), nullable=True)

    incident: Mapped[Incident] = relationship(back_populates="mitigations")


class AuditRecord(Base):
    """Who did (or tried to do) what: approvals, refusals, executions, reverts."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(40), default="ok")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
