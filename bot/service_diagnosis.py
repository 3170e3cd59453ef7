"""Diagnose a catalog service: its series from Prometheus, its prediction log, its changes.

The catalog says what to read (the service's and its dependencies' PromQL, its prediction log);
this module turns that into the plain spec `diagnostics` reads, picks the time window and step,
and lets `diagnostics.service_diagnosis.combine` weigh both sources. Used by
`mlresponder diagnose --service` and by the runbooks' service diagnosis.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from diagnostics.engine import DiagnosisInputError, diagnose
from diagnostics.findings import Diagnosis, Finding
from diagnostics.loader import LogError, load_log
from diagnostics.log import ChangeRecord, PredictionLog
from diagnostics.prometheus import read_series
from diagnostics.series import DependencySpec, SeriesSpec, ServiceSpec
from diagnostics.series_figure import figure_data
from diagnostics.service_causes import CURRENT_S, GUARD_S, REFERENCE_S, diagnose_series
from diagnostics.service_diagnosis import combine

LOOKBACK_S = 6 * 3600.0  # without an onset: the last six hours, the onset is found in them
MARGIN_S = 600.0  # a little more history than the reference needs (the rolling level's edges)
MIN_STEP_S = 15.0
MAX_POINTS = 1500


class ServiceInputError(ValueError):
    """The service cannot be diagnosed at all (nothing to read, an explicit log that fails)."""


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    step: float


def window(onset: float | None, now: float) -> Window:
    """Reference before the onset and the current window after it; the last hours without one."""
    if onset is None:
        start, end = now - LOOKBACK_S, now
    else:
        start, end = onset - REFERENCE_S - GUARD_S - MARGIN_S, min(now, onset + CURRENT_S)
    step = max(MIN_STEP_S, math.ceil((end - start) / MAX_POINTS))
    return Window(start, end, float(step))


def series_spec(service: Any) -> ServiceSpec:
    """The catalog service's series as the plain spec diagnostics reads (``service.series()``)."""
    own: list[SeriesSpec] = []
    deps: dict[str, list[SeriesSpec]] = {}
    for ref in service.series():
        spec = SeriesSpec(ref.key, ref.query, ref.kind)
        if ref.dependency is None:
            own.append(spec)
        else:
            deps.setdefault(ref.dependency, []).append(spec)
    return ServiceSpec(
        service.name,
        tuple(own),
        tuple(DependencySpec(name, tuple(specs)) for name, specs in deps.items()),
    )


def diagnose_service(service: Any, **kwargs: Any) -> Diagnosis:
    """Diagnose ``service`` (a catalog `Service`) from whatever sources can be read (see `diagnose_service_full`)."""
    return diagnose_service_full(service, **kwargs)[0]


