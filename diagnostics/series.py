"""Service series: what to read (a plain spec) and what was read (values on one time grid).

The spec is what the catalog says about a service, reduced to what diagnostics needs: series
key -> (PromQL, kind) for the service and for each dependency. It is built by the CLI from the
catalog; diagnostics never reads the catalog itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

SeriesKind = Literal["latency", "errors", "traffic", "resource"]
SERIES_KINDS: tuple[str, ...] = ("latency", "errors", "traffic", "resource")


def kind_for_key(key: str) -> SeriesKind:
    """The culprit kind a series key stands for (the catalog contract's naming rule)."""
    k = key.strip().lower()
    if k.startswith("latency"):
        return "latency"
    if k == "error_rate" or k.startswith("errors"):
        return "errors"
    if k == "requests_per_s" or k.startswith("traffic"):
        return "traffic"
    return "resource"


@dataclass(frozen=True)
class SeriesSpec:
    key: str
    query: str
    kind: SeriesKind


@dataclass(frozen=True)
class DependencySpec:
    name: str
    series: tuple[SeriesSpec, ...]


@dataclass(frozen=True)
class ServiceSpec:
    """A service and what it calls, each with its own series."""

    name: str
    series: tuple[SeriesSpec, ...]
    dependencies: tuple[DependencySpec, ...] = ()

    def all_series(self) -> list[tuple[str, SeriesSpec]]:
        """(owner, spec) pairs; owner is "" for the service itself, else the dependency's name."""
        out: list[tuple[str, SeriesSpec]] = [("", s) for s in self.series]
        for dep in self.dependencies:
            out += [(dep.name, s) for s in dep.series]
        return out


@dataclass
class Series:
    """One series sampled on the shared grid (NaN where Prometheus had no value).

    ``judged``: what the diagnosis judges instead of ``values`` when the catalog's series is a
    coarse estimate of something better read from its parts (a quantile re-estimated from the
    histogram's bucket shares, `diagnostics.histogram`); ``values`` stay what the catalog shows.
    ``mean``: for a latency histogram, its mean latency, judged beside the quantile
    (`diagnostics.service_causes`).
    """

    owner: str  # "" = the service itself, else a dependency name
    key: str
    kind: SeriesKind
    values: np.ndarray
    judged: np.ndarray | None = None
    judged_note: str = ""  # how ``judged`` was made, said in the findings
    mean: np.ndarray | None = None  # a latency histogram's mean (its `_sum` / `_count`), same unit

    @property
    def label(self) -> str:
        return f"{self.owner}/{self.key}" if self.owner else self.key

    @property
    def scored(self) -> np.ndarray:
        return self.judged if self.judged is not None else self.values


@dataclass
class SeriesSet:
    """All series of one diagnosis on one grid: ``times[i]`` is the epoch second of ``values[i]``."""

    service: str
    times: np.ndarray
    series: list[Series] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # sources or series that could not be read

    @property
    def step(self) -> float:
        return float(self.times[1] - self.times[0]) if self.times.shape[0] > 1 else 15.0

    def own(self) -> list[Series]:
        return [s for s in self.series if not s.owner]
