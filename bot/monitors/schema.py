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

    ``mode: aggregate`` computes histograms and counts in the database (memory stays flat);
    ``mode: load`` fetches the window's rows and aggregates them in numpy (the baseline, and
    the only way for sources whose SQL dialect lacks what the aggregate queries need).
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


class DriftCheck(_Spec):
    psi: float = Field(default=0.2, gt=0)
    unseen_share: float = Field(default=0.05, gt=0, le=1)
    out_of_range_share: float = Field(default=0.2, gt=0, le=1)
    features: list[str] | None = None
    ignore: list[str] = Field(default_factory=list)
    min_rows: int = Field(default=100, ge=1)


class MissingCheck(_Spec):
    increase: float = Field(default=0.05, gt=0, le=1, description="absolute rise of the missing share")


class StuckCheck(_Spec):
    min_rows: int = Field(default=100, ge=2)


class QualityCheck(_Spec):
    metric: Literal["accuracy", "mae", "rmse"] | None = None
    drop: float = Field(default=0.05, gt=0, description="absolute accuracy drop, or relative MAE/RMSE rise")
    min_labels: int = Field(default=100, ge=1)


class LatencyCheck(_Spec):
    quantile: float = Field(default=0.95, gt=0, lt=1)
    ratio: float = Field(default=1.5, gt=1)
    min_ms: float = Field(default=10.0, ge=0)


class ErrorsCheck(_Spec):
    rate: float = Field(default=0.02, gt=0, le=1, description="absolute rise of the error rate")
    ratio: float = Field(default=3.0, gt=1)


class TrafficCheck(_Spec):
    drop: float = Field(default=0.5, gt=0, lt=1, description="rows per minute below this share of the reference")
    spike: float = Field(default=3.0, gt=1)


class ChecksSpec(_Spec):
    """Which checks run; an omitted check does not run, ``{}`` runs it with default thresholds."""

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
    # "summary": the checks below on window aggregates (pushed into SQL; memory stays flat).
    # "diagnostics": the full diagnostics engine on the window's rows (every data, model and service
    # check, segments and influence weighting; memory grows with the window).
    engine: Literal["summary", "diagnostics"] = "summary"
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
