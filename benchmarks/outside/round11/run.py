"""Round 11 outside-style check: diagnose logs built from data the engine never saw.

    pip install --target /tmp/12u/pkgs --no-deps statsmodels patsy palmerpenguins
    PYTHONPATH=$PWD:/tmp/12u/pkgs python -m benchmarks.outside.round11.run --out /tmp/12u/r11 --json r11.json

Every log is written as Parquet under `--out` (with `expect.json` beside it), then diagnosed
through the Python API with the onset given and with it detected. A run is right when the cause
and the culprit (kind and name) are the answer decided before running (kinds.py), and, with the
onset detected, the onset is within max(15 min, 5% of the log's span). Healthy logs are right
when the cause is "none". Prints a table per kind and seed and each miss's verdict.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.outside.common import Expect, Kind, arguments, loss, print_totals, selected
from benchmarks.outside.round11.kinds import HEALTHY, KINDS, base_log
from diagnostics import diagnose
from diagnostics.loader import frame_to_log


def judge(d: Any, expect: Expect) -> bool:
    if d.cause != expect.cause:
        return False
    if expect.cause == "none":
        return True
    if expect.kinds and d.culprit_kind not in expect.kinds:
        return False
    return not expect.names or any(n in d.culprit_name for n in expect.names)


def effect(log: Any) -> float:
    """The fault's own effect: loss of the served answers against the clean ones, same labelled rows."""
    rows = log.after & np.array([v is not None and v == v for v in log.y])
    if rows.sum() < 50:
        return float("nan")
    faulty = loss(log.world.task, log.pred[rows], log.y[rows]).mean()
    before = log.y if log.y_before is None else log.y_before
    clean = loss(log.world.task, log.clean[rows], before[rows]).mean()
    return float(faulty / clean - 1.0) if clean > 0 else float("nan")


def run_one(kind: Kind, seed: int, out: Path) -> list[dict[str, Any]]:
    log = base_log(kind.world, seed, kind.n, kind.days, kind.onset_frac)
    log.withheld = kind.withheld
    kind.apply(log)
    size = effect(log)
    frame = log.frame()
    path = out / f"{kind.name}_s{seed}.parquet"
    frame.to_parquet(path, index=False)
    span = float(log.t[-1] - log.t[0])
    rows = []
    for mode in ("given", "detected"):
        t0 = time.perf_counter()
        d = diagnose(frame_to_log(frame, name=kind.name), onset=log.onset if mode == "given" else None)
        right = judge(d, kind.expect)
        late = (d.onset - log.onset) / 60.0
        if mode == "detected" and kind.expect.cause != "none":
            right = right and abs(late) * 60.0 <= max(900.0, 0.05 * span)
        top = d.findings[0] if d.findings else None
        rows.append({
            "kind": kind.name, "seed": seed, "mode": mode, "right": bool(right), "effect": size,
            "withheld": kind.withheld, "healthy": kind.expect.cause == "none",
            "verdict": f"{d.cause}/{d.culprit_kind}/{d.culprit_name}", "mitigation": d.recommended_mitigation,
            "onset_min": round(late, 1), "seconds": round(time.perf_counter() - t0, 2),
            "top": f"{top.check}:{top.subject} {top.score:.2f}" if top else "",
        })
    return rows


def main() -> None:
    args = arguments(__doc__, "/tmp/round11").parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kinds = selected(args, KINDS, HEALTHY)
    results: list[dict[str, Any]] = []
    for kind in kinds:
        for seed in args.seeds:
            rows = run_one(kind, seed, out)
            results.extend(rows)
            g, dt = rows
            print(f"{kind.name:32s} s{seed} eff={g['effect']:+.3f} given={'ok' if g['right'] else 'MISS'} "
                  f"detected={'ok' if dt['right'] else 'MISS'} ({dt['onset_min']:+.0f} min)"
                  + ("" if g["right"] else f"  given->{g['verdict']}")
                  + ("" if dt["right"] else f"  detected->{dt['verdict']}"), flush=True)
    (out / "expect.json").write_text(json.dumps({k.name: k.expect.__dict__ for k in kinds}, indent=1))
    print_totals(results, args.seeds, ("given", "detected"), 8)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
