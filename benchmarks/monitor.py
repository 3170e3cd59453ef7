"""Monitor benchmark: 20 monitors over a large prediction table, aggregation in SQL vs load-everything.

    python benchmarks/monitor.py                       # 10,000,000 rows, SQLite and PostgreSQL
    python benchmarks/monitor.py --rows 500000         # scaled down
    python benchmarks/monitor.py --backends sqlite --pg-url postgresql://...

The table spans 7 days (so windows scale with --rows): 6 numeric and 2 categorical features,
model_version, prediction, label, latency_ms, error, indexed on timestamp. Each of the 20
monitors runs all checks over a 1 h window against the trailing 6 h, its window ending at a
different hour of the last day (a drift is injected in the last 3 hours, so some breach).
Each monitor runs once through `MonitorService.run` (claim, read, judge, publish; the baseline
runs only the first --load-monitors of them, 5 by default, because it is slow),
and the script prints per-run time and peak RSS growth (sampled from /proc every 5 ms) for
``aggregate`` (each window counted by the database and read once, sampled by the database beyond
``max_rows``) beside ``load`` (every row of the window and reference fetched into pandas).
Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Settings  # noqa: E402
from bot.monitors.runner import MonitorService
from bot.wiring import create_runtime

START = datetime(2026, 11, 20, tzinfo=UTC)
SPAN = timedelta(days=7)
NUMERIC = ("amount", "age", "tenure_days", "score_a", "score_b", "session_s")
CATEGORICAL = ("country", "device")
COUNTRIES = np.array(["de", "fr", "us", "jp", "br", "in"], dtype=object)
DEVICES = np.array(["ios", "android", "web"], dtype=object)
CHUNK = 250_000


# ---------------------------------------------------------------- data


def chunks(rows: int, seed: int = 1) -> Iterator[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    span = SPAN.total_seconds()
    drift_from = span - 3 * 3600
    for lo in range(0, rows, CHUNK):
        n = min(CHUNK, rows - lo)
        offs = (np.arange(lo, lo + n) + rng.random(n)) * (span / rows)
        drifted = offs >= drift_from
        truth = rng.random(n) < 0.2
        flip = rng.random(n) < 0.08
        pred = np.where(flip, ~truth, truth)
        amount = rng.lognormal(3.0, 0.5, n)
        amount[drifted] = amount[drifted] * 3 + 40
        label = np.where(truth, "fraud", "ok").astype(object)
        label[rng.random(n) < 0.1] = None
        error = rng.random(n) < 0.002
        prediction = np.where(pred, "fraud", "ok").astype(object)
        prediction[error] = None
        yield {
            "epoch": START.timestamp() + offs,
            "model_version": np.where(rng.random(n) < 0.5, "v7", "v8").astype(object),
            "prediction": prediction, "label": label,
            "latency_ms": np.round(rng.lognormal(np.log(30), 0.3, n), 2), "error": error.astype(np.int64),
            "amount": amount, "age": rng.normal(40, 10, n), "tenure_days": rng.exponential(300, n),
            "score_a": rng.random(n), "score_b": rng.normal(0, 1, n), "session_s": rng.lognormal(4.8, 0.6, n),
            "country": rng.choice(COUNTRIES, n), "device": rng.choice(DEVICES, n),
        }


COLUMNS = ("model_version", "prediction", "label", "latency_ms", "error", *NUMERIC, *CATEGORICAL)


def load_sqlite(path: Path, rows: int) -> str:
    import sqlite3

    conn = sqlite3.connect(path)
    cols = ", ".join(f'"{c}"' for c in COLUMNS)
    types = {c: "REAL" for c in (*NUMERIC, "latency_ms")} | {"error": "INTEGER"}
    defs = ", ".join(f'"{c}" {types.get(c, "TEXT")}' for c in COLUMNS)
    conn.execute(f'CREATE TABLE predictions ("timestamp" TEXT, {defs})')
    for c in chunks(rows):
        ts = (np.datetime64("1970-01-01T00:00:00") + (c["epoch"] * 1e6).astype("timedelta64[us]"))
        text = np.datetime_as_string(ts, unit="us")
        text = np.char.replace(text.astype(str), "T", " ")
        data = zip(text.tolist(), *(c[k].tolist() for k in COLUMNS), strict=True)
        conn.executemany(f'INSERT INTO predictions ("timestamp", {cols}) VALUES ({", ".join("?" * 14)})', data)
        conn.commit()
    conn.execute('CREATE INDEX ix_predictions_ts ON predictions ("timestamp")')
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def load_postgres(url: str, rows: int) -> None:
    import psycopg

    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS predictions")
        numeric = ", ".join(f"{c} double precision" for c in NUMERIC)
        conn.execute(f"CREATE TABLE predictions (timestamp timestamptz, model_version text, prediction text, "
                     f"label text, latency_ms double precision, error integer, {numeric}, country text, device text)")
        with conn.cursor() as cur:
            for c in chunks(rows):
                stamps = [datetime.fromtimestamp(x, tz=UTC) for x in c["epoch"].tolist()]
                with cur.copy(f"COPY predictions (timestamp, {', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in zip(stamps, *(c[k].tolist() for k in COLUMNS), strict=True):
                        copy.write_row(row)
        conn.execute("CREATE INDEX ix_predictions_ts ON predictions (timestamp)")
        conn.execute("ANALYZE predictions")


@contextmanager
def given(url: str) -> Iterator[str]:
    yield url


@contextmanager
def temp_postgres() -> Iterator[str]:
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    bindir = binaries[0] if binaries else Path(shutil.which("pg_ctl") or "pg_ctl").parent
    work = Path(tempfile.mkdtemp(prefix="mlr-monbench-pg-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(work, "postgres", "postgres")

    def run(cmd: list[str]) -> None:
        subprocess.run((["runuser", "-u", "postgres", "--"] if as_root else []) + cmd, check=True,
                       capture_output=True, timeout=120)

    run([str(bindir / "initdb"), "-D", str(work / "data"), "-U", "postgres", "-A", "trust", "--no-sync"])
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {work} -c fsync=off -c shared_buffers=256MB"
    run([str(bindir / "pg_ctl"), "-D", str(work / "data"), "-o", opts, "-l", str(work / "log"), "-w", "start"])
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run([str(bindir / "pg_ctl"), "-D", str(work / "data"), "-m", "fast", "stop"])
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- measuring


class PeakRss:
    """Peak resident memory of this process while a block runs (sampled; includes C allocations)."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    @contextmanager
    def measure(self) -> Iterator[dict[str, float]]:
        out: dict[str, float] = {}
        base = self.rss()
        peak = [base]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], self.rss())
                stop.wait(0.005)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        t0 = time.perf_counter()
        try:
            yield out
        finally:
            out["seconds"] = time.perf_counter() - t0
            stop.set()
            thread.join()
            out["peak_mb"] = (max(peak[0], self.rss()) - base) / 2**20


