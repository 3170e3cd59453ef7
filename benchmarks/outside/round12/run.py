"""Round 12 outside-style check: logs from data the engine never saw, diagnosed through the CLI.

    pip install --target /tmp/12x/pkgs --no-deps ISLP lifelines
    PYTHONPATH=$PWD:/tmp/12x/pkgs python -m benchmarks.outside.round12.run --seeds 0 1 --json r12.json

Each log is written as a file of the formats docs/contracts.md allows (CSV with ISO-8601 `Z`
timestamps, or Parquet with epoch seconds; the kind's position and the seed alternate them, so
every kind is read in both over two seeds), with the served model's training rows beside it
when the kind uses a reference. `mlresponder diagnose --log F [--reference R] [--onset T]
--format json` runs as a subprocess (two at a time at most), once with the alert's onset given
and once without it (the engine dates it); its JSON is parsed strictly (no NaN or Infinity). A
run is right when the cause and the culprit (kind and name) are the answer decided before running
(kinds.py) and, with the onset found, the onset is within max(15 min, 5% of the log's span).
Healthy logs are right when the cause is "none". Prints a line per kind and seed, then totals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.outside.common import Expect, Kind, Log, arguments, loss, print_totals, selected
from benchmarks.outside.round12.kinds import HEALTHY, KINDS, base_log


def judge(d: dict[str, Any], expect: Expect) -> bool:
    if d["cause"] != expect.cause:
        return False
    if expect.cause == "none":
        return True
    culprit = d["culprit"]
    if expect.kinds and culprit["kind"] not in expect.kinds:
        return False
    return not expect.names or any(n in str(culprit["name"]) for n in expect.names)


def effect(log: Log) -> float:
    """The fault's own effect: loss of the served answers against the clean ones, same labelled rows."""
    rows = log.after & (log.labelled if log.labelled is not None else True)
    if log.world.task != "classes":
        rows = rows & ~np.isnan(log.y.astype(float))
    if rows.sum() < 50:
        return float("nan")
    faulty = loss(log.world.task, log.pred[rows], log.y[rows]).mean()
    clean = loss(log.world.task, log.clean[rows], log.y[rows]).mean()
    if np.array_equal(log.pred, log.clean):  # a shift of the population: the window against the one before
        before = ~log.after & (log.labelled if log.labelled is not None else True)
        clean = loss(log.world.task, log.pred[before], log.y[before]).mean()
    return float(faulty / clean - 1.0) if clean > 0 else float("nan")


def iso(t: float) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write(frame: pd.DataFrame, path: Path, csv: bool) -> Path:
    if csv:
        path = path.with_suffix(".csv")
        out = frame.copy()
        if "timestamp" in out:
            out["timestamp"] = [iso(t) for t in out["timestamp"].to_numpy(dtype=float)]
        out.to_csv(path, index=False)
    else:
        path = path.with_suffix(".parquet")
        frame.to_parquet(path, index=False)
    return path


ENGINE: dict[str, str] = {}  # the checkout whose `mlresponder` runs (--engine), else this one


def diagnose(log_path: Path, ref: Path | None, onset: str | None) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=ENGINE["path"]) if ENGINE else None
    cwd = ENGINE.get("path")  # `python -m` puts the working directory first on the path
    cmd = [sys.executable, "-m", "bot.cli", "diagnose", "--log", str(log_path.resolve()), "--format", "json"]
    if ref is not None:
        cmd += ["--reference", str(ref.resolve())]
    if onset is not None:
        cmd += ["--onset", onset]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=cwd)
    if done.returncode != 0:
        return {"cause": "error", "culprit": {"kind": "error", "name": done.stderr.strip()[-300:]},
                "onset": None, "findings": [], "recommended_mitigation": "none"}

    def strict(word: str) -> float:
        raise ValueError(f"not strict JSON: {word}")

    out: dict[str, Any] = json.loads(done.stdout, parse_constant=strict)
    return out


def run_one(kind: Kind, position: int, seed: int, out: Path, pool: ThreadPoolExecutor) -> list[dict[str, Any]]:
    log = base_log(kind.world, seed, kind.n, kind.days, kind.onset_frac)
    log.withheld = kind.withheld
    kind.apply(log)
    size = effect(log)
    csv = (position + seed) % 2 == 0
    path = write(log.frame(), out / f"{kind.name}_s{seed}", csv)
    ref = write(log.world.train, out / f"{kind.name}_s{seed}_reference", csv) if kind.reference else None
    span = float(log.t[-1] - log.t[0])
    modes = ("given", "found")
    answers = list(pool.map(lambda m: diagnose(path, ref, iso(log.onset) if m == "given" else None), modes))
    rows = []
    for mode, d in zip(modes, answers, strict=True):
        right = judge(d, kind.expect)
        late = float("nan")
        if d.get("onset"):
            late = (pd.Timestamp(d["onset"]).timestamp() - log.onset) / 60.0
        if mode == "found" and kind.expect.cause != "none":
            right = right and abs(late) * 60.0 <= max(900.0, 0.05 * span)
        top = d["findings"][0] if d["findings"] else None
        rows.append({
            "kind": kind.name, "world": kind.world, "seed": seed, "mode": mode, "right": bool(right),
            "effect": size, "withheld": kind.withheld, "healthy": kind.expect.cause == "none",
            "format": path.suffix, "verdict": f"{d['cause']}/{d['culprit']['kind']}/{d['culprit']['name']}",
            "mitigation": d["recommended_mitigation"], "onset_min": round(late, 1),
            "top": f"{top['check']}:{top['subject']} {top['score']:.2f}" if top else "",
        })
    return rows


def main() -> None:
    ap = arguments(__doc__, "/tmp/round12")
    ap.add_argument("--workers", type=int, default=2, choices=(1, 2), help="diagnoses run at once")
    ap.add_argument("--engine", default=None, help="a checkout of the project to diagnose with (before/after)")
    args = ap.parse_args()
    if args.engine:
        ENGINE["path"] = str(Path(args.engine).resolve())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kinds = selected(args, KINDS, HEALTHY)
    place = {k.name: i for i, k in enumerate(KINDS + HEALTHY)}  # a kind's file format does not depend on --only
    results: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for kind in kinds:
            for seed in args.seeds:
                rows = run_one(kind, place[kind.name], seed, out, pool)
                results.extend(rows)
                g, f = rows
                print(f"{kind.name:34s} s{seed} {g['format']:8s} eff={g['effect']:+.3f} "
                      f"given={'ok' if g['right'] else 'MISS'} found={'ok' if f['right'] else 'MISS'} "
                      f"({f['onset_min']:+.0f} min)"
                      + ("" if g["right"] else f"  given->{g['verdict']} [{g['top']}]")
                      + ("" if f["right"] else f"  found->{f['verdict']} [{f['top']}]"), flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(results, indent=1))
    (out / "expect.json").write_text(json.dumps({k.name: k.expect.__dict__ for k in kinds}, indent=1))
    print_totals(results, args.seeds, ("given", "found"), 6)


if __name__ == "__main__":
    main()
