"""Action items filed as GitHub issues and Jira tickets (REST over httpx), against local recording servers."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pm_recorded import model_diagnosis, record_incident, story

from bot.config import Settings
from bot.runtime import Runtime
from bot.wiring import create_runtime
from postmortems.service import draft_postmortem_full
from postmortems.trackers import TrackerError, file_action_items


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Recorder:
    """A tiny GitHub + Jira: issues are created, stored, and read back with their state."""

    requests: list[Request] = field(default_factory=list)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                recorder.handle(self)

            do_GET = do_POST  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = json.loads(req.rfile.read(length)) if length else None
        self.requests.append(Request(req.command, req.path, {k.lower(): v for k, v in req.headers.items()}, body))
        status, answer = self.answer(req.command, req.path, body)
        data = json.dumps(answer).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def answer(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/repos/ml/scoring/issues":
            number = len(self.issues) + 1
            issue = {"number": number, "state": "open", "title": body["title"],
                     "url": f"{self.url}/repos/ml/scoring/issues/{number}",
                     "html_url": f"https://github.example/ml/scoring/issues/{number}"}
            self.issues[str(number)] = issue
            return 201, issue
        if method == "GET" and path.startswith("/repos/ml/scoring/issues/"):
            return 200, self.issues[path.rsplit("/", 1)[1]]
        if method == "POST" and path == "/rest/api/2/issue":
            key = f"OPS-{len(self.issues) + 1}"
            self.issues[key] = {"status": "To Do", "fields": body["fields"]}
            return 201, {"id": "1000", "key": key, "self": f"{self.url}/rest/api/2/issue/1000"}
        if method == "GET" and path.startswith("/rest/api/2/issue/"):
            key = path.split("/")[-1].split("?")[0]
            return 200, {"key": key, "fields": {"status": {"name": self.issues[key]["status"]}}}
        return 404, {"message": "Not Found"}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def tracked_runtime(settings: Settings, recorder: Recorder) -> Iterator[Runtime]:
    rt = create_runtime(settings.with_(
        github_repo="ml/scoring", github_api_url=recorder.url, github_token="ghp-test-token-1",
        jira_url=recorder.url, jira_project="OPS", jira_user="bot@example.com", jira_token="jira-token-2",
    ), install_parts=False)
    try:
        yield rt
    finally:
        rt.close()


def action_rows(markdown: str) -> list[list[str]]:
    section = markdown[markdown.index("## Action items"):]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in section.splitlines()
            if re.match(r"\| P[123] \|", line)]


def test_github_issues_are_filed_once_and_their_state_shown_when_redrawn(
    tracked_runtime: Runtime, recorder: Recorder, tmp_path: Path
) -> None:
    s = story()
    incident_id = record_incident(tracked_runtime, s, model_diagnosis(s))
    filed = file_action_items(tracked_runtime, incident_id, "github", "slack:UALICE01")
    assert [f.key for f in filed] == ["#1", "#2", "#3"]
    first = recorder.requests[0]
    assert (first.method, first.path) == ("POST", "/repos/ml/scoring/issues")
    assert first.headers["authorization"] == "Bearer ghp-test-token-1"
    assert first.headers["accept"] == "application/vnd.github+json"
    assert first.body == {
        "title": "Add a canary stage to model deploys: a small share of traffic with an automatic quality gate",
        "body": f"Action item from the postmortem of INC-{incident_id} (Accuracy of scoring dropped).\n\n"
                "Why: a new model version (here `v2`) reached all traffic before its quality was known\n"
                "Priority: P1\nOwner: incident commander",
        "labels": ["postmortem", f"INC-{incident_id}"],
    }
    # filing again files nothing new
    assert file_action_items(tracked_runtime, incident_id, "github", "slack:UALICE01") == []
    assert [r.method for r in recorder.requests] == ["POST"] * 3

    recorder.issues["1"]["state"] = "closed"
    md = draft_postmortem_full(tracked_runtime, incident_id, "cli", tmp_path).markdown
    rows = action_rows(md)
    assert rows[0][4] == "github [#1](https://github.example/ml/scoring/issues/1) (closed)"
    assert rows[1][4].endswith("(open)")
    assert [r.path for r in recorder.requests[3:]] == [f"/repos/ml/scoring/issues/{n}" for n in (1, 2, 3)]
    assert "ghp-test-token-1" not in md


def test_jira_tickets_with_basic_auth(tracked_runtime: Runtime, recorder: Recorder, tmp_path: Path) -> None:
    s = story()
    incident_id = record_incident(tracked_runtime, s, model_diagnosis(s))
    filed = file_action_items(tracked_runtime, incident_id, "jira", "cli")
    assert [f.key for f in filed] == ["OPS-1", "OPS-2", "OPS-3"]
    create = recorder.requests[0]
    assert (create.method, create.path) == ("POST", "/rest/api/2/issue")
    assert create.headers["authorization"] == "Basic " + base64.b64encode(b"bot@example.com:jira-token-2").decode()
    fields = create.body["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Task"}
    assert fields["labels"] == ["postmortem", f"INC-{incident_id}"] and fields["summary"].startswith("Add a canary")
    recorder.issues["OPS-2"]["status"] = "In Progress"
    md = draft_postmortem_full(tracked_runtime, incident_id, "cli", tmp_path).markdown
    rows = action_rows(md)
    assert rows[1][4] == f"jira [OPS-2]({recorder.url}/browse/OPS-2) (In Progress)"
    assert recorder.requests[-1].path == "/rest/api/2/issue/OPS-3?fields=status"


def test_unconfigured_or_failing_tracker_is_a_clear_error(settings: Settings, recorder: Recorder) -> None:
    rt = create_runtime(settings, install_parts=False)
    try:
        s = story()
        incident_id = record_incident(rt, s, model_diagnosis(s))
        with pytest.raises(TrackerError, match="GitHub is not configured"):
            file_action_items(rt, incident_id, "github", "cli")
        with pytest.raises(TrackerError, match="unknown tracker 'trello'"):
            file_action_items(rt, incident_id, "trello", "cli")
    finally:
        rt.close()
    broken = create_runtime(settings.with_(github_repo="ml/other", github_api_url=recorder.url,
                                           github_token="t"), install_parts=False)
    try:
        with pytest.raises(TrackerError, match="HTTP 404"):
            file_action_items(broken, incident_id, "github", "cli")
    finally:
        broken.close()
