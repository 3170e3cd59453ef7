"""The one wrapper around every Slack Web API call.

It turns Slack's many failure shapes into the two the outbox needs: retry later (HTTP 429
with its `Retry-After`, 5xx, Slack's own transient errors, an unreachable server) or give
up on this call (`user_not_found`, `is_archived`, `missing_scope`, ...). The SDK's own
retry handlers are switched off: the outbox decides when to try again, and records it.
Tokens never leave this object: errors carry Slack's error name, not the request.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookClient

from bot.chat.port import FinalChatError, RetryableChatError
from bot.redact import redact

log = logging.getLogger(__name__)

# Slack error names that mean "not now" rather than "never".
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
     "request_timeout", "team_added_to_org"}
)
DEFAULT_RETRY_AFTER = 1.0


class SlackClient:
    def __init__(self, token: str, *, base_url: str | None = None, timeout: int = 10,
                 secrets: list[str] | None = None) -> None:
        if base_url and not base_url.endswith("/"):
            base_url += "/"
        # Last line of defence: no configured secret is ever sent as message content.
        self._secrets = sorted({token, *(secrets or [])}, key=len, reverse=True)
        self.web = WebClient(
            token=token, base_url=base_url or WebClient.BASE_URL, timeout=timeout, retry_handlers=[]
        )

    def call(self, method: str, **args: Any) -> dict[str, Any]:
        """Call a Web API method (``"chat.postMessage"``) and return Slack's answer as a dict."""
        fn = getattr(self.web, method.replace(".", "_"), None)
        args = {k: scrub(v, self._secrets) for k, v in args.items()}
        try:
            response = fn(**args) if callable(fn) else self.web.api_call(method, json=args)
        except SlackApiError as exc:
            raise _classify(method, exc) from None
        except SlackRequestError as exc:
            raise FinalChatError("bad_request", f"{method}: {exc}") from None
        except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise RetryableChatError("unreachable", f"{method}: Slack unreachable ({type(exc).__name__})") from None
        data = response.data
        return data if isinstance(data, dict) else {"ok": True}


    def upload(self, upload_url: str, content: bytes, filename: str) -> None:
        """The middle step of Slack's external upload: the bytes go to the URL Slack handed out."""
        import httpx

        try:
            response = httpx.post(upload_url, files={"file": (filename, content)}, timeout=self.web.timeout)
        except httpx.HTTPError as exc:
            raise RetryableChatError("unreachable", f"file upload: Slack unreachable ({type(exc).__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableChatError(f"http_{response.status_code}", "file upload: try again later",
                                     retry_after=_retry_after(response.headers) if response.status_code == 429
                                     else None)
        if response.status_code >= 400:
            raise FinalChatError(f"http_{response.status_code}", "file upload refused")

    def respond(self, response_url: str, text: str) -> None:
        """Answer a slash command or click through its `response_url` (works where the bot is not a member)."""
        client = WebhookClient(response_url, timeout=self.web.timeout, retry_handlers=[])
        try:
            response = client.send(text=scrub(text, self._secrets), response_type="ephemeral", replace_original=False)
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
            raise RetryableChatError("unreachable", f"response_url: Slack unreachable ({type(exc).__name__})") from None
        if response.status_code == 429:
            raise RetryableChatError("ratelimited", "response_url: rate limited",
                                     retry_after=_retry_after(response.headers or {}))
        if response.status_code >= 500:
            raise RetryableChatError(f"http_{response.status_code}", "response_url: server error")
        if response.status_code >= 400:
            code = (response.body or f"http_{response.status_code}").strip()[:100]
            raise FinalChatError(code, f"response_url: {code}")


def scrub(value: Any, secrets: list[str]) -> Any:
    """`value` with every secret (the core's and these) replaced by ``***``, in dicts and lists too."""
    return redact(value, extra=secrets)


def _classify(method: str, exc: SlackApiError) -> Exception:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    error = str(data.get("error") or f"http_{status}") if status < 500 else f"http_{status}"
    if status == 429 or error in ("ratelimited", "rate_limited"):
        retry_after = _retry_after(getattr(response, "headers", {}) or {})
        return RetryableChatError("ratelimited", f"{method}: rate limited", retry_after=retry_after)
    if status >= 500 or error in RETRYABLE_ERRORS:
        return RetryableChatError(error, f"{method}: {error} (HTTP {status})")
    return FinalChatError(error, f"{method}: {error}")


def _retry_after(headers: Any) -> float:
    value = None
    for key in ("Retry-After", "retry-after"):
        try:
            value = headers.get(key)
        except AttributeError:
            value = None
        if value is not None:
            break
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
