"""A recording fake of the Slack Web API: a threaded http.server on 127.0.0.1.

It records every call (method, JSON or form body merged with query-string arguments) and
answers like Slack would for the methods mlresponder uses. Tests script failures: HTTP 429
with Retry-After, 500, `ok: false` errors, or the whole server going down and coming back
on the same port.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.config import Settings
from bot.runtime import Runtime
from tests.support.servers import free_port

# The chat outbox's timings for tests: deliveries and retries within tenths of a second.
FAST_OUTBOX = {"poll_interval": 0.05, "base_delay": 0.05, "max_delay": 0.4}


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float
    authorized: bool


@dataclass
class Fault:
    method: str | None  # None: the next call of any method
    status: int = 200
    error: str | None = None
    retry_after: float | None = None


@dataclass
class FakeSlack:
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    unknown_users: set[str] = field(default_factory=set)
    disabled_users: set[str] = field(default_factory=set)
    archived: set[str] = field(default_factory=set)
    taken_names: set[str] = field(default_factory=set)
    groups: dict[str, list[str]] = field(default_factory=dict)
    token: str = "xoxb-test-token"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._channels: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}
        self._seq = 0
        self._slow: dict[str, float] = {}  # method -> seconds to wait before answering (after acting)
        self.attempts: list[Call] = []  # every request that reached us, faulted ones included
        # files.getUploadURLExternal hands out /upload/<file id>; what was POSTed there, by file id.
        self.uploads: dict[str, bytes] = {}
        self.private_channels: set[str] = set()

    # lifecycle -------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                fake._handle(self)

            do_GET = do_POST  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    down = stop

    def up(self) -> None:
        for _ in range(50):
            try:
                self.start()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"fake Slack could not rebind port {self.port}")

    # scripting ---------------------------------------------------------------
    def fail_next(self, *, method: str | None = None, status: int = 200, error: str | None = None,
                  retry_after: float | None = None, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(Fault(method, status, error, retry_after))

    def slow_next(self, method: str, seconds: float) -> None:
        """Act on the next ``method`` call at once, but answer only after ``seconds`` (a client timeout)."""
        self._slow[method] = seconds

    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError(f"fake Slack: condition not met within {timeout}s; calls: {self.methods()}")

    def raw(self) -> str:
        """Everything Slack received, as one string (for 'never contains' assertions)."""
        with self._lock:
            return "\n".join(json.dumps(c.args, ensure_ascii=False) for c in self.calls)

    # serving -------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        if parts.path.startswith("/upload/"):
            # Slack's upload URL takes the bytes (raw or multipart) and answers plain text.
            with self._lock:
                self.uploads[parts.path[len("/upload/"):]] = body
            self._send(req, 200, b"OK - " + str(len(body)).encode(), "text/plain", {})
            return
        args: dict[str, Any] = dict(parse_qsl(parts.query))
        ctype = req.headers.get("Content-Type") or ""
        if body:
            if "json" in ctype:
                args.update(json.loads(body))
            else:
                args.update(dict(parse_qsl(body.decode())))
        for key in ("blocks", "attachments", "files"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        path = parts.path
        method = path[len("/api/") :] if path.startswith("/api/") else "response_url" + path
        auth = req.headers.get("Authorization") or ""
        call = Call(method, args, time.monotonic(), auth == f"Bearer {self.token}")
        with self._lock:
            self.attempts.append(call)
            fault = self._take_fault(method)
        if fault is not None:
            payload: dict[str, Any] = {"ok": False, "error": fault.error or f"http_{fault.status}"}
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            if fault.status >= 500:
                self._send(req, fault.status, b"<html>upstream failure</html>", "text/html", headers)
            else:
                self._send_json(req, fault.status, payload, headers)
            return
        with self._lock:
            status, answer = self._answer(method, args)
            if answer.get("ok"):
                self.calls.append(call)
            delay = self._slow.pop(method, 0.0)
        if delay:
            time.sleep(delay)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up: the point
                self._send_json(req, status, answer)
            return
        self._send_json(req, status, answer)

    def _take_fault(self, method: str) -> Fault | None:
        for fault in list(self.faults):
            if fault.method in (None, method):
                self.faults.remove(fault)
                return fault
        return None

    def _answer(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._seq += 1
        channel = str(args.get("channel", ""))
        if method == "auth.test":
            return 200, {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "team": "test"}
        if method == "apps.connections.open":
            # A WebSocket URL nobody listens on: Socket Mode clients get that far, then retry.
            return 200, {"ok": True, "url": f"ws://127.0.0.1:{free_port()}/link"}
        if method == "conversations.create":
            name = str(args.get("name"))
            if name in self._channels or name in self.taken_names:
                return 200, {"ok": False, "error": "name_taken"}
            cid = f"C{len(self._channels) + 1:05d}"
            self._channels[name] = cid
            if str(args.get("is_private")).lower() in ("true", "1"):
                self.private_channels.add(cid)
            return 200, {"ok": True, "channel": {"id": cid, "name": name, "creator": "UBOT"}}
        if method == "conversations.list":
            channels = [{"id": cid, "name": name, "creator": "UBOT", "is_archived": cid in self.archived}
                        for name, cid in self._channels.items()]
            channels += [{"id": f"CX{i:04d}", "name": name, "creator": "UOTHER", "is_archived": False}
                         for i, name in enumerate(sorted(self.taken_names))]
            return 200, {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}
        if channel in self.archived and method in (
            "conversations.setTopic", "conversations.invite", "chat.postMessage", "chat.update", "pins.add"
        ):
            return 200, {"ok": False, "error": "is_archived"}
        if method == "conversations.invite":
            users = str(args.get("users", "")).split(",")
            if any(u in self.unknown_users for u in users):
                return 200, {"ok": False, "error": "user_not_found"}
            if any(u in self.disabled_users for u in users):
                return 200, {"ok": False, "error": "user_disabled"}
            members = self._members.setdefault(channel, set())
            if any(u in members for u in users):
                return 200, {"ok": False, "error": "already_in_channel"}
            members.update(users)
            return 200, {"ok": True, "channel": {"id": channel}}
        if method == "chat.postMessage":
            return 200, {"ok": True, "channel": channel, "ts": f"1700000000.{self._seq:06d}"}
        if method == "chat.update":
            return 200, {"ok": True, "channel": channel, "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": f"1700000000.{self._seq:06d}"}
        if method == "files.getUploadURLExternal":
            if not args.get("filename") or not str(args.get("length", "")).isdigit():
                return 200, {"ok": False, "error": "invalid_arguments"}
            file_id = f"F{self._seq:06d}"
            return 200, {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
                         "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = args.get("files") or []
            if not files or any(f.get("id") not in self.uploads for f in files):
                return 200, {"ok": False, "error": "file_not_found"}
            return 200, {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "conversations.archive":
            if channel in self.archived:
                return 200, {"ok": False, "error": "already_archived"}
            self.archived.add(channel)
            return 200, {"ok": True}
        if method == "usergroups.users.list":
            group = str(args.get("usergroup"))
            if group not in self.groups:
                return 200, {"ok": False, "error": "no_such_subteam"}
            return 200, {"ok": True, "users": self.groups[group]}
        return 200, {"ok": True}

    @staticmethod
    def _send_json(req: BaseHTTPRequestHandler, status: int, payload: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
        FakeSlack._send(req, status, json.dumps(payload).encode(), "application/json", headers or {})

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(body)


@contextlib.contextmanager
def chat_only_runtime(settings: Settings) -> Iterator[Runtime]:
    """A started runtime with only the chat part: what Slack receives is then what the test caused."""
    from bot.wiring import create_runtime, install_chat

    rt = create_runtime(settings, install_parts=False)
    install_chat(rt)
    rt.start()
    try:
        yield rt
    finally:
        rt.close()