def diagnose_service_full(
    service: Any,
    *,
    prometheus_url: str | None,
    log: str | None = None,
    log_from_catalog: bool = True,
    changes: Iterable[ChangeRecord] = (),
    onset: float | None = None,
    now: float | None = None,
    timeout: float = 10.0,
    log_since: float | None = None,
    reference: str | None = None,
) -> tuple[Diagnosis, dict[str, Any] | None]:
    """The diagnosis, and the numbers of its series figure (None when no series were read).

    ``log`` given explicitly must load (else `ServiceInputError`); the catalog's prediction log
    that cannot be read becomes a finding, like a Prometheus that is down. The prediction log is
    compared against ``reference`` (a source from configuration: a runbook's rendered
    ``service.reference``), else the catalog's ``reference``; one that cannot be read is a
    finding too, and the log's own rows before the onset are the reference.
    """
    from bot.secrets import resolve_refs

    started = time.perf_counter()
    now = time.time() if now is None else now
    if onset is not None and onset > now:
        raise ServiceInputError(f"onset {onset} is in the future")
    change_list = sorted(changes, key=lambda c: c.timestamp)
    spec = series_spec(service)
    own_names = tuple(n for n in (getattr(getattr(service, "model", None), "registry", None),) if n)
    log_source = log or (service.prediction_log if log_from_catalog else None)
    has_series = bool(spec.series or spec.dependencies)
    if not has_series and not log_source:
        raise ServiceInputError(
            f"service {service.name!r}: the catalog gives it no metrics and no prediction_log, and no --log was given"
        )
    if has_series and not prometheus_url and not log_source:
        raise ServiceInputError(
            f"service {service.name!r}: no Prometheus to read its series from (pass --prometheus or set "
            "MLRESPONDER_PROMETHEUS_URL) and no prediction log"
        )
    notes: list[Finding] = []
    verdict = None
    if has_series and prometheus_url:
        w = window(onset, now)
        sset = read_series(spec, prometheus_url, w.start, w.end, w.step, timeout=timeout)
        verdict = diagnose_series(sset, onset=onset, changes=change_list, own_names=own_names)
    elif has_series:
        notes.append(
            Finding(
                "none",
                "source_unavailable",
                "prometheus",
                0.0,
                "No Prometheus configured (--prometheus or MLRESPONDER_PROMETHEUS_URL): "
                "the service's and its dependencies' series were not read.",
            )
        )
    log_diagnosis = None
    if log_source:
        log_diagnosis = _log_diagnosis(
            log_since,
            service.name,
            log_source,
            log is not None,
            resolve_refs,
            change_list,
            onset if onset is not None else (verdict.onset if verdict and verdict.found else None),
            notes,
            reference if reference is not None else (resolve_refs(service.reference) if service.reference else None),
        )
    runtime_ms = (time.perf_counter() - started) * 1000.0
    out = combine(
        verdict,
        log_diagnosis,
        service=service.name,
        own_names=own_names,
        changes=change_list,
        notes=notes,
        runtime_ms=runtime_ms,
    )
    if out.onset == 0.0:
        out.onset = onset if onset is not None else now
    return out, (figure_data(verdict) if verdict is not None else None)


def _log_diagnosis(
    since: float | None,
    name: str,
    source: str,
    explicit: bool,
    resolve: Any,
    changes: list[ChangeRecord],
    onset: float | None,
    notes: list[Finding],
    reference: str | None = None,
) -> Diagnosis | None:
    shown = source if explicit else f"the catalog's prediction_log of {name}"
    target = source if explicit else resolve(source)
    try:
        plog = load_log(target)
    except LogError as exc:
        if explicit:
            raise ServiceInputError(str(exc)) from None
        # the resolved location may hold a secret (a database password): show the reference only
        reason = _first_line(exc).replace(target, source)
        notes.append(
            Finding(
                "none",
                "source_unavailable",
                "prediction_log",
                0.0,
                f"{shown} could not be read ({reason}); diagnosed from the series alone.",
            )
        )
        return None
    if since is not None:  # a runbook reads only the last day or so of a long log
        plog = plog.take(np.flatnonzero(np.asarray(plog.timestamp) >= since))
    ref = _reference(name, reference, notes)
    try:
        return diagnose(plog, reference=ref, changes=changes, onset=onset)
    except DiagnosisInputError as exc:
        notes.append(
            Finding(
                "none",
                "source_unavailable",
                "prediction_log",
                0.0,
                f"{shown} could not be diagnosed: {_first_line(exc)}",
            )
        )
        return None


def _reference(name: str, source: str | None, notes: list[Finding]) -> PredictionLog | None:
    """The service's reference set, or None (with a finding saying why) when it cannot be read."""
    if not source:
        return None
    try:
        return load_log(source, reference=True)
    except LogError as exc:
        # the location may hold a secret (a database password): the message names the catalog field
        reason = _first_line(exc).replace(source, "the reference")
        notes.append(
            Finding(
                "none",
                "source_unavailable",
                "reference",
                0.0,
                f"the catalog's reference of {name} could not be read ({reason}); "
                "the log's own rows before the onset were the reference.",
            )
        )
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
