"""A real Prometheus holding hours of backfilled history (no waiting for scrapes).

OpenMetrics text -> `promtool tsdb create-blocks-from openmetrics` -> `prometheus` on a free
loopback port with an empty scrape config. Used by the service scenario suite and its tests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


class PrometheusUnavailable(RuntimeError):
    """`prometheus` or `promtool` is not installed, or would not start."""


def binaries() -> tuple[str, str]:
    prom, tool = shutil.which("prometheus"), shutil.which("promtool")
    if not prom or not tool:
        raise PrometheusUnavailable("prometheus and promtool are not installed (Debian package `prometheus`)")
    return prom, tool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backfill(lines: Iterable[str], workdir: Path) -> Path:
    """Write the OpenMetrics text and turn it into TSDB blocks; returns the data folder."""
    _, tool = binaries()
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / "history.om"
    with src.open("w", encoding="utf-8") as fh:
        buf: list[str] = []
        for line in lines:
            buf.append(line)
            if len(buf) >= 50_000:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")
    data = workdir / "data"
    proc = subprocess.run(
        [tool, "tsdb", "create-blocks-from", "openmetrics", str(src), str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise PrometheusUnavailable(f"promtool failed: {proc.stderr.strip()[-800:]}")
    src.unlink()
    return data


@contextmanager
def serve(data: Path, *, timeout_s: float = 30.0) -> Iterator[str]:
    """Serve a TSDB folder; yields the base URL and stops the server afterwards."""
    prom, _ = binaries()
    port = _free_port()
    config = data.parent / "prometheus.yml"
    config.write_text("global: {scrape_interval: 15s}\n", encoding="utf-8")
    log = (data.parent / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            prom,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=10y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise PrometheusUnavailable(f"prometheus exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(url + "/-/ready", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise PrometheusUnavailable(f"prometheus not ready after {timeout_s:.0f} s; see {log.name}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
