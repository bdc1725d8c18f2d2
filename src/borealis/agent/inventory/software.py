"""The `software` section: every installed package, from dpkg or rpm, untruncated.

Items: `{name, version, arch, source, publisher, installed_at, size_bytes}`, sorted by name, arch and
version. `installed_at` is when dpkg last wrote the package's file list (its install or upgrade), or
rpm's install time.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from borealis.agent.inventory.commands import run_command
from borealis.agent.inventory.machine import iso_utc
from borealis.core.errors import BorealisError

DPKG_STATUS = Path("/var/lib/dpkg/status")
DPKG_FORMAT = (
    "${Package}\\t${Version}\\t${Architecture}\\t${Maintainer}\\t${Installed-Size}\\t"
    "${db-fsys:Last-Modified}\\t${db:Status-Abbrev}\\n"
)
RPM_FORMAT = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{VENDOR}\\t%{SIZE}\\t%{INSTALLTIME}\\n"


class NoPackageManager(BorealisError):
    """Neither dpkg nor rpm is on this machine."""


def package_manager() -> str:
    """`dpkg` or `rpm`: the one that owns this machine's packages."""
    if shutil.which("dpkg-query") and DPKG_STATUS.exists():
        return "dpkg"
    if shutil.which("rpm"):
        return "rpm"
    raise NoPackageManager("no package manager found (neither dpkg nor rpm)")


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def parse_dpkg(text: str) -> list[dict[str, Any]]:
    packages = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 7 or not fields[1]:
            continue  # known to dpkg but never installed (no version)
        name, version, arch, maintainer, size_kib, modified, status = fields[:7]
        if status[1:2] == "n":  # wanted once, not installed now (what `dpkg-query -W` also leaves out)
            continue
        stamp = _int_or_none(modified)
        kib = _int_or_none(size_kib)
        packages.append(
            {
                "name": name,
                "version": version,
                "arch": arch or None,
                "source": "dpkg",
                "publisher": maintainer or None,
                "installed_at": iso_utc(stamp) if stamp else None,
                "size_bytes": kib * 1024 if kib is not None else None,
            }
        )
    return sort_packages(packages)


def parse_rpm(text: str) -> list[dict[str, Any]]:
    packages = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 6 or fields[0].startswith("gpg-pubkey"):
            continue
        name, version, arch, vendor, size, installed = fields[:6]
        stamp = _int_or_none(installed)
        packages.append(
            {
                "name": name,
                "version": version,
                "arch": None if arch in ("", "(none)") else arch,
                "source": "rpm",
                "publisher": None if vendor in ("", "(none)") else vendor,
                "installed_at": iso_utc(stamp) if stamp else None,
                "size_bytes": _int_or_none(size),
            }
        )
    return sort_packages(packages)


def sort_packages(packages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(packages, key=lambda p: (p["name"], p["arch"] or "", p["version"]))


async def collect_software(timeout_s: float) -> list[dict[str, Any]]:
    if await asyncio.to_thread(package_manager) == "dpkg":
        done = await run_command(["dpkg-query", "-W", "-f", DPKG_FORMAT], timeout_s)
        parse = parse_dpkg
    else:
        done = await run_command(["rpm", "-qa", "--queryformat", RPM_FORMAT], timeout_s)
        parse = parse_rpm
    if done.code != 0:
        raise RuntimeError(f"listing packages failed ({done.code}): {done.stderr.strip()[:300]}")
    return parse(done.stdout)
