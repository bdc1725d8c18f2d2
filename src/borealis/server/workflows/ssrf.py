"""The guard in front of every HTTP request a workflow makes (DESIGN §5).

A request may not reach loopback, link-local (cloud metadata lives there), unspecified, multicast or
reserved addresses, unless the address is inside a network an admin listed in
`workflow_http_allow` (server.toml); the server's own API port on loopback stays closed even then.
Every address a host name resolves to is checked. Limits: a DNS answer can change between this check
and the connection (rebinding); documented in docs/workflows.md.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from borealis.server.workflows.nodes.base import NodeError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _forbidden(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _forbidden(address.ipv4_mapped)
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


class Guard:
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
            if address.is_loopback and port == self._own_port:
                raise NodeError("a workflow may not call this server's own API", retryable=False)
            if _forbidden(address) and not any(address in network for network in self._allow):
                raise NodeError(
                    f"{parts.hostname} resolves to {address}, which workflows may not reach "
                    "(loopback, link-local and reserved addresses need workflow_http_allow in server.toml)",
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
