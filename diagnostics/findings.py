"""Findings and the diagnosis: the one result model every destination renders.

`Diagnosis.to_dict()` is the `mlresponder diagnose` JSON contract of docs/contracts.md, with exactly
the six keys per finding; `details` (numbers behind the evidence sentence) live only on the
dataclasses and in `to_dict(include_details=True)` for the chat card and the postmortem.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from diagnostics.strict_json import jsonable

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """A finding back from its JSON (a stored diagnosis); tolerant of missing keys."""
        details = data.get("details")
        return cls(
            cause=str(data.get("cause") or "none"),  # type: ignore[arg-type]
            check=str(data.get("check") or ""),
            subject=str(data.get("subject") or ""),
            score=_number(data.get("score")),
            evidence=str(data.get("evidence") or ""),
            details=dict(details) if isinstance(details, Mapping) else {},
            severity=str(data.get("severity") or ""),
        )

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
            out["details"] = jsonable(self.details)
        return out


@dataclass(frozen=True)
class Trigger:
    """The recorded change that started the regression (a change event of docs/contracts.md)."""

    timestamp: float
    kind: str
    service: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"timestamp": iso_utc(self.timestamp), "kind": self.kind, "service": self.service,
                "description": self.description}

    @classmethod
    def from_dict(cls, data: Any) -> Trigger | None:
        """Back from its JSON; None for null or anything without a readable time."""
        if not isinstance(data, Mapping):
            return None
        at = _epoch(data.get("timestamp"))
        if not math.isfinite(at):
            return None
        return cls(at, str(data.get("kind") or "other"), str(data.get("service") or ""),
                   str(data.get("description") or ""))


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
        return iso_utc(self.onset) if math.isfinite(self.onset) else ""

    @property
    def found(self) -> bool:
        """Whether the diagnosis names a cause (anything but "none")."""
        return self.cause != "none"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnosis:
        """A diagnosis back from its JSON contract (stored on an incident, a runbook run, a file).

        Renderers read this type, not dict keys. Stored data is not trusted to be complete:
        missing keys become "none"/0/empty, an unparseable onset becomes NaN.
        """
        culprit = data.get("culprit")
        culprit = culprit if isinstance(culprit, Mapping) else {}
        findings = data.get("findings")
        return cls(
            cause=str(data.get("cause") or "none"),  # type: ignore[arg-type]
            culprit_kind=str(culprit.get("kind") or "none"),  # type: ignore[arg-type]
            culprit_name=str(culprit.get("name") or ""),
            confidence=_number(data.get("confidence")),
            onset=_epoch(data.get("onset")),
            recommended_mitigation=str(data.get("recommended_mitigation") or "none"),  # type: ignore[arg-type]
            findings=[Finding.from_dict(f) for f in findings if isinstance(f, Mapping)]
            if isinstance(findings, list)
            else [],
            runtime_ms=_number(data.get("runtime_ms")),
            onset_detected=bool(data.get("onset_detected", False)),
            summary=str(data.get("summary") or ""),
            trigger=Trigger.from_dict(data.get("trigger")),
        )

    def to_dict(self, include_details: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cause": self.cause,
            "culprit": {"kind": self.culprit_kind, "name": self.culprit_name},
            "trigger": None if self.trigger is None else self.trigger.to_dict(),
            "confidence": round(_number(self.confidence), 4),  # a number 0..1 by the contract, never NaN
            "onset": self.onset_iso,
            "recommended_mitigation": self.recommended_mitigation,
            "findings": [f.to_dict(include_details) for f in self.findings],
            "runtime_ms": round(_number(self.runtime_ms), 1),
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


def _number(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return 0.0
    return out if math.isfinite(out) else 0.0


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return float("nan")
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return float("nan")
