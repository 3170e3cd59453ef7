"""PagerDuty Events API v2 as an outbox destination: pages leave through the same outbox as chat.

Every page goes this way: the catalog owners' (escalate to ``owners``) and the escalation
policy's tiers (``webhook: true``). A page is an outbox row (key ``pd:<incident>``, so a trigger
is always sent before its acknowledge/resolve and a Slack outage never holds a page back). The
worker's retries cover a PagerDuty outage; ``dedup_key`` is the incident ref, so a retried
trigger whose first answer was lost opens no second PagerDuty incident. The routing key is read
from the environment (the catalog holds a ``${MLRESPONDER_SECRET_…}`` reference, the policy the
variable's name) only when the row is sent, so no key is ever stored in the outbox, the timeline
or a log line.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.chat.port import FinalChatError, RetryableChatError

DEFAULT_URL = "https://events.pagerduty.com"
SEVERITY = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")


# Where a page goes: the catalog service whose owners are paged (``service``), or the escalation
# policy's routing key variable and endpoint (``routing_key_env``, ``url``).
ROUTE_FIELDS = ("service", "routing_key_env", "url")


def pd_key(incident_id: int) -> str:
    return f"pd:{incident_id}"


def page_route(page: Any) -> dict[str, str]:
    """The route of an escalation's ``page`` (empty when it pages nobody)."""
    if not isinstance(page, dict) or not (page.get("service") or page.get("routing_key_env")):
        return {}
    return {k: str(page[k]) for k in ROUTE_FIELDS if page.get(k)}


class PagerDutyClient:
    def __init__(self, base_url: str | None = None, *, timeout: float = 10.0) -> None:
        self.url = (base_url or DEFAULT_URL).rstrip("/") + "/v2/enqueue"
        self.timeout = timeout

    def enqueue(self, body: dict[str, Any], url: str | None = None) -> dict[str, Any]:
        """Send one event (to ``url`` when the page names its own endpoint); raises
        `RetryableChatError` (outage, 429, 5xx) or `FinalChatError` (400...)."""
        try:
            response = httpx.post(url or self.url, json=body, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise RetryableChatError("pagerduty_unreachable", f"{type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise RetryableChatError(f"pagerduty_http_{response.status_code}", response.text[:200],
                                     retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None)
        if not response.is_success:
            raise FinalChatError(f"pagerduty_http_{response.status_code}", response.text[:200])
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            answer = {}
        return {"status": answer.get("status", "success"), "dedup_key": answer.get("dedup_key", body["dedup_key"])}


def event_body(routing_key: str, action: str, ref: str, *, title: str = "", severity: str = "sev3",
               service: str = "", message: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": ref}
    if action == "trigger":
        body["payload"] = {
            "summary": f"{ref}: {title}"[:1024],
            "source": "mlresponder",
            "severity": SEVERITY.get(severity, "error"),
            "component": service,
            "custom_details": {"incident": ref, "message": message[:2000]},
        }
    return body
