"""HMAC-signed button values: a click can only ask for what the bot itself put on the card.

A button's value carries the action, the incident and the mitigation; the MAC is keyed from
the Slack signing secret, so an altered value (another mitigation id, "approve" instead of
"reject") or one minted elsewhere is refused before anything happens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

BUTTON_ACTIONS = ("ack", "diagnose", "approve", "reject", "revert")
_VALUE = re.compile(r"^(?P<action>[a-z]+):(?P<incident>\d+):(?P<mitigation>\d+):(?P<mac>[0-9a-f]{32})$")


class BadSignature(Exception):
    """The button value was not made by this bot (or was altered)."""


@dataclass(frozen=True)
class ButtonAction:
    action: str
    incident_id: int
    mitigation_id: int | None


class ButtonSigner:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a button signer needs a non-empty secret")
        # Derived, so the signing secret itself is never used for two purposes.
        self._key = hmac.new(secret.encode(), b"mlresponder/button/v1", hashlib.sha256).digest()

    def _mac(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def sign(self, action: str, incident_id: int, mitigation_id: int | None = None) -> str:
        if action not in BUTTON_ACTIONS:
            raise ValueError(f"unknown button action {action!r} (expected one of {', '.join(BUTTON_ACTIONS)})")
        payload = f"{action}:{int(incident_id)}:{int(mitigation_id or 0)}"
        return f"{payload}:{self._mac(payload)}"

    def verify(self, value: str) -> ButtonAction:
        m = _VALUE.match(value or "")
        if not m:
            raise BadSignature("malformed button value")
        payload = f"{m['action']}:{m['incident']}:{m['mitigation']}"
        if not hmac.compare_digest(self._mac(payload), m["mac"]) or m["action"] not in BUTTON_ACTIONS:
            raise BadSignature("button value signature does not match")
        mitigation = int(m["mitigation"])
        return ButtonAction(m["action"], int(m["incident"]), mitigation or None)
