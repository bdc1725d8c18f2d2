"""The workflow SSRF guard decides on addresses (resolved, never contacted): every entry of its one
table is refused by default and allowed when an admin lists it; private networks stay reachable."""

from __future__ import annotations

import ipaddress

import pytest

from borealis.engine.nodes.base import NodeError
from borealis.engine.ssrf import BLOCKED, Guard, blocked_reason


def inside(network: str) -> str:
    """An address in the middle of `network` (the address itself for a single one)."""
    net = ipaddress.ip_network(network)
    return str(net.network_address + net.num_addresses // 2)


def url_for(address: str) -> str:
    return f"http://[{address}]:8080/x" if ":" in address else f"http://{address}:8080/x"


@pytest.mark.parametrize(("network", "reason"), BLOCKED, ids=[network for network, _ in BLOCKED])
async def test_each_blocked_network_is_refused_unless_allowed(network: str, reason: str) -> None:
    address = inside(network)
    assert blocked_reason(ipaddress.ip_address(address)) is not None
    with pytest.raises(NodeError, match="may not reach") as refused:
        await Guard([], own_port=5000).check(url_for(address))
    assert refused.value.retryable is False
    await Guard([network], own_port=5000).check(url_for(address))


@pytest.mark.parametrize(
    "address",
    [
        "100.100.100.200",  # Alibaba Cloud metadata
        "100.64.0.1",
        "100.127.255.254",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "169.254.169.254",
        "::ffff:100.100.100.200",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "::ffff:127.0.0.1",
    ],
)
async def test_metadata_services_and_their_disguises_are_refused(address: str) -> None:
    with pytest.raises(NodeError, match="may not reach"):
        await Guard([], own_port=5000).check(url_for(address))


@pytest.mark.parametrize(
    "address",
    ["10.0.0.5", "172.16.4.4", "192.168.1.10", "100.63.255.255", "100.128.0.0", "fd00::1", "fd00:ec2::253"],
)
def test_private_and_neighbouring_addresses_stay_reachable(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


async def test_names_are_resolved_and_every_address_decided() -> None:
    with pytest.raises(NodeError, match="loopback"):
        await Guard([], own_port=5000).check("http://localhost:8080/")
    with pytest.raises(NodeError, match="own API"):
        await Guard(["127.0.0.0/8", "::1/128"], own_port=5000).check("http://localhost:5000/")
