"""`http`: a templated HTTP call, for serving platforms without a registry adapter.

KServe, Seldon, SageMaker and Argo Rollouts all expose "switch traffic / promote / abort" as
an HTTP call, so one action with a timeout, bounded retries and the response recorded covers
them. The call is not observable afterwards, so `verify` answers None: after a crash mid-call
the executor reports "outcome unknown" instead of calling again. Header values that look like
credentials, and every secret the core knows, are redacted in everything recorded (URL, bodies,
errors). Requests go through the egress policy (`bot.egress`): internal addresses are refused
unless allow-listed, on every connection, redirects included.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from bot.durations import Duration
from bot.egress import EgressPolicy, EgressRefused, guarded_client
from bot.redact import redact, redact_text
from runbooks.actions.base import Action, ActionContext, ActionError, register_action

_SECRET_HEADERS = ("authorization", "x-api-key", "api-key", "x-auth-token", "cookie", "proxy-authorization")
_MAX_RECORDED = 2000
MAX_REDIRECTS = 5


class HttpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    timeout: Duration = 10.0
    retries: int = Field(default=2, ge=0, le=10)
    # Status codes that mean success (default: any 2xx).
    expect_status: list[int] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "{{")):
            raise PydanticCustomError("url", f"expected an http:// or https:// URL, got {value!r}")
        return value


class HttpParams(HttpRequest):
    # The call that undoes this one; without it the mitigation cannot be reverted automatically.
    revert: HttpRequest | None = None


def _redacted_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def describe_request(req: HttpRequest) -> dict[str, Any]:
    described: dict[str, Any] = redact({
        "method": req.method,
        "url": req.url,
        "headers": _redacted_headers(req.headers),
        "json": req.json_body,
        "body": req.body,
        "timeout_s": req.timeout,
        "retries": req.retries,
    })
    return described


def send(req: HttpRequest, egress: EgressPolicy | None = None) -> dict[str, Any]:
    """Send with bounded retries on connection errors and 5xx; the final response is recorded
    (redacted). An internal destination is refused before anything is sent, and not retried."""
    shown = redact_text(f"{req.method} {req.url}")
    attempts: list[str] = []
    last: httpx.Response | None = None
    with guarded_client(egress or EgressPolicy(), follow_redirects=True, max_redirects=MAX_REDIRECTS) as client:
        for attempt in range(req.retries + 1):
            if attempt:
                time.sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
            try:
                last = client.request(
                    req.method, req.url, headers=req.headers, timeout=req.timeout,
                    json=req.json_body if req.body is None else None,
                    content=req.body.encode() if req.body is not None else None,
                )
            except EgressRefused as exc:
                raise ActionError(f"{shown}: {redact_text(exc.message)}") from None
            except httpx.HTTPError as exc:
                attempts.append(redact_text(f"attempt {attempt + 1}: {type(exc).__name__}: {exc}"))
                last = None
                continue
            attempts.append(f"attempt {attempt + 1}: HTTP {last.status_code}")
            if last.status_code < 500:
                break
    if last is None:
        raise ActionError(f"{shown} failed: " + "; ".join(attempts))
    ok = last.status_code in req.expect_status if req.expect_status else 200 <= last.status_code < 300
    text = redact_text(last.text[:_MAX_RECORDED])
    try:
        body: Any = json.loads(text) if len(last.text) <= _MAX_RECORDED else text
    except ValueError:
        body = text
    response = {"status": last.status_code, "body": body, "attempts": attempts}
    if not ok:
        raise ActionError(f"{shown} answered HTTP {last.status_code}: {text[:300]}")
    return response


@register_action
class HttpAction(Action):
    name: ClassVar[str] = "http"
    description: ClassVar[str] = "a templated HTTP call to any serving platform"
    Params: ClassVar[type[BaseModel]] = HttpParams
    changes_model_version: ClassVar[bool] = False
    proposable_by_hand: ClassVar[bool] = False  # its request comes from a runbook

    def plan(self, ctx: ActionContext) -> dict[str, Any]:
        params = ctx.params
        assert isinstance(params, HttpParams)
        if not params.url.startswith(("http://", "https://")):
            raise ActionError(redact_text(f"http: url {params.url!r} is not an http(s) URL after rendering"))
        return {
            "summary": redact_text(f"{params.method} {params.url} for {ctx.target!r}"),
            "target": ctx.target,
            "request": describe_request(params),
            "revert": describe_request(params.revert) if params.revert else None,
        }

    def execute(self, ctx: ActionContext, plan: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        params = ctx.params
        assert isinstance(params, HttpParams)
        response = send(params, ctx.egress)
        return {"target": ctx.target}, {"target": ctx.target, "response": response}

    def verify(self, ctx: ActionContext, plan: dict[str, Any]) -> bool | None:
        return None

    def revert(self, ctx: ActionContext, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        params = ctx.params
        assert isinstance(params, HttpParams)
        if params.revert is None:
            raise ActionError("this http mitigation has no 'revert' request; undo it on the platform by hand")
        return {"target": ctx.target, "response": send(params.revert, ctx.egress)}
