"""Drafting a postmortem from an incident record: content, figures, markdown, files.

Pure with respect to the store: it takes the incident's API projection and writes files,
so `postmortems.service` decides when to read and where to record, and tests can draft from
a record built by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from diagnostics.series_figure import draw_png
from postmortems.content import BlameNote, Content, build_content, fmt_time, parse_time
from postmortems.figures import Marker, plot_feature_distribution, plot_metric
from postmortems.impact import PredictionLogError, load_prediction_log, measure_impact, metric_series
from postmortems.render import render_markdown, scrub


@dataclass
class Draft:
    path: Path
    markdown: str
    figures: list[Path] = field(default_factory=list)
    blame_review: list[BlameNote] = field(default_factory=list)
    prediction_log: str | None = None


def _metric_kind(record: dict[str, Any]) -> str:
    kind = ((record.get("diagnosis") or {}).get("culprit") or {}).get("kind")
    return {"latency": "latency", "errors": "errors"}.get(str(kind), "quality")


def _markers(record: dict[str, Any], content: Content) -> list[Marker]:
    markers: list[Marker] = []
    if content.onset:
        markers.append(Marker(content.onset, "onset", "onset"))
    opened = parse_time(record.get("created_at"))
    if opened:
        markers.append(Marker(opened, "alert / incident opened", "alert"))
    for event in record.get("timeline", []):
        if event.get("kind") == "change" and event["data"].get("origin") != "mitigation":
            data = event["data"]
            what = f"v{data['to_version']}" if data.get("to_version") else str(data.get("description") or "")
            label = f"{data.get('kind')}: {what[:40]}{'…' if len(what) > 40 else ''}"
            markers.append(Marker(parse_time(event["at"]) or opened or content.onset, label, "change"))  # type: ignore[arg-type]
    for m in record.get("mitigations", []):
        executed = parse_time(m.get("executed_at"))
        if executed:
            markers.append(Marker(executed, f"{m.get('action')} executed", "mitigation"))
    return markers


def _figures(record: dict[str, Any], content: Content, frame: pd.DataFrame | None, log_note: str,
             out_dir: Path, stem: str) -> tuple[list[dict[str, str]], list[Path]]:
    metric_title = "Affected metric around the onset"
    feature_title = "Culprit feature: reference vs current distribution"
    series_shown, series_paths = _series_figure(record, out_dir, stem)
    if frame is None:
        return ([{"title": metric_title, "file": "", "note": log_note},
                 {"title": feature_title, "file": "", "note": log_note}, *series_shown], series_paths)
    shown: list[dict[str, str]] = []
    paths: list[Path] = []
    onset = content.onset or frame["timestamp"].iloc[len(frame) // 2].to_pydatetime()
    end = content.impact_end or frame["timestamp"].iloc[-1].to_pydatetime()
    # enough before the onset to show the normal level, and the recovery after the mitigation
    pad = max(3 * (end - onset), timedelta(minutes=1))
    series = metric_series(frame, _metric_kind(record), bins=60, start=onset - pad, end=end + pad)
    if series.times:
        path = plot_metric(series, _markers(record, content), f"{record.get('id')}: {series.name}",
                           out_dir / f"{stem}-metric.png")
        paths.append(path)
        shown.append({"title": metric_title, "file": path.name,
                      "caption": f"{series.name}, with onset, alert, deploy and mitigation markers"})
    else:
        shown.append({"title": metric_title, "file": "", "note": "the prediction log has no rows around the onset"})

    culprit = (record.get("diagnosis") or {}).get("culprit") or {}
    feature = str(culprit.get("name") or "")
    if culprit.get("kind") != "feature":
        shown.append({"title": feature_title, "file": "",
                      "note": f"the culprit is not an input feature ({culprit.get('kind') or 'none'})"})
    elif feature not in frame.columns:
        shown.append({"title": feature_title, "file": "", "note": f"the prediction log has no column `{feature}`"})
    else:
        ts = frame["timestamp"]
        reference = frame.loc[ts < pd.Timestamp(onset), feature]
        current = frame.loc[(ts >= pd.Timestamp(onset)) & (ts <= pd.Timestamp(end)), feature]
        path = plot_feature_distribution(reference, current, feature, out_dir / f"{stem}-feature.png")
        paths.append(path)
        shown.append({"title": feature_title, "file": path.name,
                      "caption": f"`{feature}` before the onset (reference) and during the impact (current)"})
    return [*shown, *series_shown], [*paths, *series_paths]


def _series_figure(record: dict[str, Any], out_dir: Path, stem: str) -> tuple[list[dict[str, str]], list[Path]]:
    """The service diagnosis' top series around the onset, when the diagnosis read Prometheus."""
    data = (record.get("diagnosis") or {}).get("series_figure")
    if not isinstance(data, dict) or not data.get("series"):
        return [], []
    path = draw_png(data, f"{record.get('id')}: the service's series around the onset",
                               out_dir / f"{stem}-series.png")
    culprit = data.get("culprit") or {}
    caption = (f"top series of the service and its dependencies; the culprit, {culprit.get('kind')} "
               f"`{culprit.get('name')}`, in red" if culprit.get("kind") not in (None, "none")
               else "top series of the service and its dependencies; none moved beyond its usual range")
    return [{"title": "Service series around the onset", "file": path.name, "caption": caption}], [path]