def monitors_yaml(path: Path, url: str, mode: str, n: int) -> str:
    docs = [{
        "name": f"{mode}-{i:02d}", "service": f"svc-{i % 4}", "severity": "sev3", "schedule": {"every": "1h"},
        "source": {"url": url, "table": "predictions", "mode": mode}, "window": "1h",
        "reference": {"trailing": "6h"},
        "checks": {"drift": {}, "missing": {}, "stuck": {}, "quality": {}, "latency": {}, "errors": {},
                   "traffic": {}},
    } for i in range(n)]
    path.write_text(yaml.safe_dump({"monitors": docs}))
    return str(path)


def child(backend: str, url: str, mode: str, monitors: int, work: Path) -> None:
    """One (backend, mode) in its own process, so its peak RSS is its own; prints one JSON line per run."""
    import json
    import resource
    import tracemalloc

    store = work / f"store-{backend}-{mode}.db"
    settings = Settings(database_url=f"sqlite:///{store}", scheduler_enabled=False,
                        monitors=monitors_yaml(work / f"m-{backend}-{mode}.yaml", url, mode, monitors))
    runtime = create_runtime(settings)
    service = runtime.parts[MonitorService]
    meter = PeakRss()
    tracemalloc.start()
    for i in range(monitors):
        end = START + SPAN - timedelta(hours=i)
        tracemalloc.reset_peak()
        with meter.measure() as m:
            outcome = service.run(f"{mode}-{i:02d}", now=end)
        if outcome.status == "error":
            raise SystemExit(f"{backend}/{mode}: {outcome.error}")
        m["py_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        m["rows"] = float(outcome.metrics.get("rows", 0) + outcome.metrics.get("reference_rows", 0))
        m["breach"] = float(outcome.status == "breach")
        m["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(m), flush=True)
    runtime.close()


def bench(backend: str, url: str, monitors: int, load_monitors: int,
          work: Path) -> list[tuple[str, str, list[dict[str, float]]]]:
    import json

    out = []
    for mode, n in (("aggregate", monitors), ("load", min(monitors, load_monitors))):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", backend, url, mode, str(n), str(work)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{backend}/{mode} failed:\n{proc.stderr[-2000:]}")
        results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        for i, m in enumerate(results):
            print(f"  {backend:<10} {mode:<9} monitor {i:02d}: {m['seconds']:.2f} s, python peak "
                  f"{m['py_peak_mb']:.0f} MB, process max RSS {m['maxrss_mb']:.0f} MB", flush=True)
        out.append((backend, mode, results))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--monitors", type=int, default=20)
    parser.add_argument("--load-monitors", type=int, default=5,
                        help="monitors run in the load-everything baseline (it is slow; per-run figures compare)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", help="use this PostgreSQL database instead of starting a throwaway one")
    parser.add_argument("--child", nargs=5, metavar=("BACKEND", "URL", "MODE", "N", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, url, mode, n, work_dir = args.child
        child(backend, url, mode, int(n), Path(work_dir))
        return
    work = Path(tempfile.mkdtemp(prefix="mlr-monbench-"))
    table: list[tuple[str, str, list[dict[str, float]]]] = []
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    try:
        if "sqlite" in backends:
            t0 = time.perf_counter()
            url = load_sqlite(work / "predictions.db", args.rows)
            print(f"sqlite: loaded {args.rows:,} rows in {time.perf_counter() - t0:.0f} s", flush=True)
            table += bench("sqlite", url, args.monitors, args.load_monitors, work)
        if "postgresql" in backends:
            with given(args.pg_url) if args.pg_url else temp_postgres() as pg:
                t0 = time.perf_counter()
                load_postgres(pg, args.rows)
                print(f"postgresql: loaded {args.rows:,} rows in {time.perf_counter() - t0:.0f} s", flush=True)
                table += bench("postgresql", pg, args.monitors, args.load_monitors, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{args.monitors} monitors ({min(args.monitors, args.load_monitors)} in the load baseline) over "
          f"{args.rows:,} rows (window 1 h + reference 6 h per run)")
    print("| backend | mode | rows judged per run | median s/run | max s/run | total s | "
          "median Python peak MB/run | process max RSS MB | breaches |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for backend, mode, results in table:
        secs = [r["seconds"] for r in results]
        rows = statistics.median(r["rows"] for r in results)
        py = statistics.median(r["py_peak_mb"] for r in results)
        rss = max(r["maxrss_mb"] for r in results)
        breaches = int(sum(r["breach"] for r in results))
        print(f"| {backend} | {mode} | {rows:,.0f} | {statistics.median(secs):.2f} | {max(secs):.2f} | "
              f"{sum(secs):.1f} | {py:.1f} | {rss:.0f} | {breaches}/{len(results)} |")

if __name__ == "__main__":
    main()
