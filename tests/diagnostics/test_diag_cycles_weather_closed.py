"""Weather from day to day on a shop closed at night: the log's own level blocks, some of them empty.

A temperature wanders from day to day on top of its daily wave; the shop is open 08:00-19:00, so a
block of the night holds no row. With the alert at the second day's opening the reference is one
open day, and the window's later days sit 1.5-3.5 degrees beyond it ('temp_c drifted' on main's
code). The log tells weather from a fault (`phase.level_steps`): its
level steps between the window's own days more than across the onset, and a sensor's offset since the
onset is a step there beyond all of those. The logs are `test_diag_cycles_weather_walk`'s, closed
at night.
"""

from __future__ import annotations

from diagnostics import diagnose
from diagnostics.log import PredictionLog
from diagnostics.phase import level_steps
from tests.diagnostics.test_diag_cycles_weather_walk import _log as walk_log
from tests.diagnostics.test_diag_cycles_weather_walk import _top

LEVELS = {0: [0.0, 0.3, -1.5, -3.5, -1.0], 1: [0.0, -0.4, 1.6, 3.2, 1.1], 2: [0.5, 0.2, 2.1, -0.3, -2.2]}


def _log(seed: int, offset: float = 0.0, fifth: float = 0.0) -> tuple[PredictionLog, float]:
    """Five open days 08:00-19:00; the onset at the second day's opening."""
    return walk_log(seed, offset, fifth, levels=LEVELS[seed], onset_day=1 + 8 / 24, open_hours=(8.0, 19.0), n=30000)


def test_a_closed_shops_later_days_are_weather_and_an_offset_or_a_fifth_since_the_opening_a_fault() -> None:
    # healthy: 'temp_c drifted' on main's code, none now; the faults are found on both
    for seed in LEVELS:
        for offset, fifth, expected in ((0.0, 0.0, ("none", None)), (8.0, 0.0, ("data", "temp_c")),
                                        (0.0, 8.0, ("data", "temp_c"))):
            log, onset = _log(seed, offset=offset, fifth=fifth)
            d = diagnose(log, onset=onset)
            assert (d.cause, d.culprit_name if d.cause != "none" else None) == expected, (seed, offset, fifth, _top(d))


def test_level_steps_reads_two_blocks_before_the_onset_when_the_window_steps_twice() -> None:
    # the night's block is empty: two levels before the onset, the window's days after it
    log, onset = _log(0)
    steps = level_steps(log.features["temp_c"], log.timestamp, onset)
    assert steps is not None
    at, own, _, _, _ = steps
    assert at < own  # the window's days step further than the onset's