def draft(
    record: dict[str, Any],
    out_dir: str | Path,
    *,
    prediction_log: str | Path | None = None,
    catalog_log: str | None = None,
    team_dirs: Iterable[str | Path] = (),
    secrets: Iterable[str] = (),
    now: datetime | None = None,
    tracking: dict[str, dict[str, str]] | None = None,
) -> Draft:
    """Write ``<ref>-postmortem.md`` and its figures into ``out_dir``; return what was written."""
    secret_list = [s for s in secrets if s]
    record = scrub(record, secret_list)  # figures and markers read the record too, not only the template
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = str(record.get("id"))
    # The log named by the caller, else the one of the incident's catalog service; never one the
    # alert names (its labels and annotations are text, not configuration).
    log_path = str(prediction_log) if prediction_log else catalog_log
    frame: pd.DataFrame | None = None
    log_note = "no prediction log is known for this incident's service (pass one with --log)"
    if log_path is not None:
        try:
            frame = load_prediction_log(log_path)
        except PredictionLogError as exc:
            if prediction_log:
                raise  # the caller named this log: a typo must not pass as "no data"
            log_note = str(exc)

    content = build_content(record, tracking)
    if frame is not None:
        start = content.onset or frame["timestamp"].iloc[0].to_pydatetime()
        end = content.impact_end or frame["timestamp"].iloc[-1].to_pydatetime()
        impact = measure_impact(frame, start, end)
        content.impact.update({
            "predictions": impact.predictions,
            "failed_requests": impact.failed_requests,
            "wrong_predictions": impact.wrong_predictions,
            "excess_wrong_predictions": impact.excess_wrong_predictions,
            "versions": sorted(set(content.impact["versions"]) | set(impact.model_versions)),
        })
        if not content.impact["models"] and content.impact["versions"]:
            content.impact["models"] = [str(record.get("service"))]
    else:
        content.impact["log_note"] = log_note
    content.figures, figure_paths = _figures(record, content, frame, log_note, out, stem)

    context = content.as_template_context()
    context["generated_at"] = fmt_time(now or datetime.now(UTC))
    markdown = render_markdown(context, team_dirs=team_dirs, secrets=secret_list)
    path = out / f"{stem}-postmortem.md"
    path.write_text(markdown, encoding="utf-8")
    return Draft(path, markdown, figure_paths, [BlameNote(**scrub(vars(b), secret_list))
                                                for b in content.blame_review], log_path)
