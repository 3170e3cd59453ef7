"""Findings and the diagnosis: the one result model every destination renders.

`Diagnosis.to_dict()` is the `mlresponder diagnose` JSON contract of docs/contracts.md, with exactly
the six keys per finding; `details` (numbers behind the evidence sentence) live only on the
dataclasses and in `to_dict(include_details=True)` for the chat card and the postmortem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Cause = Literal["data", "model", "service", "none"]
CulpritKind = Literal[
    "feature", "model_version", "concept", "segment", "latency", "errors", "traffic", "dependency", "resource", "none"
]
Mitigation = Literal["rollback", "naive_model", "retrain", "escalate_service", "none"]

SEVERITIES = ("critical", "high", "medium", "low", "info")


def severity_for(score: float) -> str:
    """Severity bands of a finding score (documented in docs/diagnostics.md)."""
    if score >= 0.8:
        return "critical"
    if score >= 0.6:
        return "high"
    if score >= 0.35:
        return "medium"
    if score >= 0.15:
        return "low"
    return "info"


@dataclass
class Finding:
    """One check's result: how strongly it points at `cause` through `subject`."""

    cause: Cause
    check: str
    subject: str
    score: float
    evidence: str
    details: dict[str, Any] = field(default_factory=dict)
    severity: str = ""

    def __post_init__(self) -> None:
        self.score = float(min(1.0, max(0.0, self.score))) if math.isfinite(self.score) else 0.0
        if not self.severity:
            self.severity = severity_for(self.score)

    def to_dict(self, include_details: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cause": self.cause,
            "check": self.check,
            "subject": self.subject,
            "score": round(self.score, 4),
            "severity": self.severity,
            "evidence": self.evidence,
        }
        if include_details:
            out["details"] = _jsonable(self.details)
        return out


@dataclass(frozen=True)
class Trigger:
    """The recorded change that started the regression (a change event of DESIGN.md)."""

    timestamp: float
    kind: str
    service: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"timestamp": iso_utc(self.timestamp), "kind": self.kind, "service": self.service,
                "description": self.description}


@dataclass
class Diagnosis:
    """The verdict: one cause, its culprit, a confidence and the mitigation to propose."""

    cause: Cause
    culprit_kind: CulpritKind
    culprit_name: str
    confidence: float
    onset: float
    recommended_mitigation: Mitigation
    findings: list[Finding]
    runtime_ms: float = 0.0
    onset_detected: bool = False
    summary: str = ""
    trigger: Trigger | None = None

    @property
    def onset_iso(self) -> str:
        return iso_utc(self.onset)

    def to_dict(self, include_details: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cause": self.cause,
            "culprit": {"kind": self.culprit_kind, "name": self.culprit_name},
            "trigger": None if self.trigger is None else self.trigger.to_dict(),
            "confidence": round(float(self.confidence), 4),
            "onset": self.onset_iso,
            "recommended_mitigation": self.recommended_mitigation,
            "findings": [f.to_dict(include_details) for f in self.findings],
            "runtime_ms": round(float(self.runtime_ms), 1),
        }
        if include_details:
            out["onset_detected"] = self.onset_detected
            out["summary"] = self.summary
        return out


def iso_utc(epoch_seconds: float) -> str:
    """ISO-8601 in UTC with a Z suffix, to the second (milliseconds when present)."""
    dt = datetime.fromtimestamp(float(epoch_seconds), tz=UTC)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
