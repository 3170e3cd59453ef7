"""Speed and memory of `mlresponder diagnose` on a large log, beside the baselines it must beat.

    python benchmarks/diagnose_scale.py [--rows 1000000] [--features 50] [--keep DIR] [--markdown]

Writes a prediction log (rows x features, labels, latency, errors, two model versions, a bad
canary and a drifting feature after the onset) as Parquet, then measures, each in a fresh
subprocess so that peak memory is its own:

- floor: load the same file and make one vectorized pass over every column (numeric columns are
  histogrammed on reference quantiles, string columns dictionary-counted). Nothing can diagnose
  without at least this much work.
- ks loop: load the same file and run `scipy.stats.ks_2samp` per numeric column.
- diagnosis: `diagnostics.loader.load_log` + `diagnostics.diagnose` through the Python API, every check.
- cli: the same through `mlresponder diagnose --format json` (interpreter start and imports included).

Each measurement runs `--repeat` times (interleaved) and reports the median and best wall time and
the median CPU time: on a shared two-core machine wall time swings by 2x with the neighbours' load,
CPU time much less, so the targets are checked on both. Peak memory is the subprocess's maximum
resident set size minus its size after imports, compared with the in-memory (Arrow) size of the
data. Targets: diagnosis <= 2x floor, diagnosis < ks loop, peak memory < 3x data.

Every child imports numpy, pandas and pyarrow.parquet before its clock (`_import_for`): pyarrow's
first conversion of any column to numpy imports pandas when it is installed, and the diagnosis's
child had it imported before its clock (through `benchmarks.scenarios.engine`) while the floor and
the ks loop imported it on theirs (`python -X importtime`, and `sys.modules` before and after the
clock: 294 pandas modules, ~0.2 s of CPU). Since session 24 the only imports on a clock are
`pyarrow.pandas_compat` and `pyarrow.vendored.version`, in the floor and the diagnosis alike. On
that honest floor main's code (5675446) measured 2.35x in CPU (2.29x wall; floor 1.65 s, diagnosis
3.88 s, at load 10 on two cores), where the old floor said 2.09x (1.97x; floor 1.80 s, 3.76 s).

Where the diagnosis's time goes (a CPU-clock profile of `diagnostics.diagnose` on this log, onset
found): sorting each numeric column's two windows costs what the CPU's sort costs. numpy's
comparison sort ran at ~50 ns a value on session 15's machine (its SIMD sort not used there), at
~7 ns on session 20's (x86-simd-sort on AVX-512); `diagnostics.stats.sorted_values` times np.sort
on a probe of the column and, where it is slow, counts whole numbers and sorts other large
windows through 65,536 buckets (np.sort's array bit for bit either way, 20-35 ns a value). The
diagnosis runs BLAS on one thread (`diagnostics.engine.diagnose`): the workers of a second one
spin between its small products, seconds of CPU on a loaded machine. Profile `diagnose` with
`cProfile.Profile(time.process_time)` on the kept log (`--keep DIR`) to see the next items: the
onset scans, the KS grids' binary searches, the reference's daily-cycle shares. Issue-21s took out
what was done twice or in full where a part answers (docs/diagnostics.md, "Work done twice"); what
is left is spread thin: the window sorts, the KS grids' searches into cold windows (~1 ms a
statistic), the onset's weighted bincounts, the matched checks' neighbour trees.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
START = 1_795_651_200  # 2026-11-26T00:00:00Z
SPAN_S = 24 * 3600
ONSET_FRACTION = 0.7
CANARY_FRACTION = 0.6


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# ------------------------------------------------------------------------------------------- data


def write_log(path: Path, rows: int, features: int, seed: int = 0) -> dict[str, Any]:
    """A realistic large log: mixed feature shapes, 1% missing in a few, two string categoricals,
    v2 canaried at 50% from 60% of the day and worse than v1, one feature drifting after the onset."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    ts = np.sort(rng.uniform(START, START + SPAN_S, size=rows))
    onset = START + ONSET_FRACTION * SPAN_S
    canary_at = START + CANARY_FRACTION * SPAN_S
    after = ts >= onset
    cols: dict[str, Any] = {"timestamp": pa.array((ts * 1e6).astype("int64"), type=pa.timestamp("us", tz="UTC"))}
    v2 = (ts >= canary_at) & (rng.random(rows) < 0.5)
    cols["model_version"] = pa.array(np.where(v2, "v2", "v1")).dictionary_encode()
    n_cat = 2
    n_num = features - n_cat
    x = np.empty((n_num, rows))
    for j in range(n_num):
        shape = j % 4
        if shape == 0:
            x[j] = rng.normal(0.0, 1.0, rows)
        elif shape == 1:
            x[j] = rng.lognormal(3.0, 0.8, rows)
        elif shape == 2:
            x[j] = rng.integers(0, 100, rows).astype(float)
        else:
            x[j] = np.where(rng.random(rows) < 0.3, rng.normal(-2, 0.5, rows), rng.normal(2, 1.0, rows))
    x[7, after] += 0.8 * x[7].std()  # a drifting input after the onset
    score = 0.9 * x[0] + 0.5 * (x[1] - 20.0) / 20.0 - 0.3 * (x[2] - 50.0) / 30.0 + rng.normal(0.0, 0.7, rows)
    truth = score > 0.0
    wrong = rng.random(rows) < np.where(v2, 0.22, 0.08)  # v2 is the bad canary
    predicted = truth ^ wrong
    labelled = rng.random(rows) < 0.8
    cols["prediction"] = pa.array(np.where(predicted, "approve", "decline")).dictionary_encode()
    label = pa.array(np.where(truth, "approve", "decline"), mask=~labelled).dictionary_encode()
    cols["label"] = label
    cols["latency_ms"] = pa.array(np.round(rng.lognormal(np.log(25.0), 0.3, rows), 2))
    cols["error"] = pa.array(rng.random(rows) < 0.002)
    for j in range(n_num):
        mask = (rng.random(rows) < 0.01) if j % 5 == 4 else None
        cols[f"f{j:02d}"] = pa.array(x[j], mask=mask)
    regions = np.array(["eu_west", "us_east", "apac", "latam"])
    cols["region"] = pa.array(regions[rng.choice(4, size=rows, p=[0.35, 0.3, 0.22, 0.13])]).dictionary_encode()
    cols["device"] = pa.array(np.array(["web", "ios", "android"])[rng.integers(0, 3, rows)]).dictionary_encode()
    table = pa.table(cols)
    pq.write_table(table, path, row_group_size=256 * 1024)
    changes = path.with_name("changes.jsonl")
    changes.write_text(
        json.dumps(
            {
                "timestamp": _iso(canary_at),
                "kind": "model_deploy",
                "service": "scorer",
                "description": "canary v2 at 50%",
                "from_version": "v1",
                "to_version": "v2",
            }
        )
        + "\n"
    )
    return {"onset": _iso(onset), "changes": str(changes), "rows": rows, "features": features}


