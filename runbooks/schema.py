"""The runbook schema: what a runbook YAML may say, validated by pydantic at load time.

A runbook is ``name``, ``description``, ``match`` (which incidents it handles), ``severity``,
``escalate_to`` and an ordered list of ``steps``. Each step is a mapping with exactly one step
kind (``diagnose``, ``notify``, ``mitigate``, ``verify``, ``escalate``, ``wait``) plus an optional
``name`` and ``when`` (a Jinja2 expression). A typo anywhere is a load-time error that names the
file, line and field (see `runbooks.loader`), never a surprise in the middle of an incident.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.durations import Duration
from bot.matchers import MatcherField
from bot.models import SEVERITIES
from bot.yamldoc import did_you_mean


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Match(StrictModel):
    """Which incidents a runbook handles; every given condition must hold."""

    alertname: MatcherField | None = None
    service: MatcherField | None = None
    labels: dict[str, MatcherField] = Field(default_factory=dict)
    # Alert annotations, e.g. `prediction_log: {regex: ".+"}` for "the alert says where the log is".
    annotations: dict[str, MatcherField] = Field(default_factory=dict)


class DiagnoseStep(StrictModel):
    # Prediction log: a Parquet/CSV path or a SQLAlchemy URL (with `?table=` or `query`). Templated.
    # May render empty when `series` is on and the service has no prediction log.
    log: str = ""
    # Also read the catalog service's and its dependencies' Prometheus series (MLRESPONDER_PROMETHEUS_URL)
    # and judge both sources together: dependency, resource, traffic culprits and the trigger.
    series: bool = False
    query: str | None = None
    # Reference set (training data or a known-good window), same forms as `log`.
    reference: str | None = None
    # Only rows from this long before the incident started are read (None: all rows).
    window: Duration | None = None
    # ISO-8601 onset; default: detected by the diagnostics.
    onset: str | None = None
    # Feed the change log (deploys, config changes) around the incident to the localizer.
    use_changes: bool = True


class NotifyStep(StrictModel):
    message: str


class MitigateStep(StrictModel):
    action: str
    target: str
    approval: Literal["required", "auto"] = "required"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        from runbooks.actions import ACTIONS

        if value not in ACTIONS:
            raise PydanticCustomError(
                "unknown_action", f"unknown action {value!r}" + did_you_mean(value, tuple(ACTIONS))
            )
        return value


class Expectation(StrictModel):
    """What recovery means: the metric after the mitigation against the pre-incident baseline."""

    # Which direction is better for this metric (accuracy: higher; latency, errors: lower).
    better: Literal["higher", "lower"]
    # Measurements needed on each side before any verdict; fewer → inconclusive.
    measurements: int = Field(default=10, ge=3)
    # The degradation (relative to the baseline median) that counts as "not recovered".
    min_effect: float = Field(default=0.1, ge=0)
    # Significance level of the one-sided Mann–Whitney U test.
    alpha: float = Field(default=0.05, gt=0, lt=1)


class VerifyStep(StrictModel):
    # Judge this long after the mitigation executed.
    after: Duration = 300.0
    # Either a Prometheus query (range-queried) ...
    prometheus: str | None = None
    # ... or a prediction-log check: per-bucket metric from a log source.
    log: str | None = None
    query: str | None = None
    metric: Literal["accuracy", "mae", "error_rate", "latency_ms", "mean_prediction"] | None = None
    expect: Expectation
    # Baseline: this long before the incident started.
    baseline: Duration = 3600.0
    # Resolution: Prometheus step, or the log bucket size.
    step: Duration = 60.0
    # How often an inconclusive verdict is re-checked (each `after` later) before escalating.
    retries: int = Field(default=2, ge=0, le=20)

    @model_validator(mode="after")
    def _one_source(self) -> VerifyStep:
        if (self.prometheus is None) == (self.log is None):
            raise PydanticCustomError("verify_source", "give exactly one of 'prometheus' or 'log'")
        if self.log is not None and self.metric is None:
            raise PydanticCustomError("verify_metric", "a log check needs 'metric' "
                                      "(accuracy, mae, error_rate, latency_ms or mean_prediction)")
        return self


class EscalateStep(StrictModel):
    who: list[str] = Field(min_length=1)
    message: str


class WaitStep(StrictModel):
    duration: Duration


class Step(StrictModel):
    """One step: ``name``, ``when`` and exactly one kind. The kind fields below are the registry of
    step kinds: `STEP_KINDS` derives from them, and the executor refuses to load unless it has a
    handler for each (`runbooks.executor.step_handler`)."""

    name: str | None = None
    when: str | None = None
    diagnose: DiagnoseStep | None = None
    notify: NotifyStep | None = None
    mitigate: MitigateStep | None = None
    verify: VerifyStep | None = None
    escalate: EscalateStep | None = None
    wait: WaitStep | None = None

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Step:
        given = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "step_kind",
                f"a step needs exactly one of {', '.join(STEP_KINDS)}, got {', '.join(given) or 'none'}",
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)

    @property
    def body(self) -> BaseModel:
        body = getattr(self, self.kind)
        assert isinstance(body, BaseModel)
        return body

    def label(self, index: int) -> str:
        return self.name or f"{self.kind}-{index}"


STEP_KINDS: tuple[str, ...] = tuple(k for k in Step.model_fields if k not in ("name", "when"))


def _severity_list(value: Any) -> list[str]:
    from bot.incidents import normalize_severity

    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        try:
            out.append(normalize_severity(item))
        except ValueError as exc:
            raise PydanticCustomError("severity", str(exc).split(": ", 1)[-1]) from exc
    if not isinstance(value, list):  # "severity: sev3" runs for sev1..sev3
        return list(SEVERITIES[: SEVERITIES.index(out[0]) + 1])
    return out


class Runbook(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")
    description: str = ""
    match: Match
    # The incident severities it runs for: a list, or one severity meaning "this or worse".
    severity: Annotated[list[str], BeforeValidator(_severity_list)] = Field(
        default_factory=lambda: list(SEVERITIES)
    )
    # Who hears about failures (step errors, failed verification) when no escalate step does.
    escalate_to: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)
