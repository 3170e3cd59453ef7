"""Egress policy: where mlresponder may send a request it makes for a runbook.

A runbook's HTTP action may be templated, and templates see alert data from outside; without a
policy an alert could aim the action (bearer header included) at ``127.0.0.1`` or the cloud
metadata service. Loopback, link-local (``169.254.169.254``), private, shared, reserved,
multicast and unspecified addresses are refused unless `MLRESPONDER_EGRESS_ALLOW` names the host
or a network containing it. The check runs on the addresses the name resolves to, at the moment
of connecting (`guarded_transport`): a redirect, or a DNS answer that changed since a first
check, meets the same policy, and the connection goes to the very address that was checked.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import certifi
import httpcore
import httpx

from bot.errors import Forbidden

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(Forbidden):
    """The destination is internal and not allow-listed; nothing was sent."""


@dataclass(frozen=True)
class EgressPolicy:
    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, spec: str | Iterable[str] | None) -> EgressPolicy:
        """``"hooks.internal, 10.0.0.0/8, 127.0.0.1"``: host names (exact) and addresses or CIDRs."""
        items = spec.split(",") if isinstance(spec, str) else list(spec or [])
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in items:
            item = raw.strip().lower()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".").strip("[]") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)

    def check(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, all permitted; else `EgressRefused` naming the first
        internal one. An allow-listed name may resolve anywhere."""
        addresses = resolve(host, port)
        if self.allows_host(host):
            return addresses
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            reason = internal_reason(address)
            if reason and not self.allows_address(address):
                raise EgressRefused(
                    f"egress refused: {host} resolves to {address}, a {reason} address "
                    "(allow it with MLRESPONDER_EGRESS_ALLOW)"
                )
        return addresses


def internal_reason(address: IPAddress) -> str | None:
    """Why this address is internal ("loopback", "link-local"...), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return internal_reason(address.ipv4_mapped)
    for reason, flag in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                         ("unspecified", address.is_unspecified), ("multicast", address.is_multicast),
                         ("private", address.is_private), ("reserved", address.is_reserved)):
        if flag:
            return reason
    if not address.is_global:  # shared address space (100.64/10) and the like
        return "non-global"
    return None


def resolve(host: str, port: int) -> list[str]:
    bare = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(bare))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EgressRefused(f"egress refused: cannot resolve {host}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the policy permits, checked right before connecting."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        addresses = self.policy.check(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                           socket_options=socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__()
        # TLS still verifies the URL's host name: httpcore passes it as server_hostname.
        self._pool = httpcore.ConnectionPool(ssl_context=ssl.create_default_context(cafile=certifi.where()),
                                             network_backend=_GuardedBackend(policy))


def guarded_client(policy: EgressPolicy, **kwargs: Any) -> httpx.Client:
    """An httpx client whose every connection (redirects included) passes the policy; no proxy
    from the environment, which would connect on the policy's behalf."""
    return httpx.Client(transport=_GuardedTransport(policy), trust_env=False, **kwargs)
