"""`diagnose()`: windows, shared preparation, every check, the localizer.

Pure computation on a `PredictionLog`; loading and printing live in `diagnostics.loader` and the CLI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from diagnostics.context import Context, detect_task, prepare_windows, row_loss
from diagnostics.data_checks import data_findings
from diagnostics.drift_before_onset import drifts_before_onset
from diagnostics.findings import Diagnosis, Finding, iso_utc
from diagnostics.late_labels import estimated_performance_finding
from diagnostics.localize import localize
from diagnostics.log import Categorical, ChangeRecord, PredictionLog, present, stack_logs
from diagnostics.loss_carry import carried_drops
from diagnostics.model_checks import performance_finding, prediction_shift_finding
from diagnostics.onset import Candidate, detect_onset
from diagnostics.population_shift import population_shift_findings
from diagnostics.recurring import UNUSED_INFLUENCE
from diagnostics.reference import complete_reference, reference_is_adjacent
from diagnostics.relation import temper_concept
from diagnostics.replay import replay_onset
from diagnostics.same_version import same_version_findings
from diagnostics.score_labels import score_labels
from diagnostics.segment_traffic import segment_traffic_onset
from diagnostics.segments import segment_and_concept_findings
from diagnostics.service_checks import MIN_ROWS as MIN_SERVICE_ROWS
from diagnostics.service_checks import service_findings
from diagnostics.silences import GapRows
from diagnostics.timeparse import TimestampError, parse_utc
from diagnostics.trigger import trigger_for_diagnosis
from diagnostics.versions import MIN_CONCLUSIVE, version_findings


class DiagnosisInputError(ValueError):
    """The log cannot be diagnosed (no rows, an empty window): a user error, not a crash."""


OnsetLike = float | int | str | datetime | None


def to_epoch(value: float | int | str | datetime) -> float:
    """Epoch seconds from a number, an aware/naive (UTC) datetime or ISO-8601/epoch text."""
    if isinstance(value, np.floating | np.integer):
        value = float(value)
    try:
        return parse_utc(value, "onset").timestamp()
    except TimestampError as exc:
        kind = "an ISO-8601 time" if isinstance(value, str) else "a time"
        raise DiagnosisInputError(f"onset {value!r} is not {kind}") from exc


def as_change(record: ChangeRecord | Mapping[str, Any]) -> ChangeRecord:
    if isinstance(record, ChangeRecord):
        return record
    return ChangeRecord(
        timestamp=to_epoch(record["timestamp"]),
        kind=str(record.get("kind", "other")),
        service=str(record.get("service", "") or ""),
        description=str(record.get("description", "") or ""),
        from_version=None if record.get("from_version") is None else str(record.get("from_version")),
        to_version=None if record.get("to_version") is None else str(record.get("to_version")),
    )


def _adjacent_service_findings(ctx: Context, before: PredictionLog, *, explicit_reference: bool) -> list[Finding]:
    """Service checks compare adjacent windows of the same service: just before and after the onset.

    Traffic, latency and errors are properties of a period, not of a data set: an explicit
    reference from another period (last year's training data, another region's log) says
    nothing about how many requests a minute this service normally serves, so it serves the
    feature and model comparisons only, and the service baseline is the log's own rows before
    the onset. A reference that ends right where the log begins (a monitor's trailing window)
    is the adjacent window itself. Without either there is no service finding.
    """
    if not explicit_reference:
        return service_findings(ctx)
    if len(before) >= MIN_SERVICE_ROWS:
        return service_findings(replace(ctx, reference=before))
    if reference_is_adjacent(ctx.reference, ctx.log):
        return service_findings(ctx)
    return []


def _model_baseline(ctx: Context, before: PredictionLog, before_loss: np.ndarray) -> Context:
    """The windows the performance, version and concept checks compare when the reference is another period.

    Training data or last year's log says how the inputs should look, not how well this service
    answers now: it carries no predictions (training data), or predictions scored in sample
    (optimistic), or another version's. The log's own labelled rows before the onset were served
    live by the model that was running, so a version, a concept or a segment that got worse at
    the onset shows against them as it does without `--reference` (a bad deploy judged against
    training data without scores read "no cause found"; an identical redeploy judged against
    in-sample scores read as a bad version). The explicit reference keeps serving the input
    comparisons. Without enough labelled rows before the onset it stays the model baseline too.
    """
    baseline, baseline_loss = before, before_loss
    if int(np.isfinite(before_loss).sum()) < MIN_CONCLUSIVE:
        if not _labels_without_answers(ctx, before):
            return ctx
        # no labels in the log (they arrive weeks later), labels in the reference (training data):
        # the reference teaches the label, the log's rows before the onset say how the version
        # live then answered; each alone judges no version
        baseline = stack_logs(ctx.reference, before, name=ctx.reference.name)
        baseline_loss = np.concatenate([ctx.ref_loss, before_loss])
    mctx = Context(
        log=ctx.log,
        reference=baseline,
        current=ctx.current,
        onset=ctx.onset,
        task=ctx.task,
        ref_loss=baseline_loss,
        cur_loss=ctx.cur_loss,
        labels_apart=baseline is not before,
    )
    prepare_windows(mctx)
    return mctx


def _labels_without_answers(ctx: Context, before: PredictionLog) -> bool:
    """The reference holds labels and no answers (training data); the log holds answers before the onset."""
    label = ctx.reference.label
    if label is None or present(ctx.reference.prediction).any():
        return False
    return int(present(label).sum()) >= MIN_CONCLUSIVE and int(present(before.prediction).sum()) >= MIN_CONCLUSIVE


# schema changes after which the model gets no usable value of the column at all (and an
# hour-of-day input that stopped matching the request's clock: every value is another hour; an
# input whose values no longer relate to the label: joined to other rows)
_UNUSABLE = frozenset({"emptied", "missing", "type_changed", "clock", "label_relation"})


def _explained_elsewhere(ctx: Context, findings: Sequence[Finding], data_score: float, version_score: float) -> float:
    """How much of a performance drop the inputs or a version already explain, in [0, 1].

    A column the model uses that broke at the onset (emptied, gone, changed type) explains a
    drop at that onset outright: its finding's score is capped by the column's influence
    estimate, which is rough for a feature that acts through a curve or an interaction, and a
    concept change landing on the same minute as the break is far less likely than the break
    itself. Otherwise the strongest data or version finding says how much is explained.
    """
    for f in findings:
        used = ctx.influence.get(f.subject, 0.0) > 0.1
        if f.check in ("schema_change", "relation_break") and f.details.get("change") in _UNUSABLE and used:
            return 1.0
    return max(data_score, version_score)


# what a local symptom's own cause looks like: a segment's regression, an input that stopped
# telling the label anything; a drift or range finding on the input is not (a daily-cycle input
# drifts against whole days in any window of a few hours)
_CONFIRMING = {
    "segment": ("segment", "relation_break"),
    "relation": ("relation_break",),
    "replay": ("replayed_requests",),
    "traffic": ("segment_traffic",),
    "errors": ("error_rate",),
}


def _names_feature(d: Diagnosis, cand: Candidate) -> bool:
    if d.cause == "none" or not d.findings:
        return False
    top = d.findings[0]
    kind = cand.series.partition(":")[0]
    if kind == "input":  # an input's own step: confirmed by a data finding on that input
        return top.cause == "data" and top.subject == cand.feature
    if top.check not in _CONFIRMING.get(kind, ()):
        return False
    if top.check in ("replayed_requests", "segment_traffic", "error_rate"):
        return True
    if top.check == "segment":
        parts = top.subject.split(" and ")
        return any(p.startswith((f"{cand.feature}=", f"{cand.feature} ")) for p in parts)
    return top.subject == cand.feature


def _confirmed_candidate(
    log: PredictionLog, changes: list[ChangeRecord], candidates: Sequence[Candidate]
) -> Diagnosis | None:
    """A diagnosis at a local symptom's step, kept when it blames that symptom's own input.

    Onset detection left the window at the last quarter, but one segment's loss or the model's
    errors against one input stepped up somewhere (`Candidate`). Diagnosed at that step, a
    regression confined to the segment or an input joined to the wrong rows has its whole
    current window and no faulty rows in the reference; the step is taken only when that
    diagnosis names the same input, so a healthy log's chance wobble (which names nothing, or
    something else) keeps the last-quarter window and its answer.
    """
    for cand in candidates:
        d = _diagnose(log, changes=changes, onset=cand.timestamp)
        if _names_feature(d, cand):
            return replace(d, onset_detected=True)
    return None


def diagnose(
    log: PredictionLog,
    *,
    reference: PredictionLog | None = None,
    changes: Iterable[ChangeRecord | Mapping[str, Any]] = (),
    onset: OnsetLike = None,
) -> Diagnosis:
    """Localize a regression in `log` to a data, model or service cause (see docs/contracts.md).

    The BLAS library runs on one thread meanwhile: the diagnosis's matrix products are small (a
    sample of 10,000-40,000 rows by a few dozen inputs at most), a second thread saves nothing
    on them, and its workers spin between products: on a two-core machine at load 9 a 1M-row
    diagnosis cost 5.4-6.2 s of CPU on two threads, 4.2-4.5 s on one. One thread also makes the
    figures the same on every machine: OpenBLAS splits a long dot product among its threads, so
    its last bits followed the core count.
    """
    with _one_blas_thread():
        return _diagnose(log, reference=reference, changes=changes, onset=onset)


class _BlasThreads:
    """One BLAS thread while any diagnosis of the process runs, the library's own count once none does.

    The limit is the process's, not a thread's: two diagnoses at once (the bot's scheduler runs four
    workers) each setting it and restoring it on leaving would give the second its two threads back
    while it still ran (and its last bits with them). The first to enter sets it, the last to leave
    restores it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._limit: threadpool_limits | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._limit = threadpool_limits(limits=1, user_api="blas")
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and self._limit is not None:
                    self._limit.restore_original_limits()
                    self._limit = None


