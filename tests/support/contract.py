"""The `mlresponder diagnose --format json` keys, written out from docs/contracts.md.

Spelled here once, by hand, not derived from the code: a test that compares the output with the
code's own field list could not catch the code drifting from the published contract.
"""

DIAGNOSIS_KEYS = frozenset({
    "cause", "culprit", "trigger", "confidence", "onset", "recommended_mitigation", "findings", "runtime_ms",
})
FINDING_KEYS = frozenset({"cause", "check", "subject", "score", "severity", "evidence"})
