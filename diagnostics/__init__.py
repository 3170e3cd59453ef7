"""Diagnostics: localize an ML regression to a data, model or service cause.

Pure numpy/scipy: arrays in (`PredictionLog`), dataclasses out (`Diagnosis`, `Finding`).
Loading files and printing reports live in `diagnostics.loader` and `bot.commands.diagnose`.
"""

from diagnostics.engine import DiagnosisInputError, diagnose
from diagnostics.findings import Diagnosis, Finding
from diagnostics.log import Categorical, ChangeRecord, PredictionLog
from diagnostics.report import to_markdown
from diagnostics.stats import js_divergence, ks_2samp, mann_whitney_u, psi

__all__ = [
    "Categorical",
    "ChangeRecord",
    "Diagnosis",
    "DiagnosisInputError",
    "Finding",
    "PredictionLog",
    "diagnose",
    "js_divergence",
    "ks_2samp",
    "mann_whitney_u",
    "psi",
    "to_markdown",
]
