"""Intake benchmark: alerts/second and latency of `POST /alerts/alertmanager` over loopback.

Starts a real `mlresponder serve` (uvicorn) process on SQLite and on a throwaway PostgreSQL
cluster, then drives it with a mix of new and duplicate fingerprints (Alertmanager re-sends
a firing group every `repeat_interval`, so most deliveries in production are duplicates):

* workloads: a storm (new alerts join their service's incident), one incident per new alert
  (the slowest path), and re-sends only (Alertmanager's steady state);
* saturation: N keep-alive connections send back to back; sustained alerts/s and latency;
* fixed rate: an open-loop schedule at the target rate; latency is measured from the moment a
  request was due, so a server that falls behind shows it (no coordinated omission).

The client is a small asyncio HTTP/1.1 client, so that the load generator takes as little of
the machine's CPU as possible. Prints figures; asserts nothing.

Beside alerts/s and latency it reports the CPU time the server processes spent per accepted
alert (user + system time from /proc, summed over every `serve` process and worker, including
the background work the run left behind, e.g. chat deliveries, until the server is idle again),
and for PostgreSQL the CPU of the database server per alert. CPU per alert is the figure that
compares across machines and across loaded runs; alerts/s and p99 depend on what else runs.
Each figure is printed with the load average at the time.

It also reports the server's own p99 (from its `/metrics` request histogram: the time from the
request reaching the app to the answer, a bucket bound, e.g. "<= 50"): beside the client's p99 it
tells time spent in the server from time spent queued before it (in the client, which shares the
machine, or in the kernel). Each worker keeps its own histogram and answers `/metrics` for itself:
the benchmark scrapes until every worker has answered (which one did is read from /proc: the
process holding the server's end of the scrape's connection) and sums their histograms, and says
how many workers it read ("2/2 workers").
The fixed-rate run also prints how long requests waited in the client for a free connection
(from when they were due; counted in the latency): with 16 connections at 500/s the client is a
closed loop as soon as the server takes more than 16/500 s = 32 ms per request on average, and
this wait is then most of the client's p99.

    python benchmarks/intake.py [--seconds 10] [--rate 500] [--new-share 0.2] [--only sqlite|postgresql]
                                [--replicas N]   # PostgreSQL: N server processes (serve --workers N)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

try:
    from benchmarks._pg import PostgresServer, free_port
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from _pg import PostgresServer, free_port  # type: ignore[no-redef]

TOKEN = "bench-token-not-a-secret"
# Settings the servers run with (`--set NAME=VALUE`: MLRESPONDER_NAME in their environment).
SETTINGS: dict[str, str] = {}


# ---------------------------------------------------------------- the service under test


# ---------------------------------------------------------------- CPU time from /proc

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a live process, from /proc/PID/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and all its live descendants (the server and its workers)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
    total, wanted = 0.0, {root}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in stats.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    for pid in wanted:
        if pid in stats:
            total += stats[pid][1]
    return total


def settle(roots: list[int], quiet_share: float = 0.03, limit: float = 60.0) -> None:
    """Wait until the processes are idle (background work the run queued is done), at most ``limit`` s."""
    deadline = time.monotonic() + limit
    last = sum(tree_cpu_seconds(r) for r in roots)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(tree_cpu_seconds(r) for r in roots)
        if now - last < 0.5 * quiet_share:
            return
        last = now


class Service:
    def __init__(self, database_url: str, workdir: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.workdir = workdir
        script = Path(sys.executable).parent / "mlresponder"
        cmd = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLRESPONDER_", "SLACK_"))}
        env.update(SETTINGS)
        env.update({"MLRESPONDER_DATABASE_URL": database_url, "MLRESPONDER_API_TOKEN": TOKEN,
                    "MLRESPONDER_POSTMORTEM_DIR": str(workdir / "postmortems")})
        self.log = open(workdir / "serve.log", "ab")  # noqa: SIM115 - closed in stop()
        extra = ["--workers", str(workers)] if workers > 1 else []
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--port", str(self.port), "--log-level", "warning", *extra],
            env=env, cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its workers, whatever happens
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"mlresponder serve exited: {(workdir / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        # Not left running (a loaded machine's slow start would otherwise leave a server, and
        # its supervisor respawning workers, behind for every failed run).
        self.stop()
        raise RuntimeError("mlresponder serve did not start")

    def stop(self) -> None:
        """The server and its workers (its process group): SIGTERM, then SIGKILL after 15 s."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # workers the supervisor left, if any
        self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- load


