"""Helpers for the chat tests: Slack-signed request bodies and an Alertmanager payload builder."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

SIGNING_SECRET = "test-signing-secret-8f3a"
_TRIGGERS = itertools.count(1)


def trigger_id() -> str:
    """Slack gives every interaction its own trigger id (a repeated one is a replay)."""
    return f"{next(_TRIGGERS)}.{int(time.time())}.t"


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={mac}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_body(text: str, *, user: str = "UALICE01", channel: str = "CGENERAL1", response_url: str = "") -> str:
    return urlencode({
        "token": "legacy", "team_id": "T1", "team_domain": "test", "channel_id": channel,
        "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": "/incident",
        "text": text, "api_app_id": "A1", "response_url": response_url or "http://127.0.0.1:9/none",
        "trigger_id": trigger_id(),
    })


def button_body(action_id: str, value: str, *, user: str = "UALICE01", channel: str = "C00001") -> str:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "container": {"type": "message", "message_ts": "1700000000.000004", "channel_id": channel},
        "trigger_id": trigger_id(),
        "channel": {"id": channel, "name": "inc"},
        "response_url": "http://127.0.0.1:9/none",
        "actions": [{
            "type": "button", "action_id": action_id, "block_id": "incident", "value": value,
            "text": {"type": "plain_text", "text": "x"}, "action_ts": "1700000001.000001",
        }],
    }
    return urlencode({"payload": json.dumps(payload)})


def post_signed(client: TestClient, body: str, **sign_kwargs: Any) -> Any:
    return client.post("/slack/events", content=body.encode(), headers=sign(body, **sign_kwargs))


def alertmanager_payload(alertname: str, *, service: str = "churn-model", severity: str = "critical",
                         labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
                         fingerprint: str | None = None, status: str = "firing",
                         group_key: str | None = None) -> dict[str, Any]:
    alert_labels = {"alertname": alertname, "service": service, "severity": severity, **(labels or {})}
    alert = {
        "status": status,
        "labels": alert_labels,
        "annotations": annotations or {"summary": f"{alertname} on {service}"},
        "startsAt": "2026-11-27T04:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fingerprint or f"fp-{alertname}",
    }
    return {
        "version": "4",
        "groupKey": group_key or f'{{}}:{{alertname="{alertname}"}}',
        "status": status,
        "receiver": "mlresponder",
        "groupLabels": {"alertname": alertname},
        "commonLabels": alert_labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.local",
        "alerts": [alert],
    }
