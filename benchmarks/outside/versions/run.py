"""Run the outside-style bad-version logs with labels withheld; print found / missed / false alarms.

    python -m benchmarks.outside.versions.run                 # every dataset, seeds 0-5
    python -m benchmarks.outside.versions.run --json /tmp/out.json --workers 2

Seeds 4 and 5 (a third) are held out of tuning and reported apart. A bad version is found when
the verdict is cause "model" with the version as culprit; a healthy redeploy is a false alarm when
the verdict names any cause.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.outside.versions.generate import BAD_KINDS, DATASETS, HEALTHY_KINDS, Case, build_case

HELD_OUT_SEEDS = (4, 5)


def _plan(seeds: Sequence[int], datasets: Sequence[str], kinds: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for ds in datasets:
        for seed in seeds:
            for i, kind in enumerate(kinds):
                rng = np.random.default_rng([seed, i, len(ds)])
                full = rng.random() < 0.5
                out.append(
                    {
                        "dataset": ds,
                        "seed": seed,
                        "kind": kind,
                        "share": 1.0 if full else float(np.round(rng.uniform(0.1, 0.5), 2)),
                        "event": bool(rng.random() < 0.5),
                        "target_rise": float(rng.uniform(0.05, 0.30)),
                    }
                )
    return out


def _case(spec: dict[str, Any], cache: Path | None) -> Case | None:
    """The case of `spec`, built once and kept in `cache` (fitting the grid of bad models is most of
    the cost; re-running the engine on the same logs needs only the diagnosis)."""
    key = "_".join(str(spec[k]) for k in ("dataset", "seed", "kind"))
    path = cache / f"{key}.pkl" if cache else None
    if path is not None and path.exists():
        with path.open("rb") as fh:
            got: Case | None = pickle.load(fh)
        return got
    case = build_case(**spec)
    if path is not None:
        with path.open("wb") as fh:
            pickle.dump(case, fh)
    return case


def _one(job: tuple[dict[str, Any], Path | None]) -> dict[str, Any]:
    from diagnostics import diagnose
    from diagnostics.loader import frame_to_log

    spec, cache = job
    case = _case(spec, cache)
    if case is None:
        return {**spec, "skipped": True}
    d = diagnose(frame_to_log(case.frame, name=case.name), changes=case.changes, onset=case.onset)
    ver = next((f for f in d.findings if f.check == "version_change"), None)
    det = ver.details if ver is not None else {}
    keys = (
        "comparison",
        "estimated_z",
        "estimated_relative",
        "reverse_z",
        "reverse_raw_z",
        "calibrated_z",
        "calibrated_relative",
        "conditional_gap",
        "prediction_gap",
        "different_but_not_worse",
        "estimated_loss_version",
        "estimated_loss_baseline",
        "estimate_reference_loss",
        "estimate_reference_fit",
        "estimated_paired",
        "estimated_z_sampling",
        "squared_z",
        "squared_relative_abs",
        "squared_magnitude",
        "estimated_n",
        "reverse_n",
        "calibrated_n_version",
        "calibrated_n_baseline",
    )
    return {
        **spec,
        "name": case.name,
        "bad": case.bad,
        "rise": case.rise,
        "window_rise": case.window_rise,
        "strength": case.strength,
        "version": case.version,
        "cause": d.cause,
        "culprit_kind": d.culprit_kind,
        "culprit": d.culprit_name,
        "confidence": d.confidence,
        "found": d.cause == "model" and d.culprit_kind == "model_version" and d.culprit_name == case.version,
        "version_score": ver.score if ver is not None else None,
        "version_details": {k: det.get(k) for k in keys},
        "top": [f"{f.check}:{f.subject}:{f.score:.2f}" for f in d.findings[:3]],
        **case.info,
    }


def report(rows: list[dict[str, Any]]) -> str:
    lines = []
    for held in (False, True):
        part = [r for r in rows if (r["seed"] in HELD_OUT_SEEDS) == held and not r.get("skipped")]
        if not part:
            continue
        lines.append(f"\n## {'held-out seeds' if held else 'tuning seeds'}")
        bad = [r for r in part if r["bad"]]
        ok = [r for r in part if not r["bad"]]
        found = sum(r["found"] for r in bad)
        lines.append(f"bad versions: found {found}/{len(bad)}, missed {len(bad) - found}")
        by: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in bad:
            by[r["kind"]].append(r)
            by["full" if r["share"] >= 1.0 else "canary"].append(r)
            by["event" if r["event"] else "silent"].append(r)
            by[r["dataset"]].append(r)
            b = "rise 5-10%" if r["rise"] < 0.10 else "rise 10-20%" if r["rise"] < 0.20 else "rise 20%+"
            by[b].append(r)
            if r["window_rise"] >= 0.05:
                by["window rise >= 5% (issue's class)"].append(r)
        for key, rs in by.items():
            lines.append(f"  {key}: {sum(r['found'] for r in rs)}/{len(rs)}")
        alarms = [r for r in ok if r["cause"] != "none"]
        lines.append(f"healthy redeploys: false alarms {len(alarms)}/{len(ok)}")
        for r in alarms:
            lines.append(f"  ALARM {r['name']}: {r['cause']}/{r['culprit_kind']}/{r['culprit']} {r['top']}")
    skipped = [r for r in rows if r.get("skipped")]
    lines.append(f"\n(skipped: {len(skipped)} bad versions no strength could size at 5-30%)")
    return "\n".join(lines)


EVIDENCE = ("estimated_z", "calibrated_z", "reverse_z", "squared_z", "conditional_gap")
FRESH = ("gen_regression", "friedman", "gen_classification", "hastie")


def evidence(rows: list[dict[str, Any]]) -> str:
    """Can any label-free statistic the engine computes find the missed bad versions at no false
    alarm? Per group and statistic: the largest value among the healthy redeploys (the bar a
    0-false-alarm rule needs) and how many missed bad versions exceed it."""

    def value(r: dict[str, Any], key: str) -> float:
        v = r["version_details"].get(key)
        return float(v) if isinstance(v, int | float) and math.isfinite(v) else math.nan

    groups = {
        "fresh classification": lambda r: r["dataset"] in FRESH and r["dataset"] in ("gen_classification", "hastie"),
        "fresh regression": lambda r: r["dataset"] in ("gen_regression", "friedman"),
        "bundled (inputs repeat)": lambda r: r["dataset"] not in FRESH,
    }
    lines = ["\n## Label-free evidence: the healthy side's largest value against the missed bad versions"]
    lines.append("| group | statistic | healthy n | healthy max | missed n | missed above the healthy max |")
    lines.append("|---|---|---|---|---|---|")
    done = [r for r in rows if not r.get("skipped")]
    for name, member in groups.items():
        healthy = [r for r in done if not r["bad"] and member(r)]
        missed = [r for r in done if r["bad"] and not r["found"] and member(r)]
        for key in EVIDENCE:
            hv = [v for v in (value(r, key) for r in healthy) if math.isfinite(v)]
            mv = [v for v in (value(r, key) for r in missed) if math.isfinite(v)]
            if not hv:
                continue
            bar = max(hv)
            above = sum(v > bar for v in mv)
            lines.append(f"| {name} | {key} | {len(hv)} | {bar:.2f} | {len(missed)} | {above} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4, 5])
    p.add_argument("--datasets", nargs="*", default=list(DATASETS))
    p.add_argument("--kinds", nargs="*", default=[*BAD_KINDS, *HEALTHY_KINDS])
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--json", type=Path)
    p.add_argument("--cache", type=Path, help="keep the built logs here and reuse them")
    p.add_argument("--misses", action="store_true", help="list each missed bad version")
    a = p.parse_args(argv)
    if a.cache:
        a.cache.mkdir(parents=True, exist_ok=True)
    plan = [(s, a.cache) for s in _plan(a.seeds, a.datasets, a.kinds)]
    rows = []
    with ProcessPoolExecutor(max(1, a.workers)) as ex:
        for row in ex.map(_one, plan):
            rows.append(row)
            if not row.get("skipped"):
                mark = (
                    ("found" if row["found"] else "MISSED")
                    if row["bad"]
                    else ("quiet" if row["cause"] == "none" else "FALSE ALARM")
                )
                print(f"{row['name']} rise {row['rise']:+.1%}: {mark} ({row['cause']})", flush=True)
    if a.json:
        a.json.write_text(
            json.dumps(
                rows, indent=1, default=lambda o: None if isinstance(o, float) and not math.isfinite(o) else str(o)
            )
        )
    print(report(rows))
    print(evidence(rows))
    if a.misses:
        for r in rows:
            if r.get("bad") and not r["found"]:
                print(f"MISS {r['name']} rise {r['rise']:+.1%} -> {r['cause']}/{r['culprit']} {r['version_details']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
