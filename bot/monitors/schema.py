"""The YAML contract of monitors and escalation policies (pydantic; unknown keys are errors).

A typo in a monitor must fail at load time with the file, line and field, never turn into a
monitor that silently checks nothing; hence ``extra="forbid"`` everywhere.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.durations import PositiveDuration as Duration

Severity = Literal["sev1", "sev2", "sev3", "sev4"]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleSpec(_Spec):
    """Either ``every`` (an interval aligned to the epoch) or a five-field ``cron`` (UTC)."""

    every: Duration | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleSpec:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' (e.g. 5m) or 'cron' (e.g. '*/5 * * * *')")
        if self.cron is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(self.cron, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"cron {self.cron!r}: {exc}") from None
        if self.every is not None and self.every < 1:
            raise ValueError("every: the shortest interval is 1s")
        return self


class SourceSpec(_Spec):
    """Where the prediction log lives: a SQL table/query, or Parquet/CSV files.

    ``mode: aggregate`` has the database count the window and sample it beyond ``max_rows``
    (memory stays bounded); ``mode: load`` fetches every row of the window (the baseline).
    """

    url: str | None = Field(default=None, description="SQLAlchemy URL; ${ENV} references are expanded")
    table: str | None = None
    query: str | None = None
    path: str | None = Field(default=None, description="glob of Parquet or CSV files, e.g. /data/preds/*.parquet")
    format: Literal["parquet", "csv"] | None = None
    timestamp: str = "timestamp"
    mode: Literal["aggregate", "load"] = "aggregate"

    @model_validator(mode="after")
    def _one_source(self) -> SourceSpec:
        sql = self.url is not None
        if sql == (self.path is not None):
            raise ValueError("give either 'url' (with 'table' or 'query') or 'path'")
        if sql and (self.table is None) == (self.query is None):
            raise ValueError("a SQL source needs exactly one of 'table' or 'query'")
        if not sql and (self.table or self.query):
            raise ValueError("'table' and 'query' need 'url'")
        if self.table is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", self.table):
            raise ValueError(f"table {self.table!r}: expected a plain (optionally schema-qualified) table name")
        return self


class ReferenceSpec(_Spec):
    """What 'normal' is: a trailing window before the current one, or a fixed data set."""

    trailing: Duration | None = None
    source: SourceSpec | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ReferenceSpec:
        if (self.trailing is None) == (self.source is None):
            raise ValueError("give exactly one of 'trailing' (e.g. 24h) or 'source' (a training set)")
        return self


# The checks select which of the diagnostics engine's check families may raise a breach; their
# thresholds are the engine's (docs/diagnostics.md), the same as `mlresponder diagnose`'s. The
# remaining keys choose what is looked at and which gauge is exported, never a threshold.


class DriftCheck(_Spec):
    """Input drift and breakage: drift, unit change, out of range, unseen categories, schema change."""

    features: list[str] | None = None
    ignore: list[str] = Field(default_factory=list)


class MissingCheck(_Spec):
    """A rise of a feature's missing share (`missing_rate`)."""


class StuckCheck(_Spec):
    """A feature stuck at one value (`stuck_values`)."""


class QualityCheck(_Spec):
    """Model quality: a bad version, concept drift, an underperforming segment."""

    metric: Literal["accuracy", "mae", "rmse"] | None = Field(default=None, description="the exported gauge")


class LatencyCheck(_Spec):
    quantile: float = Field(default=0.95, gt=0, lt=1, description="the exported gauge's quantile")


class ErrorsCheck(_Spec):
    """A rise of the error rate (`error_rate`)."""


class TrafficCheck(_Spec):
    """A traffic drop, spike or gap (`traffic`, `traffic_gap`; trailing references only)."""


class ChecksSpec(_Spec):
    """Which check families may raise a breach; an omitted one does not, ``{}`` enables it."""

    drift: DriftCheck | None = None
    missing: MissingCheck | None = None
    stuck: StuckCheck | None = None
    quality: QualityCheck | None = None
    latency: LatencyCheck | None = None
    errors: ErrorsCheck | None = None
    traffic: TrafficCheck | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_means_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: ({} if v is None else v) for k, v in data.items()}
        return data


class MonitorSpec(_Spec):
    name: str = Field(pattern=_NAME)
    description: str = ""
    service: str = Field(min_length=1, max_length=200)
    severity: Severity = "sev3"
    schedule: ScheduleSpec
    source: SourceSpec
    window: Duration
    reference: ReferenceSpec
    checks: ChecksSpec = Field(default_factory=ChecksSpec)
    # Kept so older files load: both values run the one diagnostics engine (docs/monitors.md);
    # "diagnostics" runs every check family, "summary" the families listed under `checks`.
    engine: Literal["summary", "diagnostics"] = "summary"
    # Rows judged per window at most: a larger window is sampled (the same share of both
    # windows, drawn by the database) so memory stays bounded.
    max_rows: int = Field(default=100_000, ge=1000)
    task: Literal["classification", "regression"] | None = None
    min_rows: int = Field(default=1, ge=1, description="fewer rows in the window is a broken-pipeline alert")
    labels: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

    @model_validator(mode="after")
    def _something_to_check(self) -> MonitorSpec:
        enabled = [name for name in ChecksSpec.model_fields if getattr(self.checks, name) is not None]
        if self.engine == "summary" and not enabled:
            raise ValueError("checks: enable at least one check (drift, missing, stuck, quality, latency, "
                             "errors, traffic)")
        return self


# ---------------------------------------------------------------- escalation


class TierSpec(_Spec):
    """Who is paged once an incident has gone unacknowledged for ``after``."""

    after: Duration
    notify: list[str] = Field(min_length=1, description="Slack user ids (U...) or user-group ids (S...)")
    webhook: bool = Field(default=False, description="also send the outgoing webhook (e.g. PagerDuty)")


class SeverityPolicy(_Spec):
    tiers: list[TierSpec] = Field(default_factory=list)
    reminder_every: Duration | None = Field(default=None, description="remind while open without updates")

    @model_validator(mode="after")
    def _ordered(self) -> SeverityPolicy:
        afters = [t.after for t in self.tiers]
        if afters != sorted(afters):
            raise ValueError("tiers: list them in the order they are paged ('after' increasing)")
        return self


class WebhookSpec(_Spec):
    kind: Literal["pagerduty", "generic"] = "pagerduty"
    url: str = "https://events.pagerduty.com/v2/enqueue"
    routing_key_env: str | None = Field(
        default=None, description="environment variable holding the PagerDuty routing key (never the key itself)"
    )
    timeout: Duration = 5.0


class EscalationSpec(_Spec):
    severities: dict[Severity, SeverityPolicy] = Field(default_factory=dict)
    postmortem_review_after: Duration | None = Field(default=None, description="e.g. 3d after resolution")
    postmortem_reminders: int = Field(default=3, ge=1)
    webhook: WebhookSpec | None = None
    sweep_every: Duration = Field(default=300.0, description="safety-net pass over all incidents")


class MonitorConfig(_Spec):
    """One YAML file: ``monitors:`` and/or ``escalation:``; several files merge."""

    monitors: list[MonitorSpec] = Field(default_factory=list)
    escalation: EscalationSpec | None = None
