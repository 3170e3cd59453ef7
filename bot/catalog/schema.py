"""The service catalog's schema: what mlresponder knows about each ML service it protects.

An alert only says *which* service (its labels select one); what mlresponder reads, connects to
or changes for that service — prediction log, reference set, registered model, Prometheus series,
whom to page — comes from here. Keys are the public contract in ``docs/catalog.md``; a team may
add keys of its own (kept, shown, never acted on), but a key one typo away from a known one is an
error (see `bot.catalog.loader`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.matchers import Matcher, MatcherField
from bot.secrets import resolve_refs
from diagnostics.series import SeriesKind, kind_for_key

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"
# Slack user group (S…), user (U…) or enterprise user (W…) id.
SLACK_ID_PATTERN = r"^[SUW][A-Z0-9]{2,}$"


class CatalogModel(BaseModel):
    # Teams may add keys; `bot.catalog.loader` refuses the ones that look like typos.
    model_config = ConfigDict(extra="allow", frozen=True, arbitrary_types_allowed=True)


class Series(BaseModel):
    """One PromQL query returning one series, and which culprit kind it can be."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(min_length=1)
    kind: SeriesKind


def _series_map(value: Any) -> Any:
    """``key: "PromQL"`` → ``{query, kind-from-key}``; ``key: {query}`` gets its kind the same way."""
    if not isinstance(value, Mapping):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(item, str):
            out[key] = {"query": item, "kind": kind_for_key(str(key))}
        elif isinstance(item, Mapping) and "kind" not in item:
            out[key] = {**item, "kind": kind_for_key(str(key))}
        else:
            out[key] = item
    return out


class Owners(CatalogModel):
    slack: str | None = Field(default=None, pattern=SLACK_ID_PATTERN)
    pagerduty_routing_key: str | None = None

    def slack_mention(self) -> str | None:
        """Slack's mention syntax: a user group pings its members, a user id pings the user."""
        if not self.slack:
            return None
        return f"<!subteam^{self.slack}>" if self.slack.startswith("S") else f"<@{self.slack}>"

    def routing_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The PagerDuty routing key, from the environment (the catalog holds only a reference)."""
        return resolve_refs(self.pagerduty_routing_key, environ) if self.pagerduty_routing_key else None


class ModelRef(CatalogModel):
    registry: str = Field(min_length=1)
    serving_alias: str = Field(default="champion", min_length=1)
    fallback_alias: str | None = None


class Dependency(CatalogModel):
    name: str = Field(pattern=NAME_PATTERN)
    metrics: dict[str, Series] = Field(default_factory=dict)

    @field_validator("metrics", mode="before")
    @classmethod
    def _series(cls, value: Any) -> Any:
        return _series_map(value)


@dataclass(frozen=True)
class SeriesRef:
    """One series of a service or of one of its dependencies (``dependency`` None: the service's own)."""

    key: str
    query: str
    kind: SeriesKind
    dependency: str | None = None


class Service(CatalogModel):
    name: str = Field(pattern=NAME_PATTERN)
    # Alert label selectors; every one must match. Default: ``service == name``.
    match: dict[str, MatcherField] = Field(default_factory=dict)
    owners: Owners = Field(default_factory=Owners)
    model: ModelRef | None = None
    prediction_log: str | None = None
    reference: str | None = None
    # Actions that may run without a click (a runbook's `approval: auto` needs the action here).
    auto_approve: list[str] = Field(default_factory=list)
    metrics: dict[str, Series] = Field(default_factory=dict)
    dependencies: list[Dependency] = Field(default_factory=list)
    # Where `/incident update` status updates for this service go (default: the setting).
    stakeholders_channel: str | None = None

    @field_validator("metrics", mode="before")
    @classmethod
    def _series(cls, value: Any) -> Any:
        return _series_map(value)

    @model_validator(mode="after")
    def _default_match(self) -> Service:
        if not self.match:
            object.__setattr__(self, "match", {"service": Matcher(exact=self.name)})
        return self

    def matches(self, labels: Mapping[str, Any]) -> bool:
        return all(m.matches(labels.get(key)) for key, m in self.match.items())

    def dependency_names(self) -> list[str]:
        return [d.name for d in self.dependencies]

    def series(self) -> list[SeriesRef]:
        """Every series to read for this service: its own first, then each dependency's."""
        out = [SeriesRef(key, s.query, s.kind) for key, s in self.metrics.items()]
        for dep in self.dependencies:
            out += [SeriesRef(key, s.query, s.kind, dep.name) for key, s in dep.metrics.items()]
        return out

    def auto_approves(self, action: str) -> bool:
        return action in self.auto_approve

    def prediction_log_source(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The prediction log with its secret references filled in, read when it is used."""
        return resolve_refs(self.prediction_log, environ) if self.prediction_log else None

    def reference_source(self, environ: Mapping[str, str] | None = None) -> str | None:
        return resolve_refs(self.reference, environ) if self.reference else None

    def describe_match(self) -> str:
        return ", ".join(f"{k}={m.describe()}" for k, m in self.match.items())


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    services: list[Service] = Field(default_factory=list)