# ----------------------------------------------------------------------------------- measurements


def _rss_now_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _peak_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _columns(path: Path) -> Any:
    """(name, column) pairs read one column at a time, timestamp first: the cheapest way to stream a
    Parquet file through numpy (no dataset-API start-up, one decoded column alive at a time)."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    for name in ["timestamp", *(n for n in names if n != "timestamp")]:
        yield name, parquet.read(columns=[name]).column(0)


def _split(ts_column: Any, onset_iso: str) -> Any:
    import numpy as np

    ts = ts_column.to_numpy().astype("datetime64[us]").astype("int64") / 1e6
    onset = np.datetime64(onset_iso.rstrip("Z"), "us").astype("int64") / 1e6
    return ts < onset


def measure_floor(path: Path, onset_iso: str) -> dict[str, Any]:
    """Load + one vectorized pass per column: the least work any drift check must do. Numeric
    columns are binned with `np.histogram` on ten reference quantiles, string columns counted by
    dictionary code. (Binning with `searchsorted` + `bincount` instead was measured slower.)"""
    import numpy as np
    import pyarrow as pa

    columns = _columns(path)
    _, ts = next(columns)
    before = _split(ts, onset_iso)
    after = ~before
    data_bytes = int(ts.nbytes)
    for _name, col in columns:
        data_bytes += int(col.nbytes)
        if pa.types.is_dictionary(col.type) or pa.types.is_string(col.type):
            enc = col.combine_chunks()
            enc = enc if pa.types.is_dictionary(enc.type) else enc.dictionary_encode()
            codes = enc.indices.fill_null(-1).to_numpy().astype(np.int64)
            k = len(enc.dictionary) + 1
            np.bincount(codes[before] + 1, minlength=k)
            np.bincount(codes[after] + 1, minlength=k)
            continue
        values = col.to_numpy().astype(float)
        ref = values[before]
        ref = ref[~np.isnan(ref)]
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11))) if ref.size else np.array([0.0, 1.0])
        np.histogram(ref, edges)
        np.histogram(values[after], edges)
    return {"data_bytes": data_bytes}


def measure_ks(path: Path, onset_iso: str) -> dict[str, Any]:
    """Load + scipy's two-sample KS on every numeric column (the usual drift baseline)."""
    import numpy as np
    import pyarrow as pa
    from scipy import stats

    columns = _columns(path)
    _, ts = next(columns)
    before = _split(ts, onset_iso)
    tested = 0
    for name, col in columns:
        if name == "latency_ms" or not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            continue
        values = col.to_numpy().astype(float)
        ref, cur = values[before], values[~before]
        stats.ks_2samp(ref[~np.isnan(ref)], cur[~np.isnan(cur)])
        tested += 1
    return {"columns": tested}


