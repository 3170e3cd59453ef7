"""The `http` action against a real local server: templated request, retries on 5xx, the
response recorded, credentials redacted, the revert request sent on revert."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rb_support import events_of, make_runtime, mitigations_of, open_incident

from bot.db import transaction
from bot.models import AuditRecord, ChangeEvent
from runbooks.engine import RunbookEngine
from runbooks.service import revert_mitigation

RUNBOOK = """
name: kserve-canary-abort
match: {alertname: CanaryDegraded}
steps:
  - mitigate:
      action: http
      target: "{{ service.model.registry }}"
      approval: auto
      params:
        url: "%(url)s/v1/models/{{ service.model.registry }}:abort"
        json: {reason: "{{ incident.ref }} {{ incident.title }}"}
        headers: {Authorization: "Bearer {{ secrets.KSERVE_TOKEN }}", X-Trace: "{{ secrets.KSERVE_TOKEN }}"}
        retries: 2
        timeout: 5s
        revert:
          url: "%(url)s/v1/models/{{ service.model.registry }}:promote"
          method: POST
  - notify: {message: "answer {{ mitigation.after.response.status }}"}
"""


class Platform:
    """A serving platform that fails the first call with 503, then answers."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                outer.calls.append((self.path, dict(self.headers), body))
                code = 503 if len(outer.calls) == 1 else 200
                raw = json.dumps({"ok": code == 200, "path": self.path}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_http_mitigation_retries_records_and_reverts(rb_settings, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLRESPONDER_SECRET_KSERVE_TOKEN", "s3cret-token")
    platform = Platform()
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "kserve.yaml").write_text(RUNBOOK % {"url": platform.url})
    rt = make_runtime(rb_settings.with_(runbooks=str(folder)))
    try:
        iid = open_incident(rt, "CanaryDegraded", model="fraud")
        rt.parts[RunbookEngine].run_for_incident(iid)
        [m] = mitigations_of(rt, iid)
        assert m.status == "executed"
        assert [c[0] for c in platform.calls] == ["/v1/models/fraud:abort"] * 2  # one retry after the 503
        assert json.loads(platform.calls[1][2]) == {"reason": f"INC-{iid} CanaryDegraded"}
        assert platform.calls[1][1]["Authorization"] == "Bearer s3cret-token"
        assert platform.calls[1][1]["X-Trace"] == "s3cret-token"
        assert m.after["response"]["status"] == 200 and m.after["response"]["body"]["ok"] is True
        assert m.plan["request"]["headers"] == {"Authorization": "***", "X-Trace": "***"}
        assert m.params["headers"] == {"Authorization": "Bearer ***", "X-Trace": "***"}
        assert [e.data["text"] for e in events_of(rt, iid, "notify")] == ["answer 200"]
        with transaction(rt.sessions) as s:
            assert s.query(ChangeEvent).filter_by(origin="mitigation").one().kind == "config_change"
            audit_details = [a.detail for a in s.query(AuditRecord).all()]
        recorded = [e.data for e in events_of(rt, iid, "mitigation_executed")]
        everything = json.dumps(recorded) + json.dumps(audit_details) + json.dumps(m.plan) + json.dumps(m.params)
        assert "s3cret-token" not in everything
        revert_mitigation(rt, m.id, "U-alice")
        assert platform.calls[-1][0] == "/v1/models/fraud:promote"
        assert mitigations_of(rt, iid)[0].status == "reverted"
    finally:
        rt.close()
        platform.close()