_one_blas_thread = _BlasThreads()


def _diagnose(
    log: PredictionLog,
    *,
    reference: PredictionLog | None = None,
    changes: Iterable[ChangeRecord | Mapping[str, Any]] = (),
    onset: OnsetLike = None,
) -> Diagnosis:
    started = time.perf_counter()
    if len(log) == 0:
        raise DiagnosisInputError(f"{log.name}: the log has no rows")
    given_log, given_reference = log, reference
    log, reference = score_labels(log.sorted_by_time(), reference)
    change_list = sorted((as_change(c) for c in changes), key=lambda c: c.timestamp)
    notes: list[Finding] = [Finding("data", "input_quality", "log", 0.01, note) for note in log.notes]

    task = detect_task(log.prediction, log.label)
    full_loss = row_loss(log.prediction, log.label, task)
    log_rows = GapRows(log.timestamp)  # its silences, weighed once for the onset scan and the traffic check

    traffic_steps: tuple[float, ...] = ()
    if onset is None:
        found = detect_onset(log, full_loss, change_list, log_rows)
        onset_ts, detected, traffic_steps = found.timestamp, found.detected, found.traffic_steps
        if reference is None and not detected:
            # a replayed hour or one segment's fall moves nothing the onset scan sees
            extra = tuple(
                Candidate(0.0, at, series)
                for at, series in ((replay_onset(log), "replay:"), (segment_traffic_onset(log), "traffic:"))
                if at is not None
            )
            confirmed = _confirmed_candidate(given_log, change_list, (*found.candidates, *extra))
            if confirmed is not None:
                return replace(confirmed, runtime_ms=(time.perf_counter() - started) * 1000.0)
        if reference is None and found.series.endswith(":mix"):
            # a segment whose requests fell moves its input's mix too, but the clock multiplies a
            # segment's share, which an added step places late: the segment's own check dates it
            # by hour-matched rates (one more diagnosis, only when a segment's traffic fell)
            fell = segment_traffic_onset(log)
            confirmed = None if fell is None else _confirmed_candidate(
                given_log, change_list, (Candidate(0.0, fell, "traffic:"),))
            if confirmed is not None:
                return replace(confirmed, runtime_ms=(time.perf_counter() - started) * 1000.0)
        if reference is not None and not found.detected:
            onset_ts = float(log.timestamp[0])
    else:
        onset_ts, detected = to_epoch(onset), False

    split = int(np.searchsorted(log.timestamp, onset_ts, side="left"))
    current = log.take(slice(split, None))
    before = log.take(slice(0, split))  # the log's own rows before the onset: a baseline for every comparison
    if len(current) == 0:
        raise DiagnosisInputError(
            f"{log.name}: no rows at or after the onset {iso_utc(onset_ts)} "
            f"(the log ends {iso_utc(float(log.timestamp[-1]))})"
        )
    if reference is None:
        ref = before
        ref_loss = full_loss[:split]
        if len(ref) == 0:
            raise DiagnosisInputError(
                f"{log.name}: no rows before the onset {iso_utc(onset_ts)} to compare with; "
                "pass --reference or an earlier onset"
            )
    else:
        if len(reference) == 0:
            raise DiagnosisInputError(f"{reference.name}: the reference has no rows")
        ref = complete_reference(reference, log).sorted_by_time()
        if isinstance(ref.prediction, Categorical) != isinstance(log.prediction, Categorical):
            kinds = {True: "class names", False: "numbers"}
            raise DiagnosisInputError(
                f"{reference.name}: column 'prediction' holds {kinds[isinstance(ref.prediction, Categorical)]} "
                f"but {log.name} holds {kinds[isinstance(log.prediction, Categorical)]}; they cannot be compared"
            )
        ref_loss = row_loss(ref.prediction, ref.label, task)
    cur_loss = full_loss[split:]

    ctx = Context(
        log=log, reference=ref, current=current, onset=onset_ts, task=task, ref_loss=ref_loss, cur_loss=cur_loss,
        log_rows=log_rows,
    )
    prepare_windows(ctx)
    far_reference = reference is not None and not reference_is_adjacent(ref, log)
    mctx = _model_baseline(ctx, before, full_loss[:split]) if far_reference else ctx

    findings: list[Finding] = list(notes)
    findings += data_findings(ctx)
    if reference is not None:  # a drift the log's own rows showed before the onset predates it (`drift_before_onset`)
        findings = drifts_before_onset(ctx, before, full_loss[:split], findings)
    data_score = max((f.score for f in findings if f.cause == "data" and f.check != "input_quality"), default=0.0)
    perf, perf_mag = performance_finding(mctx)
    if perf is None:
        perf, _ = estimated_performance_finding(mctx)  # late labels; concept/segment need realized ones
    if perf is not None:
        findings.append(perf)
    shifted = population_shift_findings(mctx, perf_mag)  # the mix moved onto a harder segment
    findings += shifted
    data_score = max([data_score, *(f.score for f in shifted)])
    findings, carried = carried_drops(mctx, findings, UNUSED_INFLUENCE) if perf_mag > 0 else (findings, 0.0)
    versions = version_findings(mctx, change_list, data_score)
    if not versions:  # no new version: the one that served may still answer the same inputs differently
        # ... unless an input's moved rows carry the drop: moved inputs change a version's answers
        # too (a fifth of a PC price model's month index moved read "answers changed" at z 10)
        carried_score = max((f.score for f in findings if f.details.get("carried_share")), default=0.0)
        versions = same_version_findings(mctx, max(data_score, carried_score))
    findings += versions
    shift = prediction_shift_finding(mctx)
    if shift is not None:
        findings.append(shift)
    version_score = max((f.score for f in versions), default=0.0)
    explained = max(_explained_elsewhere(ctx, findings, data_score, version_score), carried)
    findings += segment_and_concept_findings(mctx, perf_mag, explained, findings)
    if far_reference and mctx is ctx:
        findings = temper_concept(ctx, findings, full_loss[:split])
    findings += _adjacent_service_findings(ctx, before, explicit_reference=reference is not None)

    verdict = localize(findings)
    trigger = trigger_for_diagnosis(
        change_list, culprit_kind=verdict.culprit_kind, culprit_name=verdict.culprit_name, onset=onset_ts, services=None
    )
    traffic = (verdict.cause, verdict.culprit_kind) == ("service", "traffic")
    for traffic_step in traffic_steps if verdict.cause == "none" or traffic else ():
        # a harmless version dated the log: the traffic rate's own step, kept when it is the
        # traffic's (a drop read from the version's window on is dated by the rate's own step)
        at_rate = _diagnose(given_log, reference=given_reference, changes=change_list, onset=traffic_step)
        if at_rate.cause == "service" and at_rate.culprit_kind == "traffic":
            return replace(at_rate, onset_detected=True, runtime_ms=(time.perf_counter() - started) * 1000.0)
    runtime_ms = (time.perf_counter() - started) * 1000.0
    return Diagnosis(
        cause=verdict.cause,  # type: ignore[arg-type]
        culprit_kind=verdict.culprit_kind,  # type: ignore[arg-type]
        culprit_name=verdict.culprit_name,
        confidence=verdict.confidence,
        onset=onset_ts,
        recommended_mitigation=verdict.mitigation,  # type: ignore[arg-type]
        findings=verdict.findings,
        runtime_ms=runtime_ms,
        onset_detected=detected,
        summary=verdict.summary,
        trigger=trigger,
    )
