"""The guard in front of every HTTP request a workflow makes (DESIGN §5).

A request may not reach an address in `BLOCKED` (loopback, link-local and the cloud metadata
services, carrier-grade NAT space, multicast, reserved; one table, each entry with its reason), nor an
IPv4 address of that table embedded in an IPv6 one (mapped, NAT64, 6to4), unless the address is inside
a network an admin listed in `workflow_http_allow` (server.toml); the server's own API port on
loopback stays closed even then. Every address a host name resolves to is checked. Private networks
(10/8, 172.16/12, 192.168/16, fc00::/7) stay reachable: calling internal systems is what workflows are
for. Limits: a DNS answer can change between this check and the connection (rebinding); documented
in docs/workflows.md.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from borealis.engine.errors import NodeError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

BLOCKED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this host (unspecified)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local: AWS, Azure, GCP and OpenStack metadata at 169.254.169.254"),
    ("100.64.0.0/10", "carrier-grade NAT space: Alibaba Cloud metadata at 100.100.100.200"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved, and broadcast"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("100::/64", "discard-only"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
    ("fd00:ec2::254/128", "AWS metadata over IPv6"),
)
_BLOCKED_NETWORKS: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(network), reason) for network, reason in BLOCKED
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def blocked_reason(address: Address) -> str | None:
    """Why workflows may not reach `address` by default, or None when they may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and (reason := blocked_reason(embedded)) is not None:
            return f"{reason} (inside an IPv6 address)"
    for network, reason in _BLOCKED_NETWORKS:
        if address in network:
            return reason
    return None


class Guard:
    """Refuses URLs whose host resolves into a blocked network, unless an admin allowed that network."""

    def __init__(self, allow: list[str], own_port: int) -> None:
        self._allow: list[Network] = [ipaddress.ip_network(entry, strict=False) for entry in allow]
        self._own_port = own_port

    async def check(self, url: str) -> None:
        """Refuse (`NodeError`, not retried) a URL the workflow may not reach."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NodeError(f"only http(s) URLs with a host are allowed: {url[:200]!r}", retryable=False)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        for address in await _addresses(parts.hostname, port):
            plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
            if (plain or address).is_loopback and port == self._own_port:
                raise NodeError("a workflow may not call this server's own API", retryable=False)
            reason = blocked_reason(address)
            if reason is not None and not any(address in network for network in self._allow):
                raise NodeError(
                    f"{parts.hostname} resolves to {address} ({reason}), which workflows may not reach "
                    "unless workflow_http_allow in server.toml lists it",
                    retryable=False,
                )


async def _addresses(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise NodeError(f"cannot resolve {host}: {exc}") from None
    return [ipaddress.ip_address(info[4][0]) for info in found]