class Deliveries:
    """Webhook bodies: a share of new fingerprints, the rest re-sends of fingerprints already sent.

    With ``services`` set, alerts belong to that many services (one Alertmanager group each), so a
    new fingerprint mostly joins its service's open incident: an alert storm. Without it, every
    new fingerprint has a service of its own and opens an incident: the most expensive path, which
    also sets off everything listening for new incidents (chat, runbooks, escalation).
    """

    def __init__(self, new_share: float, services: int | None = None, seed: int = 7) -> None:
        self.new_share = new_share
        self.services = services
        self.rng = random.Random(seed)
        self.seen: list[tuple[str, str]] = []
        self.sent_new = 0

    def next(self) -> bytes:
        if not self.seen or self.rng.random() < self.new_share:
            fp = f"bench{len(self.seen):07d}{self.rng.randrange(1 << 30):x}"
            service = f"svc-{fp}" if self.services is None else f"svc-{len(self.seen) % self.services}"
            self.seen.append((fp, service))
            self.sent_new += 1
        else:
            fp, service = self.rng.choice(self.seen)
        alert = {
            "status": "firing",
            "labels": {"alertname": "PredictionLatencyHigh", "service": service, "severity": "warning",
                       "instance": "10.0.0.7:9100", "fingerprint_hint": fp},
            "annotations": {"summary": f"p99 latency above SLO on {service}", "description": "benchmark"},
            "startsAt": "2026-11-27T03:02:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.local/graph", "fingerprint": fp,
        }
        body = {
            "version": "4", "groupKey": f'{{}}:{{service="{service}"}}', "truncatedAlerts": 0, "status": "firing",
            "receiver": "mlresponder", "groupLabels": {"service": service}, "commonLabels": alert["labels"],
            "commonAnnotations": alert["annotations"], "externalURL": "http://alertmanager.local",
            "alerts": [alert],
        }
        return json.dumps(body).encode()


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for this server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Result:
    label: str
    sent: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    # Fixed rate: how long each request waited in the client for a free connection (from when it was due).
    waits_ms: list[float] = field(default_factory=list)
    server_p99_ms: float = float("nan")  # a bucket bound of the server's histogram, summed over its workers
    server_workers: str = ""  # how many workers' histograms that is, e.g. "2/2"
    cpu_ms_per_alert: float = float("nan")
    per_transaction: float = float("nan")  # deliveries per intake transaction (group commit)
    db_cpu_ms_per_alert: float = float("nan")
    load: float = float("nan")

    @property
    def rate(self) -> float:
        return (self.sent - self.errors) / self.seconds

    def pct(self, q: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.latencies_ms if values is None else values)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def line(self) -> str:
        db = "" if self.db_cpu_ms_per_alert != self.db_cpu_ms_per_alert else f" (+db {self.db_cpu_ms_per_alert:.2f})"
        return (f"{self.label:<34} {self.rate:8.0f} alerts/s  p50 {self.pct(50):6.1f} ms  p99 {self.pct(99):6.1f} ms  "
                f"max {max(self.latencies_ms, default=0):6.1f} ms  "
                f"server p99 <= {self.server_p99_ms:g} ms ({self.server_workers} workers)  "
                + (f"client wait p50/p99 {self.pct(50, self.waits_ms):.1f}/{self.pct(99, self.waits_ms):.1f} ms  "
                   if self.waits_ms else "") +
                f"errors {self.errors}  {self.per_transaction:.2f} deliveries/transaction  "
                f"CPU {self.cpu_ms_per_alert:.2f} ms/alert{db}  load {self.load:.1f}")


async def saturate(port: int, deliveries: Deliveries, seconds: float, connections: int) -> Result:
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        conn = Connection(port)
        try:
            while time.perf_counter() < end:
                body = deliveries.next()
                t0 = time.perf_counter()
                status = await conn.post("/alerts/alertmanager", body)
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += status >= 300
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return Result(f"saturation, {connections} connections", len(latencies), errors,
                  time.perf_counter() - start, latencies)


async def fixed_rate(port: int, deliveries: Deliveries, seconds: float, rate: float, connections: int) -> Result:
    total = int(seconds * rate)
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    waits: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        conn = Connection(port)
        try:
            while (item := await queue.get()) is not None:
                due, body = item
                waits.append((time.perf_counter() - due) * 1000)
                status = await conn.post("/alerts/alertmanager", body)
                latencies.append((time.perf_counter() - due) * 1000)  # from when it was due: queueing counts
                errors += status >= 300
        finally:
            conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, deliveries.next()))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return Result(f"fixed rate {rate:.0f}/s, {connections} connections", len(latencies), errors,
                  time.perf_counter() - start, latencies, waits)


_LATENCY_BUCKET = "mlresponder_http_request_duration_seconds_bucket{"


