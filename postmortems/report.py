"""The numbers a team reviews each month: MTTD, MTTA, MTTM and MTTR by service and by severity.

Each incident's spans are the postmortem's own (`postmortems.content.response_timings`), so the
report and the drafts can never disagree about how long something took. Means are over the
incidents that reached each milestone; the count of those is shown beside each mean.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from postmortems.content import response_timings  # noqa: E402

METRICS = (("detect", "MTTD"), ("acknowledge", "MTTA"), ("mitigate", "MTTM"), ("resolve", "MTTR"))


@dataclass
class Group:
    name: str
    incidents: int = 0
    values: dict[str, list[float]] = field(default_factory=lambda: {key: [] for key, _ in METRICS})

    def add(self, timings: dict[str, float | None]) -> None:
        self.incidents += 1
        for key, _ in METRICS:
            value = timings.get(key)
            if value is not None:
                self.values[key].append(value)

    def mean(self, key: str) -> float | None:
        found = self.values[key]
        return statistics.fmean(found) if found else None

    def row(self) -> dict[str, Any]:
        return {"name": self.name, "incidents": self.incidents,
                **{label: _rounded(self.mean(key)) for key, label in METRICS},
                **{f"{label}_n": len(self.values[key]) for key, label in METRICS}}


@dataclass
class Report:
    since: datetime
    until: datetime
    overall: Group
    by_service: list[Group]
    by_severity: list[Group]

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "overall": self.overall.row(),
                "by_service": [g.row() for g in self.by_service],
                "by_severity": [g.row() for g in self.by_severity]}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def build_report(records: list[dict[str, Any]], since: datetime, until: datetime) -> Report:
    """``records``: incidents as the API shows them (`bot.incidents.incident_to_dict`)."""
    overall = Group("all")
    services: dict[str, Group] = {}
    severities: dict[str, Group] = {}
    for record in records:
        _rows, timings = response_timings(record)
        overall.add(timings)
        services.setdefault(str(record.get("service")), Group(str(record.get("service")))).add(timings)
        severities.setdefault(str(record.get("severity")), Group(str(record.get("severity")))).add(timings)
    return Report(since, until, overall, [services[k] for k in sorted(services)],
                  [severities[k] for k in sorted(severities)])


def _cell(group: Group, key: str, label: str) -> str:
    mean = group.mean(key)
    if mean is None:
        return "—"
    n = len(group.values[key])
    return f"{mean:.1f}" + (f" ({n}/{group.incidents})" if n != group.incidents else "")


def to_markdown(report: Report, chart: str | None = None) -> str:
    head = "| {} | incidents | " + " | ".join(f"{label} (min)" for _, label in METRICS) + " |"
    rule = "| --- | ---: | " + " | ".join("---:" for _ in METRICS) + " |"

    def table(title: str, groups: list[Group]) -> list[str]:
        lines = [head.format(title), rule]
        for g in groups:
            lines.append(f"| {g.name} | {g.incidents} | " + " | ".join(_cell(g, k, lab) for k, lab in METRICS) + " |")
        return lines

    out = [
        f"# Incident response report, {report.since:%Y-%m-%d} → {report.until:%Y-%m-%d}", "",
        f"{report.overall.incidents} incident(s) opened in the period. Minutes, mean over the incidents that reached "
        "each step (n/total when not all did): MTTD onset → alert, MTTA alert → acknowledged, MTTM alert → "
        "mitigated, MTTR alert → resolved.", "",
        *table("overall", [report.overall]), "", "## By service", "", *table("service", report.by_service), "",
        "## By severity", "", *table("severity", report.by_severity), "",
    ]
    if chart:
        out += [f"![Mean response times by service]({chart})", ""]
    return "\n".join(out)


def draw_chart(report: Report, path: Path) -> Path:
    """Grouped bars: one group per service, one bar per metric (minutes)."""
    groups = report.by_service or [report.overall]
    fig = Figure(figsize=(max(6.0, 1.6 * len(groups) + 2), 4.0), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(METRICS)
    for i, (key, label) in enumerate(METRICS):
        xs = [j + (i - (len(METRICS) - 1) / 2) * width for j in range(len(groups))]
        ax.bar(xs, [g.mean(key) or 0.0 for g in groups], width=width, label=label)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g.name for g in groups], rotation=15, ha="right")
    ax.set_ylabel("minutes (mean)")
    ax.set_title(f"Response times by service, {report.since:%Y-%m-%d} → {report.until:%Y-%m-%d}")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
