"""Speed of `diagnose --service`: 50 series x 6 hours at 15 s, queries included.

    python -m benchmarks.service_series_scale [--runs 5]

One service with nine dependencies (five series each: p95 latency from a histogram, error rate,
request rate, CPU, memory; 50 PromQL range queries of 1,441 points) backfilled into a real
Prometheus, a dependency slowdown an hour before now. Measured: reading the 50 series
(query_range, 8 at a time; the ten p95 series also have their bucket rates read, so 60 queries),
the diagnosis on them, both through the Python API with the onset
detected (the 6-hour window), and the whole `mlresponder diagnose --service` CLI process
(interpreter start and imports included). Prints medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.service_scenarios import generate as g
from benchmarks.service_scenarios.prom import backfill, serve
from benchmarks.service_scenarios.score import spec_of
from diagnostics.prometheus import read_series
from diagnostics.service_causes import diagnose_series

TARGET_S = 2.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    end = time.time()
    sc = g.generate("dependency_latency", "medium", 0, end=end, history_s=6 * 3600.0, extra_deps=7)
    entry = g.catalog_entry(sc, every_series=True)
    spec = spec_of(entry)
    n_series = len(spec.all_series())
    with tempfile.TemporaryDirectory(prefix="svc-scale-") as tmp:
        t0 = time.perf_counter()
        data = backfill(g.openmetrics_lines([sc]), Path(tmp) / "prom")
        backfill_s = time.perf_counter() - t0
        catalog = Path(tmp) / "catalog.yaml"
        catalog.write_text(yaml.safe_dump({"services": [entry]}, sort_keys=False), encoding="utf-8")
        reads, diags, totals, clis = [], [], [], []
        with serve(data) as url:
            for _ in range(args.runs):
                now = time.time()
                t0 = time.perf_counter()
                sset = read_series(spec, url, now - 6 * 3600.0, now, 15.0)
                t1 = time.perf_counter()
                verdict = diagnose_series(sset)
                t2 = time.perf_counter()
                reads.append(t1 - t0)
                diags.append(t2 - t1)
                totals.append(t2 - t0)
            points = int(sum(s.values.shape[0] for s in sset.series))
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
            cmd = [sys.executable, "-m", "bot.cli", "diagnose", "--service", g.SERVICE, "--catalog", str(catalog),
                   "--prometheus", url, "--format", "json"]
            for _ in range(max(1, args.runs // 2)):
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
                clis.append(time.perf_counter() - t0)
            cli_out = json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr.strip()}
    med = statistics.median
    print(f"{n_series} series, {points} points read, backfill {backfill_s:.1f} s (not counted)")
    print(f"verdict: {verdict.culprit_kind} {verdict.culprit_name} (expected dependency feature-store)")
    bucket_reads = sum(s.judged is not None for s in sset.series)
    print(f"read {n_series} series + {bucket_reads} bucket sets   median {med(reads) * 1000:7.0f} ms")
    print(f"diagnosis on them               median {med(diags) * 1000:7.0f} ms")
    print(f"total, Python API               median {med(totals) * 1000:7.0f} ms   (target < {TARGET_S:.0f} s)")
    print(f"total, CLI process              median {med(clis) * 1000:7.0f} ms   "
          f"(runtime_ms reported: {cli_out.get('runtime_ms')}, culprit {cli_out.get('culprit')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
