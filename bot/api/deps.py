"""Typed dependencies of the routes: the runtime, a session, the metrics, and who may call.

Authentication is a dependency of each router, not a check each handler remembers to make:
`Reader` guards reads (``GET`` routes, ``/metrics``, the OpenAPI pages), `Writer` guards
intake and changes. The client's own address decides the no-token case (never the address
the server is bound to: a forwarder on ``0.0.0.0`` would otherwise hand out loopback's rights).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.db import transaction
from bot.errors import Forbidden, MalformedBody, Unauthorized
from bot.intake import parse_json
from bot.metrics import ServiceMetrics
from bot.runtime import Runtime

# The dependencies that only read the request and the app are ``async def``: FastAPI runs a plain
# ``def`` dependency in the thread pool, a thread hop per dependency per request (at an alert storm's
# rate that cost more CPU than routing the alert). None of them blocks.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back if it raises."""
    with transaction(runtime.sessions) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def is_loopback_client(host: str | None) -> bool:
    """Whether the peer of this connection is on this host (by its address, never by a header)."""
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


_FORWARDING_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")


def forwarded_for(request: Request) -> list[str]:
    """Addresses a proxy says it relays for (every hop of X-Forwarded-For, X-Real-IP, Forwarded)."""
    found: list[str] = []
    for name in _FORWARDING_HEADERS:
        for value in request.headers.getlist(name):
            for hop in value.split(","):
                hop = hop.strip()
                if name == "forwarded":
                    pairs = dict(p.strip().partition("=")[::2] for p in hop.split(";") if "=" in p)
                    hop = pairs.get("for", "").strip('"')
                if hop.startswith("[") and "]" in hop:
                    hop = hop[1:hop.index("]")]
                elif hop.count(":") == 1:  # ipv4:port
                    hop = hop.split(":", 1)[0]
                if hop:
                    found.append(hop)
    return found


def is_local_request(request: Request) -> bool:
    """The peer is on this host, and so is every client a proxy says it relays for."""
    peer = request.client.host if request.client else None
    return is_loopback_client(peer) and all(is_loopback_client(hop) for hop in forwarded_for(request))


def _bearer(request: Request) -> str | None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


def _matches(given: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(given.encode(), str(token).encode())


def _authorize(request: Request, settings: Settings, *, write: bool) -> None:
    given = _bearer(request)
    if given is None:
        if settings.api_token:
            raise Unauthorized("authorization: a valid 'Bearer <token>' header is required")
        if is_local_request(request):
            return
        raise Unauthorized("MLRESPONDER_API_TOKEN is not set: this server answers only clients on this host")
    if _matches(given, settings.api_token):
        return
    if _matches(given, settings.read_token):
        if not write:
            return
        raise Forbidden("authorization: the read-only token cannot change anything")
    raise Unauthorized("authorization: a valid 'Bearer <token>' header is required")


# The request alone (the settings from the app's runtime): each dependency FastAPI solves costs
# CPU on every request, and these guard every route.
async def require_reader(request: Request) -> None:
    _authorize(request, request.app.state.runtime.settings, write=False)


async def require_writer(request: Request) -> None:
    _authorize(request, request.app.state.runtime.settings, write=True)


Reader = Depends(require_reader)
Writer = Depends(require_writer)


async def json_body(request: Request) -> Any:
    """The body parsed as JSON (any shape): routes validate the shape themselves, naming the field."""
    raw = await request.body()
    if not raw:
        raise MalformedBody("body: empty (expected a JSON object)")
    return parse_json(raw)


JsonBody = Annotated[Any, Depends(json_body)]
