"""Secrets never leave through any output, and runbook HTTP actions never reach internal
addresses unless allow-listed (checked after DNS resolution and on every redirect)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rb_support import events_of, mitigations_of, open_incident

from bot.api import create_app
from bot.chat.models import OutboxMessage
from bot.config import Settings
from bot.db import transaction
from bot.egress import EgressPolicy, EgressRefused
from bot.models import AuditRecord
from bot.runtime import Runtime
from bot.wiring import create_runtime
from postmortems.service import draft_postmortem
from runbooks.engine import RunbookEngine

SECRET = "hook-key-9d8e7f6a5b"

RUNBOOK = """
name: platform-abort
match: {alertname: CanaryDegraded}
steps:
  - mitigate:
      action: http
      target: "{{ service.model.registry }}"
      approval: auto
      params:
        url: "%(url)s?key={{ secrets.HOOK_KEY }}"
        json: {token: "{{ secrets.HOOK_KEY }}"}
        headers: {X-Key: "{{ secrets.HOOK_KEY }}"}
        retries: 0
        timeout: 5s
"""


class Recorder:
    """A local platform: answers ``status`` echoing what it was sent (the secret with it), or
    redirects every call to ``redirect_to``."""

    def __init__(self, status: int = 500, redirect_to: str | None = None, host: str = "127.0.0.1") -> None:
        self.calls: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                outer.calls.append(self.path)
                if redirect_to:
                    self.send_response(307)
                    self.send_header("Location", redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                raw = json.dumps({"echo": self.path, "body": body}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/abort"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, Recorder]]:
    monkeypatch.setenv("MLRESPONDER_SECRET_HOOK_KEY", SECRET)
    recorder = Recorder(status=500)
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "abort.yaml").write_text(RUNBOOK % {"url": recorder.url.rsplit("/", 1)[0] + "/abort"})
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", runbooks=str(folder),
                        scheduler_enabled=False, postmortem_dir=str(tmp_path / "pm"), egress_allow="127.0.0.1")
    runtime = create_runtime(settings)
    yield runtime, recorder
    runtime.close()
    recorder.close()


def test_a_secret_in_an_http_action_reaches_no_output(platform_runtime: tuple[Runtime, Recorder],
                                                      capsys: pytest.CaptureFixture[str],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    rt, recorder = platform_runtime
    caplog.set_level(logging.DEBUG)
    iid = open_incident(rt, "CanaryDegraded", model="fraud")
    rt.parts[RunbookEngine].run_for_incident(iid)
    assert recorder.calls and SECRET in recorder.calls[0]  # the platform did get the secret
    [m] = mitigations_of(rt, iid)
    assert m.status == "failed"
    assert "HTTP 500" in (m.error or "") and "key=***" in (m.error or "")
    failed = [(e.message, e.data) for e in events_of(rt, iid, "mitigation_failed")]
    stored = [m.error, m.plan, m.params, m.after, failed]
    with transaction(rt.sessions) as s:
        stored += [a.detail for a in s.query(AuditRecord).all()] + [o.payload for o in s.query(OutboxMessage).all()]
    api = TestClient(create_app(rt), client=("127.0.0.1", 50000)).get(f"/incidents/INC-{iid}")
    assert api.status_code == 200 and "key=***" in api.text
    path = draft_postmortem(rt, iid, "U-alice")
    outputs = {"store": json.dumps(stored, default=str), "api": api.text, "postmortem": path.read_text(),
               "console chat": capsys.readouterr().out, "logs": caplog.text}
    for where, text in outputs.items():
        assert SECRET not in text, where


def test_a_successful_response_echoing_the_secret_is_stored_redacted(platform_runtime: tuple[Runtime, Recorder],
                                                                     tmp_path: Path) -> None:
    rt, _ = platform_runtime
    ok = Recorder(status=200)
    try:
        (tmp_path / "runbooks" / "abort.yaml").write_text(RUNBOOK % {"url": ok.url})
        rt2 = create_runtime(rt.settings)
        try:
            iid = open_incident(rt2, "CanaryDegraded", model="fraud")
            rt2.parts[RunbookEngine].run_for_incident(iid)
            [m] = mitigations_of(rt2, iid)
            assert m.status == "executed", m.error
            assert m.after["response"]["body"]["echo"] == "/abort?key=***"
            assert SECRET not in json.dumps(m.after)
        finally:
            rt2.close()
    finally:
        ok.close()


# ---------------------------------------------------------------- egress


def _run_to(tmp_path: Path, url_template: str, annotations: dict[str, str], allow: str = "") -> tuple[Any, Runtime]:
    folder = tmp_path / "rb-egress"
    folder.mkdir(exist_ok=True)
    (folder / "abort.yaml").write_text(
        "name: templated\nmatch: {alertname: CanaryDegraded}\nsteps:\n  - mitigate:\n      action: http\n"
        "      target: x\n      approval: auto\n      params:\n"
        f"        url: \"{url_template}\"\n        headers: {{Authorization: \"Bearer {{{{ secrets.HOOK_KEY }}}}\"}}\n"
        "        retries: 0\n        timeout: 3s\n")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'egress.db'}", runbooks=str(folder),
                        scheduler_enabled=False, postmortem_dir=str(tmp_path / "pm"), egress_allow=allow)
    rt = create_runtime(settings)
    iid = open_incident(rt, "CanaryDegraded", model="fraud", annotations=annotations)
    rt.parts[RunbookEngine].run_for_incident(iid)
    [m] = mitigations_of(rt, iid)
    return m, rt


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/abort", "http://localhost:{port}/abort",
                                    "http://[::ffff:127.0.0.1]:{port}/abort"])
def test_a_templated_url_cannot_reach_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    monkeypatch.setenv("MLRESPONDER_SECRET_HOOK_KEY", SECRET)
    recorder = Recorder(status=200)
    try:
        # Templated (from the incident, not the alert: an alert-templated URL is refused at load)
        m, rt = _run_to(tmp_path, target.format(port=recorder.port) + "?incident={{ incident.ref }}", {})
        rt.close()
        assert m.status == "failed"
        assert "egress refused" in m.error and "loopback" in m.error
        assert recorder.calls == []  # nothing was sent, bearer header included
    finally:
        recorder.close()


def test_the_metadata_address_is_refused_without_connecting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLRESPONDER_SECRET_HOOK_KEY", SECRET)
    m, rt = _run_to(tmp_path, "http://169.254.169.254/latest/meta-data/iam/security-credentials/{{ incident.ref }}",
                    {})
    rt.close()
    assert m.status == "failed" and "169.254.169.254, a link-local address" in m.error


def test_an_allow_listed_host_redirecting_to_loopback_is_refused_at_the_redirect(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLRESPONDER_SECRET_HOOK_KEY", SECRET)
    inner = Recorder(status=200)
    outer = Recorder(redirect_to=inner.url)
    try:
        url = f"http://localhost:{outer.port}/abort"
        m, rt = _run_to(tmp_path, url, {}, allow="localhost")
        rt.close()
        assert outer.calls == ["/abort"]  # the allow-listed name was reached...
        assert inner.calls == []  # ...and its redirect to 127.0.0.1 was not followed
        assert m.status == "failed" and "egress refused: 127.0.0.1" in m.error
        m2, rt2 = _run_to(tmp_path / "again" if (tmp_path / "again").mkdir() is None else tmp_path, url, {},
                          allow="localhost,127.0.0.0/8")
        rt2.close()
        assert m2.status == "executed", m2.error
        assert inner.calls == ["/abort"]
    finally:
        inner.close()
        outer.close()


def test_policy_checks_every_resolved_address() -> None:
    policy = EgressPolicy.parse("hooks.internal, 10.0.0.0/8")
    assert policy.check("10.1.2.3", 80) == ["10.1.2.3"]
    assert policy.allows_host("HOOKS.internal.")
    for host in ("127.0.0.1", "169.254.169.254", "192.168.1.1", "::1", "fd00:ec2::254", "0.0.0.0", "100.64.0.1",
                 "localhost"):
        with pytest.raises(EgressRefused):
            policy.check(host, 80)
    assert EgressPolicy().check("93.184.216.34", 443) == ["93.184.216.34"]
