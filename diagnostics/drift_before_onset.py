"""A drift against a reference file that the log's own rows already showed before the onset.

A reference passed as a file (a training or validation file of other days, the previous window)
says how an input looked then; the window's weather, or its weekend, may sit elsewhere: a day 7
degrees warmer than any of a training file's three days (KS 0.4-0.6, 60-80% of the rows out of
the file's range), a warm spell the file's days never held. A file a day before a ten-day log
counts as adjacent for the service checks (`reference.reference_is_adjacent`) and is still a file
of other days: its comparison read a cold week as 'outdoor_temp drifted' as well. An alert's onset
is when something changed. A fault starts there: a sensor's offset, a unit, a fifth of the rows
moved show against the log's own rows just before the onset as they show against the file.
Weather and the calendar were there before it: the log's own rows before the onset sit where the
window sits, and judged against them (every check of `data_checks` on the input, the log's own
rows as the reference, as without a file) the input does not move. Such a drift is kept as
evidence (score 0, its words say why) and no longer names a cause. A finding against the own rows
at score 0 (a slight move beyond chance, kept for the loss to weigh) is no move.

Judged only when the log holds `MIN_BEFORE_ROWS` rows and `MIN_BEFORE_S` seconds before the onset:
fewer say too little about how the input looked live, and the file's comparison stands.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from diagnostics.context import Context, prepare_windows
from diagnostics.data_checks import WAVE_CHECKS, data_findings
from diagnostics.findings import Finding
from diagnostics.log import Categorical, PredictionLog
from diagnostics.phase import HOUR_S

MIN_BEFORE_ROWS = 500
MIN_BEFORE_S = 2 * HOUR_S


def drifts_before_onset(
    ctx: Context, before: PredictionLog, before_loss: np.ndarray, findings: Sequence[Finding]
) -> list[Finding]:
    """`findings`, each numeric drift or out-of-range finding the log's own rows before the onset show too at 0."""
    moved = frozenset(
        f.subject for f in findings
        if f.cause == "data" and f.check in WAVE_CHECKS and f.score > 0.0
        and not isinstance(ctx.current.features.get(f.subject), Categorical)
    )
    if not moved or len(before) < MIN_BEFORE_ROWS:
        return list(findings)
    if float(before.timestamp[-1]) - float(before.timestamp[0]) < MIN_BEFORE_S:
        return list(findings)
    own = Context(
        log=ctx.log, reference=before, current=ctx.current, onset=ctx.onset, task=ctx.task,
        ref_loss=before_loss, cur_loss=ctx.cur_loss,
    )
    prepare_windows(own)
    still = {f.subject for f in data_findings(own, only=moved) if f.check in WAVE_CHECKS and f.score > 0.0}
    out = []
    for f in findings:
        if f.subject in moved and f.subject not in still and f.check in WAVE_CHECKS:
            f.details["before_onset"] = True
            f.evidence = (
                f"{f.evidence} The log's own rows before the onset already showed it: against them the input "
                "did not move at the onset."
            )
            f.score = 0.0
        out.append(f)
    return out
