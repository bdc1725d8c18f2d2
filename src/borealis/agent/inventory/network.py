"""The `network` section: interfaces with their MAC, state, MTU, speed and addresses."""

from __future__ import annotations

import socket
from typing import Any

import psutil

_FAMILIES = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}


def collect_network() -> list[dict[str, Any]]:
    addresses = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    interfaces = []
    for name in sorted(set(addresses) | set(stats)):
        mac: str | None = None
        ips = []
        for address in addresses.get(name, []):
            if address.family == psutil.AF_LINK:
                mac = address.address or None
            elif address.family in _FAMILIES:
                ips.append(
                    {
                        "family": _FAMILIES[address.family],
                        "address": address.address,
                        "netmask": address.netmask,
                    }
                )
        stat = stats.get(name)
        interfaces.append(
            {
                "name": name,
                "mac": mac,
                "up": bool(stat.isup) if stat else False,
                "mtu": int(stat.mtu) if stat else None,
                "speed_mbps": int(stat.speed) if stat and stat.speed > 0 else None,
                "addresses": sorted(ips, key=lambda a: (a["family"], a["address"] or "")),
            }
        )
    return interfaces
