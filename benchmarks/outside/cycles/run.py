"""Write the cycle logs, diagnose each with and without the alert's onset, print the false alarms.

    PYTHONPATH=. python -m benchmarks.outside.cycles.run --seeds 0-299 --out /tmp/cyc
    PYTHONPATH=. python -m benchmarks.outside.cycles.run --seeds 0-299 --held-out   # the kept-apart third

Seeds with ``seed % 3 == 2`` are held out of tuning: without ``--held-out`` only the others run,
with it only those. A healthy log is a false alarm when the cause is not "none"; a log with a
service fault is right when the cause is "service" and the culprit kind is the fault's (traffic for a
drop or an outage, errors for an error spike).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.outside.cycles.gen import build, make_spec


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def run_one(seed: int, folder: Path) -> list[dict[str, object]]:
    from diagnostics import diagnose
    from diagnostics.loader import load_log

    spec = make_spec(seed)
    built = build(spec, folder)
    log = load_log(built.log)
    reference = load_log(built.reference) if built.reference else None
    rows = []
    for mode, onset in (("detected", None), ("given", built.onset)):
        started = time.perf_counter()
        try:
            d = diagnose(log, reference=reference, changes=built.changes, onset=onset).to_dict()
            cause = str(d.get("cause"))
            culprit = d.get("culprit") or {}
            kind, name = str(culprit.get("kind", "")), str(culprit.get("name", ""))
            top = (d.get("findings") or [{}])[0]
            evidence = str(top.get("evidence", ""))[:160]
        except Exception as exc:  # a crash is reported as such, never hidden
            cause, kind, name, evidence = "crash", "", "", f"{type(exc).__name__}: {exc}"
        ok = cause == "none" if built.expected == "none" else (cause == "service" and kind == built.expected)
        rows.append({
            "seed": seed, "mode": mode, "dataset": spec.dataset, "model": spec.model, "hours": spec.hours,
            "zone": spec.zone, "shape": spec.shape, "labels": spec.labels, "reference": spec.reference,
            "redeploy": spec.redeploy, "holiday": spec.holiday, "fault": spec.fault or "healthy",
            "rows": len(log), "cause": cause, "kind": kind, "name": name, "ok": ok, "evidence": evidence,
            "seconds": round(time.perf_counter() - started, 1),
        })
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0-299")
    parser.add_argument("--held-out", action="store_true", help="run only the held-out third (seed %% 3 == 2)")
    parser.add_argument("--all", action="store_true", help="run tuning and held-out seeds alike")
    parser.add_argument("--out", default="", help="folder for the logs (a temporary one if empty)")
    parser.add_argument("--json", default="", help="write every run's outcome here")
    args = parser.parse_args(argv)
    seeds = [s for s in _seeds(args.seeds) if args.all or (s % 3 == 2) == args.held_out]
    folder = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="cycles-"))
    results: list[dict[str, object]] = []
    for seed in seeds:
        for r in run_one(seed, folder / str(seed)):
            results.append(r)
            if not r["ok"]:
                print(f"{'FALSE ALARM' if r['fault'] == 'healthy' else 'MISSED'} seed={r['seed']} {r['mode']} "
                      f"{r['dataset']}/{r['model']} {r['hours']}h {r['zone']} {r['shape']} labels={r['labels']} "
                      f"ref={r['reference']} redeploy={r['redeploy']} holiday={r['holiday']} fault={r['fault']} "
                      f"-> {r['cause']} {r['kind']} {r['name']!r}: {r['evidence']}", flush=True)
    for group in ("tuning", "held-out"):
        rs = [r for r in results if (int(str(r["seed"])) % 3 == 2) == (group == "held-out")]
        if not rs:
            continue
        for mode in ("detected", "given"):
            healthy = [r for r in rs if r["mode"] == mode and r["fault"] == "healthy"]
            faulty = [r for r in rs if r["mode"] == mode and r["fault"] != "healthy"]
            fa = sum(not r["ok"] for r in healthy)
            found = sum(bool(r["ok"]) for r in faulty)
            print(f"{group} onset {mode}: false alarms {fa}/{len(healthy)}, service faults found {found}/{len(faulty)}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
