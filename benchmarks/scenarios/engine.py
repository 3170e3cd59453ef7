"""Run the diagnostics engine on a scenario, through the Python API or the real CLI.

Both paths include loading the files, as a user's `mlresponder diagnose` call would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.scenarios.generate import Scenario


@dataclass(frozen=True)
class Run:
    diagnosis: dict[str, Any]
    wall_ms: float
    via: str  # "api" | "cli"


def _iso(ts: Any) -> str:
    return pd.Timestamp(ts).isoformat().replace("+00:00", "Z")


def load_changes(path: Path) -> list[Any]:
    """The change log through the engine's own loader."""
    from diagnostics.loader import load_changes as load

    return list(load(path))


def diagnose_api(scenario: Scenario, *, with_onset: bool = True) -> Run:
    from diagnostics import diagnose
    from diagnostics.loader import load_log

    started = time.perf_counter()
    log = load_log(scenario.path_log)
    reference = load_log(scenario.path_reference) if scenario.path_reference else None
    changes = load_changes(scenario.path_changes)
    onset = scenario.onset if with_onset else None
    result = diagnose(log, reference=reference, changes=changes, onset=onset)
    wall = (time.perf_counter() - started) * 1000.0
    return Run(result.to_dict(), wall, "api")


def cli_executable() -> list[str]:
    """The installed console script next to this interpreter, else the module entry point."""
    script = Path(sys.executable).with_name("mlresponder")
    if script.exists():
        return [str(script)]
    found = shutil.which("mlresponder")
    return [found] if found else [sys.executable, "-m", "bot.cli"]


def diagnose_cli(scenario: Scenario, *, with_onset: bool = True) -> Run:
    cmd = [*cli_executable(), "diagnose", "--log", str(scenario.path_log), "--changes", str(scenario.path_changes)]
    if scenario.path_reference:
        cmd += ["--reference", str(scenario.path_reference)]
    if with_onset:
        cmd += ["--onset", _iso(scenario.onset)]
    cmd += ["--format", "json"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    wall = (time.perf_counter() - started) * 1000.0
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return Run(json.loads(proc.stdout), wall, "cli")
