"""The demo's model service: scores live traffic with whatever version the serving alias names.

A background thread serves a steady request rate from rows the models never saw, resolves
the ``champion`` alias from the registry every half second (so a rollback takes effect the
way it would in production) and appends one row per request to the prediction log in the
docs/contracts.md format. Faults are injected on the input path (a broken or drifting feature) or on
the latency, never by editing the log afterwards.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bot.demo.models import SERVING_ALIAS, Dataset, DemoRegistry

CLASS_NAMES = ("malignant", "benign")  # scikit-learn's target order for this dataset
BASE_LATENCY_MS = 18.0


@dataclass(frozen=True)
class Fault:
    """What goes wrong on the serving path from the moment it is set."""

    feature: str | None = None
    # "zero": the upstream join defaults the feature to 0; "scale": a unit/calibration change.
    mode: str = "none"
    factor: float = 1.0
    latency_factor: float = 1.0


NO_FAULT = Fault()


def _apply(fault: Fault, x: pd.DataFrame) -> pd.DataFrame:
    if fault.feature is None or fault.mode == "none":
        return x
    x = x.copy()
    if fault.mode == "zero":
        x[fault.feature] = 0.0
    elif fault.mode == "scale":
        x[fault.feature] = x[fault.feature] * fault.factor
    return x


class ServingLoop:
    def __init__(self, registry: DemoRegistry, data: Dataset, log_path: Path, *, rate: float = 40.0,
                 seed: int = 11) -> None:
        self.registry = registry
        self.data = data
        self.log_path = log_path
        self.rate = rate
        self.rng = np.random.default_rng(seed)
        self.fault = NO_FAULT
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._recent: list[pd.DataFrame] = []
        self.columns = ["timestamp", "model_version", "prediction", "label", "latency_ms", *data.features]

    # --- one batch -------------------------------------------------------------------------------
    def _batch(self, times: list[datetime], version: str, fault: Fault) -> pd.DataFrame:
        n = len(times)
        idx = self.rng.integers(0, len(self.data.x_live), size=n)
        x = self.data.x_live.iloc[idx].reset_index(drop=True)
        # measurement jitter, so that no two requests are identical
        x = x * (1.0 + self.rng.normal(0.0, 0.01, size=x.shape))
        x = _apply(fault, x)
        model = self.registry.load(version)
        proba = np.asarray(model.predict_proba(x))[:, 1]
        latency = self.rng.gamma(6.0, BASE_LATENCY_MS / 6.0, size=n) * fault.latency_factor
        frame = pd.DataFrame({
            "timestamp": [t.isoformat().replace("+00:00", "Z") for t in times],
            "model_version": version,
            "prediction": np.where(proba >= 0.5, CLASS_NAMES[1], CLASS_NAMES[0]),
            "label": np.asarray(CLASS_NAMES, dtype=object)[self.data.y_live.to_numpy()[idx]],
            "latency_ms": latency.round(2),
        })
        return pd.concat([frame, x.round(5)], axis=1)[self.columns]

    def _append(self, frame: pd.DataFrame, *, header: bool = False) -> None:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, header=header, quoting=csv.QUOTE_MINIMAL)
        with self._lock:
            # one write per batch of whole lines: a reader never sees half a batch's header
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(buffer.getvalue())
            self._recent.append(frame)
            self._recent = self._recent[-400:]

    def backfill(self, seconds: float, *, end: datetime | None = None) -> int:
        """History before the demo: ``seconds`` of healthy traffic ending at ``end`` (default now)."""
        end = end or datetime.now(UTC)
        n = int(seconds * self.rate)
        start = end - timedelta(seconds=seconds)
        times = [start + timedelta(seconds=i / self.rate) for i in range(n)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.unlink(missing_ok=True)
        self._append(self._batch(times, self.registry.alias_version(SERVING_ALIAS), NO_FAULT), header=True)
        return n

    # --- the live loop ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-serving", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        version = self.registry.alias_version(SERVING_ALIAS)
        last_resolve = last = time.monotonic()
        carry = 0.0
        while not self._stop.wait(0.1):
            now_mono = time.monotonic()
            if now_mono - last_resolve >= 0.5:
                version = self.registry.alias_version(SERVING_ALIAS)
                last_resolve = now_mono
            carry += (now_mono - last) * self.rate
            last = now_mono
            n = int(carry)
            if n == 0:
                continue
            carry -= n
            end = datetime.now(UTC)
            times = [end - timedelta(seconds=(n - 1 - i) / self.rate) for i in range(n)]
            self._append(self._batch(times, version, self.fault))

    # --- what a monitor sees ---------------------------------------------------------------------
    def window(self, since: datetime) -> pd.DataFrame:
        with self._lock:
            frames = list(self._recent)
        if not frames:
            return pd.DataFrame(columns=self.columns)
        frame = pd.concat(frames, ignore_index=True)
        ts = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
        return frame[ts >= pd.Timestamp(since)]

    def accuracy(self, since: datetime) -> tuple[float, int]:
        frame = self.window(since)
        if frame.empty:
            return float("nan"), 0
        return float((frame["prediction"] == frame["label"]).mean()), len(frame)

    def p95_latency(self, since: datetime) -> tuple[float, int]:
        frame = self.window(since)
        if frame.empty:
            return float("nan"), 0
        return float(np.percentile(frame["latency_ms"].astype(float), 95)), len(frame)