def measure_diagnose(path: Path, onset_iso: str, changes: Path | None) -> dict[str, Any]:
    """The engine end to end through the Python API, loading included."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.scenarios.engine import load_changes
    from diagnostics import diagnose
    from diagnostics.loader import load_log

    log = load_log(path)
    events = load_changes(changes) if changes else []
    result = diagnose(log, changes=events, onset=onset_iso if onset_iso else None).to_dict()
    return {
        "cause": result.get("cause"),
        "culprit": result.get("culprit"),
        "engine_runtime_ms": result.get("runtime_ms"),
        "findings": len(result.get("findings") or []),
    }


def _import_for(name: str) -> None:
    """Import the libraries a measurement needs before the clock and the memory baseline start, the
    same for every child: pyarrow's first conversion to numpy (`to_numpy`, any column) imports pandas
    when it is installed, ~0.2-0.3 s of CPU. The diagnosis has it imported before its clock (through
    `benchmarks.scenarios.engine`); until session 24 the floor and the ks loop imported it on their
    clocks, which made the floor ~0.2 s (a tenth) slower than the work it stands for."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    if name == "ks":
        import scipy.stats  # noqa: F401
    if name == "diagnose":
        sys.path.insert(0, str(ROOT))
        import benchmarks.scenarios.engine  # noqa: F401
        import diagnostics  # noqa: F401
        import diagnostics.loader  # noqa: F401


def child(name: str, path: Path, onset: str, changes: Path | None) -> None:
    _import_for(name)
    base_kb = _rss_now_kb()
    cpu0 = _cpu_seconds()
    started = time.perf_counter()
    if name == "floor":
        extra = measure_floor(path, onset)
    elif name == "ks":
        extra = measure_ks(path, onset)
    else:
        extra = measure_diagnose(path, onset, changes)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu0
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_extra_bytes": (_peak_kb() - base_kb) * 1024, **extra}))


