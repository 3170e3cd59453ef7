"""Concept drift claimed at hours of the day the reference never saw (issue 12, cycles checker).

A model that reads the hour answers each hour by what it learned of it, and its loss follows the
clock: card fraud is likelier at night, so a calibrated score's Brier score is higher there. A
short log whose reference is its first daytime hours, judged over the night after, read
"Performance dropped across the traffic; the inputs held ...: the relation between inputs and
labels changed (concept drift)" though the hour input had moved to values the reference never had
(healthy seeds 6, 31 and 117). Each log is built here with numpy and diagnosed through the Python
API, with the alert's onset given.
"""

from __future__ import annotations

import numpy as np

from diagnostics import diagnose
from diagnostics.log import PredictionLog

HOUR = 3600.0
START = 1_780_000_000.0 - 1_780_000_000.0 % 86400.0 + 6 * HOUR  # 06:00 UTC (the service's zone)
ONSET = START + 10 * HOUR  # 16:00: the window runs through the night


def _log(seed: int, hours: float, turned: bool = False) -> PredictionLog:
    """A fraud score that reads the hour but learned too little of the night's risk; `turned`: since
    the onset fraud is likelier at every hour (the relation moved)."""
    rng = np.random.default_rng(seed)
    n = int(hours * 60 * 5)
    t = np.sort(START + rng.uniform(0, hours * HOUR, n))
    hour = np.floor((t % 86400.0) / HOUR)
    night = ((hour >= 22) | (hour < 5)).astype(float)
    x = rng.normal(0, 1, n)
    score = 1 / (1 + np.exp(-(-3.0 + 1.0 * x + 0.4 * night)))
    logit = -3.0 + 1.0 * x + 1.6 * night + np.where((t >= ONSET) & turned, 1.2, 0.0)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return PredictionLog(timestamp=t, model_version=np.full(n, "v1"), prediction=score, label=label,
                         features={"x": x, "amount": rng.lognormal(3, 0.8, n), "hour": hour})


def test_a_window_at_night_after_a_daytime_reference_is_no_concept_drift() -> None:
    # 24 hours: nothing of the window's night was ever in the reference; 30 hours: 6 of its 20 hours were
    for seed, hours in ((1, 24.0), (2, 24.0), (3, 30.0)):
        d = diagnose(_log(seed, hours), onset=ONSET)
        assert d.cause == "none", (seed, hours, [(f.check, round(f.score, 2), f.evidence[:90]) for f in d.findings[:3]])


def test_a_relation_that_turned_still_shows_at_the_hours_the_reference_saw() -> None:
    # guard: the input's sign flips at the onset; the window's six daytime hours of the next day
    # show the drop against the same hours of the reference
    for seed in (1, 2):
        d = diagnose(_log(seed, 30.0, turned=True), onset=ONSET)
        assert (d.cause, d.culprit_kind) == ("model", "concept"), (seed, d.findings[:2])