def _socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server's end of our loopback connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].rsplit(":", 1)[1], 16) == server_port and int(f[2].rsplit(":", 1)[1], 16) == client_port:
            inode = f[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = list(os.scandir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd.path) == target:
                    return pid
            except OSError:
                continue
    return None


def worker_pids(root: int) -> list[int]:
    """The server process and its descendants (with --workers, uvicorn's workers are its children)."""
    pids, parents = [root], {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = st[0]
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in pids and pid not in pids:
                pids.append(pid)
                changed = True
    return pids


def scrape_workers(port: int, root: int, workers: int, tries: int = 200) -> dict[int, str]:
    """Each worker's metrics text, by pid: a new connection per scrape (the kernel hands it to any
    worker) until ``workers`` distinct ones answered or ``tries`` scrapes were made."""
    import http.client

    pids = worker_pids(root)
    found: dict[int, str] = {}
    for _ in range(tries):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            text = conn.getresponse().read().decode()
            owner = _socket_owner(port, conn.sock.getsockname()[1], pids) if conn.sock else None
        finally:
            conn.close()
        if owner is None:
            owner = -len(found) - 1  # not found in /proc (another user's process?): counted apart
        found.setdefault(owner, text)
        if len(found) >= workers:
            break
    return found


def parse_latency_buckets(text: str) -> dict[float, float]:
    """The server's own intake latency histogram: cumulative request counts by bucket bound (s)."""
    counts: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(_LATENCY_BUCKET) and 'route="/alerts/alertmanager"' in line:
            labels, _, value = line.rpartition(" ")
            le = labels.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            counts[bound] = counts.get(bound, 0.0) + float(value)
    return counts


def batch_totals(text: str) -> tuple[float, float]:
    """(transactions, deliveries) the worker's intake writers committed so far (group commit)."""
    totals = {"count": 0.0, "sum": 0.0}
    for line in text.splitlines():
        for key in totals:
            if line.startswith(f"mlresponder_intake_batch_deliveries_{key} "):
                totals[key] = float(line.rpartition(" ")[2])
    return totals["count"], totals["sum"]


def deliveries_per_transaction(before: dict[int, str], after: dict[int, str]) -> float:
    """Mean deliveries per intake transaction between two scrapes, over the workers scraped both times."""
    both = [pid for pid in after if pid in before and pid > 0]
    transactions = sum(batch_totals(after[p])[0] - batch_totals(before[p])[0] for p in both)
    delivered = sum(batch_totals(after[p])[1] - batch_totals(before[p])[1] for p in both)
    return delivered / transactions if transactions > 0 else float("nan")


def bucket_p99_ms(before: dict[float, float], after: dict[float, float]) -> float:
    """The smallest bucket bound holding 99% of the requests between two scrapes, in ms."""
    diff = {le: after.get(le, 0.0) - before.get(le, 0.0) for le in after}
    total = diff.get(float("inf"), 0.0)
    if total <= 0:
        return float("nan")
    return next(le * 1000 for le in sorted(diff) if diff[le] >= 0.99 * total)


def summed_p99_ms(before_text: dict[int, str], after_text: dict[int, str]) -> tuple[float, int]:
    """p99 bucket bound over the workers scraped both times (their histograms' differences summed)."""
    before = {pid: parse_latency_buckets(t) for pid, t in before_text.items()}
    after = {pid: parse_latency_buckets(t) for pid, t in after_text.items()}
    both = [pid for pid in after if pid in before and pid > 0]
    total_before: dict[float, float] = {}
    total_after: dict[float, float] = {}
    for pid in both:
        for le, n in before[pid].items():
            total_before[le] = total_before.get(le, 0.0) + n
        for le, n in after[pid].items():
            total_after[le] = total_after.get(le, 0.0) + n
    return bucket_p99_ms(total_before, total_after), len(both)


def measured(run: Coroutine[Any, Any, Result], server: int, db: int | None, port: int, workers: int = 1) -> Result:
    """Run one load; charge it the CPU the server (and database) spent until idle again."""
    roots = [server] + ([db] if db else [])
    settle(roots, limit=10.0)
    cpu0, db0 = tree_cpu_seconds(server), (tree_cpu_seconds(db) if db else 0.0)
    buckets0 = scrape_workers(port, server, workers)
    result = asyncio.run(run)
    result.load = os.getloadavg()[0]
    scraped = scrape_workers(port, server, workers)
    result.server_p99_ms, read = summed_p99_ms(buckets0, scraped)
    result.per_transaction = deliveries_per_transaction(buckets0, scraped)
    result.server_workers = f"{read}/{workers}"
    settle(roots)
    accepted = max(1, result.sent - result.errors)
    result.cpu_ms_per_alert = (tree_cpu_seconds(server) - cpu0) * 1000 / accepted
    if db:
        result.db_cpu_ms_per_alert = (tree_cpu_seconds(db) - db0) * 1000 / accepted
    return result


def run_backend(name: str, new_store: Callable[[Path, int], str], args: argparse.Namespace,
                db_pid: int | None = None, workers: int = 1) -> list[Result]:
    """Each workload on a fresh store and server: the storm at saturation and at the target rate,
    the worst case (every new fingerprint opens an incident) and re-sends only, at saturation."""
    results: list[Result] = []
    all_workloads = {
        "storm": (f"storm ({args.new_share:.0%} new alerts, {args.services} services)", args.services,
                  args.new_share, "both"),
        "incident": (f"incident per new alert ({args.new_share:.0%} new)", None, args.new_share, "saturation"),
        "resend": (f"re-sends only ({args.services} services)", args.services, 0.0, "saturation"),
    }
    workloads = [all_workloads[w.strip()] for w in args.workloads.split(",") if w.strip()]
    for label, services, new_share, runs in workloads:
        workdir = Path(tempfile.mkdtemp(prefix=f"mlr-bench-{name}-"))
        service = Service(new_store(workdir, len(results)), workdir, workers)
        pid = service.proc.pid
        try:
            # The warm-up (pool, caches) also sends the fingerprints that later runs re-send.
            deliveries = Deliveries(max(new_share, 0.5), services)
            asyncio.run(saturate(service.port, deliveries, 1.0, args.connections))
            deliveries.new_share = new_share
            out = [measured(saturate(service.port, deliveries, args.seconds, args.connections), pid, db_pid,
                            service.port, workers)]
            if runs == "both":
                out.append(measured(fixed_rate(service.port, deliveries, args.seconds, args.rate, args.connections),
                                    pid, db_pid, service.port, workers))
            with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                count = len(client.get(f"http://127.0.0.1:{service.port}/incidents", params={"limit": 1000})
                            .json()["incidents"])
            for r in out:
                r.label = f"{label}, {r.label}"
                print(f"[{name}] {r.line()}")
            print(f"[{name}]   {deliveries.sent_new} new fingerprints in {len(deliveries.seen)}; "
                  f"{count} incidents (listing capped at 1000)")
            results += out
        finally:
            service.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0, help="target alerts/s of the fixed-rate run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--new-share", type=float, default=0.2, help="share of deliveries with a new fingerprint")
    parser.add_argument("--services", type=int, default=20, help="services (and groups) of the storm workload")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--replicas", type=int, default=1,
                        help="server processes sharing the store (serve --workers N; PostgreSQL only)")
    parser.add_argument("--workloads", default="storm,incident,resend",
                        help="comma-separated subset of storm,incident,resend")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a server setting, e.g. INTAKE_WRITERS=2 (MLRESPONDER_NAME in its environment)")
    args = parser.parse_args(argv)
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--set {item!r}: expected NAME=VALUE")
        SETTINGS[f"MLRESPONDER_{name.upper().removeprefix('MLRESPONDER_')}"] = value
    if args.replicas > 1 and args.only != "postgresql":
        parser.error("--replicas N > 1 needs --only postgresql (SQLite is single-process)")

    rows: list[tuple[str, Result]] = []
    load = os.getloadavg()[0]
    if SETTINGS:
        print("settings: " + " ".join(f"{k}={v}" for k, v in sorted(SETTINGS.items())))
    print(f"mlresponder intake benchmark: {os.cpu_count()} CPUs (load average {load:.1f} at start), "
          f"{args.seconds:.0f} s per run, {args.connections} keep-alive connections")
    if args.only in (None, "sqlite"):
        rows += [("SQLite", r) for r in run_backend("sqlite", lambda d, _: f"sqlite:///{d}/bench.db", args)]
    if args.only in (None, "postgresql"):
        pg = PostgresServer()
        label = "PostgreSQL" if args.replicas == 1 else f"PostgreSQL, {args.replicas} workers"
        try:
            rows += [(label, r)
                     for r in run_backend("postgresql", lambda _, n: pg.create_database(f"bench{n}"), args,
                                          db_pid=pg.postmaster_pid(), workers=args.replicas)]
            print(f"[postgresql] server log: {pg.lock_report()}")
        finally:
            pg.stop()
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print("| store | workload, run | alerts/s | p50 ms | p99 ms | server p99 ms | client wait p99 ms | errors | "
          "deliveries/transaction | CPU ms/alert (server) | CPU ms/alert (PostgreSQL) | load avg |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for store, r in rows:
        db = "" if r.db_cpu_ms_per_alert != r.db_cpu_ms_per_alert else f"{r.db_cpu_ms_per_alert:.2f}"
        wait = f"{r.pct(99, r.waits_ms):.1f}" if r.waits_ms else ""
        print(f"| {store} | {r.label} | {r.rate:.0f} | {r.pct(50):.1f} | {r.pct(99):.1f} | "
              f"<= {r.server_p99_ms:g} ({r.server_workers}) | "
              f"{wait} | {r.errors} | {r.per_transaction:.2f} | "
              f"{r.cpu_ms_per_alert:.2f} | {db} | {r.load:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
