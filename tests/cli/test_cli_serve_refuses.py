"""`serve` must refuse to start, with a one-line reason, when a runbook or monitor is invalid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MLRESPONDER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", **env}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "1"], env=full_env, capture_output=True,
        text=True, timeout=120,
    )


def test_serve_refuses_an_invalid_runbook(tmp_path: Path) -> None:
    book = tmp_path / "bad.yaml"
    book.write_text(
        "name: bad\nmatch:\n  alertname: X\nsteps:\n  - mitigate:\n      action: rolback\n      target: m\n"
    )
    proc = _serve(tmp_path, MLRESPONDER_RUNBOOKS=str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "refusing to start" in proc.stderr
    assert "unknown action 'rolback'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_refuses_an_invalid_monitor(tmp_path: Path) -> None:
    monitors = tmp_path / "monitors.yaml"
    monitors.write_text("monitors:\n  - name: m\n    schedule: {every: 5m}\n")
    proc = _serve(tmp_path, MLRESPONDER_MONITORS=str(monitors))
    assert proc.returncode == 2, proc.stderr
    assert "refusing to start" in proc.stderr and "monitors.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_refuses_a_taken_port_before_saying_it_serves(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        full_env = {**os.environ, "MLRESPONDER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
        proc = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=full_env,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in proc.stderr
    assert "serving on" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
