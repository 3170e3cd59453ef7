"""Compare a diagnosis (the docs/contracts.md JSON) with a scenario's expected answer.

Culprit names are matched on what a responder needs: the exact feature or model version, the
segment's column and value (in whatever notation, e.g. ``region=apac`` or ``region == 'apac'``);
for concept, latency, errors, traffic and none the kind alone identifies the culprit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from benchmarks.scenarios.faults import Expected

NAMED_KINDS = frozenset({"feature", "model_version", "segment"})


@dataclass(frozen=True)
class Verdict:
    cause: bool
    culprit: bool
    mitigation: bool

    @property
    def all(self) -> bool:
        return self.cause and self.culprit and self.mitigation


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^0-9a-z_.]+", text.lower()) if t}


def culprit_matches(expected: Expected, kind: str, name: str) -> bool:
    if kind != expected.culprit_kind:
        return False
    if expected.culprit_kind not in NAMED_KINDS:
        return True
    want = expected.culprit_name.lower()
    got = name.strip().lower()
    if expected.culprit_kind == "segment":
        column, _, value = want.partition("=")
        return {column, value} <= _tokens(got)
    return got == want or want in _tokens(got)


def judge(expected: Expected, diagnosis: dict[str, Any]) -> Verdict:
    culprit = diagnosis.get("culprit") or {}
    return Verdict(
        cause=diagnosis.get("cause") == expected.cause,
        culprit=culprit_matches(expected, str(culprit.get("kind", "")), str(culprit.get("name", ""))),
        mitigation=diagnosis.get("recommended_mitigation") == expected.mitigation,
    )