def _cpu_seconds() -> float:
    """User + system CPU of this process: unlike wall time, barely moved by a busy neighbour."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return float(usage.ru_utime + usage.ru_stime)


def run_child(name: str, path: Path, onset: str, changes: Path | None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", name, "--log", str(path), "--onset", onset]
    if changes:
        cmd += ["--changes", str(changes)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} measurement failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run_cli(path: Path, onset: str, changes: Path | None) -> dict[str, Any]:
    script = Path(sys.executable).with_name("mlresponder")
    cmd = [str(script) if script.exists() else "mlresponder", "diagnose", "--log", str(path)]
    if changes:
        cmd += ["--changes", str(changes)]
    if onset:
        cmd += ["--onset", onset]
    cmd += ["--format", "json"]
    wrapped = [sys.executable, "-c", _CLI_WRAPPER, *cmd]
    started = time.perf_counter()
    proc = subprocess.run(wrapped, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"CLI failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out, _, tail = proc.stdout.rpartition("\n__PEAK_KB__ ")
    peak_kb, cpu = tail.split()
    answer = json.loads(out)
    return {"seconds": seconds, "cpu": float(cpu), "peak_bytes": int(peak_kb) * 1024, "cause": answer.get("cause")}


# The CLI's own peak RSS, read from the wait status of the child (RUSAGE_CHILDREN).
_CLI_WRAPPER = """
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(p.stderr)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(p.stdout.rstrip("\\n") + "\\n__PEAK_KB__ " + str(u.ru_maxrss) + " " + str(u.ru_utime + u.ru_stime))
sys.exit(p.returncode)
"""


# ----------------------------------------------------------------------------------------- report


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall and CPU time over the runs, the best wall time, and the worst peak memory."""
    walls = sorted(float(r["seconds"]) for r in runs)
    cpus = sorted(float(r.get("cpu", r["seconds"])) for r in runs)
    chosen = dict(runs[0])
    chosen.update(
        seconds=walls[len(walls) // 2],
        best=walls[0],
        cpu=cpus[len(cpus) // 2],
        peak_extra_bytes=max(int(r["peak_extra_bytes"]) for r in runs),
        all_seconds=[round(w, 2) for w in walls],
    )
    return chosen


def report(
    rows: int,
    features: int,
    floor: dict[str, Any],
    ks: dict[str, Any],
    diag: dict[str, Any],
    cli: dict[str, Any] | None,
    markdown: bool,
    repeat: int,
) -> str:
    """Every figure beside its baseline: wall time (median and best of the runs), CPU time (what a
    busy shared machine distorts least), peak memory above the interpreter, ratios to the floor."""
    data = floor["data_bytes"]
    mb = 1024 * 1024

    def ok(flag: bool) -> str:
        return "met" if flag else "MISSED"

    measured = [
        ("floor: load + np.histogram on reference quantiles, per column", floor),
        (f"scipy.stats.ks_2samp loop over {ks['columns']} numeric columns, load included", ks),
        ("mlresponder diagnosis, Python API, load included", diag),
    ]
    head = ["measurement", "wall s (median)", "wall s (best)", "CPU s", "vs floor (wall / CPU)", "peak MB", "vs data"]
    table = [
        [
            name,
            f"{m['seconds']:.2f}",
            f"{m['best']:.2f}",
            f"{m['cpu']:.2f}",
            f"{m['seconds'] / floor['seconds']:.2f}x / {m['cpu'] / floor['cpu']:.2f}x",
            f"{m['peak_extra_bytes'] / mb:.0f}",
            f"{m['peak_extra_bytes'] / data:.2f}x",
        ]
        for name, m in measured
    ]
    if cli:
        table.append(
            [
                "mlresponder diagnose CLI (one run; process start and imports included)",
                f"{cli['seconds']:.2f}",
                "",
                f"{cli['cpu']:.2f}",
                f"{cli['seconds'] / floor['seconds']:.2f}x / {cli['cpu'] / floor['cpu']:.2f}x",
                f"{cli['peak_bytes'] / mb:.0f}",
                f"{cli['peak_bytes'] / data:.2f}x (whole process)",
            ]
        )
    wall_ratio, cpu_ratio = diag["seconds"] / floor["seconds"], diag["cpu"] / floor["cpu"]
    targets = [
        f"diagnosis {wall_ratio:.2f}x floor in wall time ({cpu_ratio:.2f}x in CPU) vs <= 2x "
        f"({ok(wall_ratio <= 2 and cpu_ratio <= 2)})",
        f"diagnosis {diag['seconds']:.2f} s vs ks loop {ks['seconds']:.2f} s (CPU {diag['cpu']:.2f} vs "
        f"{ks['cpu']:.2f} s) ({ok(diag['seconds'] < ks['seconds'] and diag['cpu'] < ks['cpu'])})",
        f"peak memory {diag['peak_extra_bytes'] / mb:.0f} MB = {diag['peak_extra_bytes'] / data:.2f}x data vs < 3x "
        f"({ok(diag['peak_extra_bytes'] < 3 * data)})",
    ]
    intro = (
        f"{rows:,} rows x {features} features, {data / mb:.0f} MB in memory (Arrow); the diagnosis answered "
        f"cause={diag.get('cause')}, culprit={diag.get('culprit')} with {diag.get('findings')} findings. "
        f"{repeat} interleaved runs per measurement, each in a fresh process (diagnosis wall times: "
        f"{diag['all_seconds']} s)."
    )
    if markdown:
        out = [intro, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(row) + " |" for row in table]
        out += ["", "Targets: " + "; ".join(targets) + "."]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in [head, *table]) for i in range(len(head))]
    out = [intro, ""]
    for row in [head, *table]:
        out.append(
            "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)])
        )
    out += ["", "targets:", *("  " + t for t in targets)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark mlresponder diagnose on a large log.")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the log in this folder")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; medians are reported")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI measurement")
    parser.add_argument("--detect-onset", action="store_true", help="do not give the engine the onset")
    parser.add_argument("--measure", choices=("floor", "ks", "diagnose"), help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--onset", default="", help=argparse.SUPPRESS)
    parser.add_argument("--changes", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        child(args.measure, args.log, args.onset, args.changes)
        return 0

    with tempfile.TemporaryDirectory(prefix="mlresponder-scale-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"log-{args.rows}x{args.features}.parquet"
        meta_path = path.with_suffix(".json")
        if path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
        else:
            print(f"writing {args.rows:,} x {args.features} log to {path} ...", file=sys.stderr)
            meta = write_log(path, args.rows, args.features)
            meta_path.write_text(json.dumps(meta))
        changes = Path(meta["changes"])
        onset = meta["onset"]
        print(
            f"file: {path.stat().st_size / 2**20:.0f} MB Parquet; measuring (each in its own process) ...",
            file=sys.stderr,
        )
        diag_onset = "" if args.detect_onset else onset
        runs: dict[str, list[dict[str, Any]]] = {"floor": [], "ks": [], "diagnose": []}
        for _ in range(args.repeat):  # interleaved, so a noisy neighbour hits every measurement alike
            for name in runs:
                runs[name].append(
                    run_child(
                        name, path, diag_onset if name == "diagnose" else onset, changes if name == "diagnose" else None
                    )
                )
        floor, ks, diag = (_median_run(runs[n]) for n in ("floor", "ks", "diagnose"))
        cli = None if args.no_cli else run_cli(path, diag_onset, changes)
        print(report(args.rows, args.features, floor, ks, diag, cli, args.markdown, args.repeat))
        ratio_ok = diag["seconds"] <= 2 * floor["seconds"] and diag["seconds"] < ks["seconds"]
        ratio_ok = ratio_ok and diag["cpu"] <= 2 * floor["cpu"] and diag["cpu"] < ks["cpu"]
        return 0 if ratio_ok and diag["peak_extra_bytes"] < 3 * floor["data_bytes"] else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
