"""The `updates` section: pending OS package updates from apt, dnf or zypper.

Items: `{name, arch, version (the candidate), current_version, origin, security, source}`, sorted by name
and arch. apt's listing is a simulated `dist-upgrade` (what `apt list --upgradable` shows, with the
origins of the candidate); `security` is true when one of those origins is a security archive. The
package lists are not refreshed here (`apt-get update` is the distribution's timer's job).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Sequence
from typing import Any

from borealis.agent.inventory.commands import CommandOutput, run_command
from borealis.agent.inventory.software import parse_rpm
from borealis.core.errors import BorealisError

APT_NO_LOCK = ("-o", "Debug::NoLocking=1")
_APT_INST = re.compile(
    r"^Inst (?P<name>\S+) \[(?P<current>[^\]]+)\] \((?P<candidate>\S+) (?P<origins>.*?) ?\[(?P<arch>[^\]]+)\]\)"
)
_DNF_LINE = re.compile(r"^(?P<name>\S+)\.(?P<arch>[^.\s]+)\s+(?P<version>\S+)\s+(?P<repo>\S+)\s*$")


class UpdatesUnavailable(BorealisError):
    """No supported package manager, or it failed to say what is pending."""


def update_manager() -> str:
    """`apt`, `dnf` or `zypper`: the first one present."""
    for manager, program in (("apt", "apt-get"), ("dnf", "dnf"), ("zypper", "zypper")):
        if shutil.which(program):
            return manager
    raise UpdatesUnavailable("no supported package manager (apt, dnf, zypper) on this machine")


def is_security_origin(origin: str) -> bool:
    """`Debian-Security:12/bookworm-security`, `Ubuntu:22.04/jammy-security`, a `*-security` repo."""
    return "security" in origin.lower()


def _item(name: str, arch: str | None, current: str | None, candidate: str, origin: str, manager: str,
          security: bool) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name,
        "arch": arch,
        "current_version": current,
        "version": candidate,
        "origin": origin or None,
        "security": security,
        "source": manager,
    }


def sort_updates(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda u: (u["name"], u["arch"] or ""))


def parse_apt_simulation(text: str) -> list[dict[str, Any]]:
    """`Inst name [current] (candidate Origin:version/suite, … [arch])` lines of `apt-get -s`."""
    items = []
    for line in text.splitlines():
        match = _APT_INST.match(line)
        if match is None:
            continue  # new dependencies (no current version), removals, configure lines
        name = match["name"].split(":", 1)[0]
        origins = [o.strip() for o in match["origins"].split(",") if o.strip()]
        items.append(
            _item(
                name,
                match["arch"],
                match["current"],
                match["candidate"],
                ", ".join(origins),
                "apt",
                any(is_security_origin(o) for o in origins),
            )
        )
    return sort_updates(items)


def parse_dnf_check_update(
    text: str, installed: dict[tuple[str, str], str], security: set[str]
) -> list[dict[str, Any]]:
    """`dnf -q check-update` rows `name.arch version repo`; stops at the obsoleting section."""
    items = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Obsoleting"):
            break
        if len(line.split()) == 1 and index + 1 < len(lines) and lines[index + 1][:1].isspace():
            line = f"{line} {lines[index + 1].strip()}"  # a long name pushes the rest onto the next line
        match = _DNF_LINE.match(line)
        if match is None:
            continue
        name, arch = match["name"], match["arch"]
        items.append(
            _item(
                name,
                arch,
                installed.get((name, arch)),
                match["version"],
                match["repo"],
                "dnf",
                name in security,
            )
        )
    return sort_updates(items)


def parse_dnf_security(text: str) -> set[str]:
    """Package names from `dnf updateinfo list --security` rows `ADVISORY type NEVRA`."""
    names = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            nevra = fields[-1].rsplit(".", 1)[0]  # drop .arch
            parts = nevra.rsplit("-", 2)  # name-version-release
            if len(parts) == 3:
                names.add(parts[0])
    return names


def parse_zypper_updates(text: str) -> list[dict[str, Any]]:
    """`zypper -q lu` table rows `S | Repository | Name | Current | Available | Arch`."""
    items = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 6 or cells[2] in ("Name", "") or set(cells[0]) <= {"-", "+"}:
            continue
        repo, name, current, available, arch = cells[1:6]
        items.append(_item(name, arch, current, available, repo, "zypper", "security" in repo.lower()))
    return sort_updates(items)


def _failed(what: str, done: CommandOutput) -> UpdatesUnavailable:
    detail = (done.stderr.strip() or done.stdout.strip())[-500:]
    return UpdatesUnavailable(f"{what} failed with exit code {done.code}: {detail}")


async def list_updates(timeout_s: float, apt_options: Sequence[str] = ()) -> list[dict[str, Any]]:
    manager = await asyncio.to_thread(update_manager)
    if manager == "apt":
        done = await run_command(["apt-get", "-s", *APT_NO_LOCK, *apt_options, "dist-upgrade"], timeout_s)
        if done.code != 0:
            raise _failed("apt-get -s dist-upgrade", done)
        return parse_apt_simulation(done.stdout)
    if manager == "dnf":
        done = await run_command(["dnf", "-q", "check-update"], timeout_s)
        if done.code not in (0, 100):
            raise _failed("dnf check-update", done)
        advisories = await run_command(
            ["dnf", "-q", "updateinfo", "list", "--security", "--updates"], timeout_s
        )
        installed_out = await run_command(
            ["rpm", "-qa", "--queryformat", "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t\\t\\t\\n"],
            timeout_s,
        )
        installed = {(p["name"], p["arch"] or ""): p["version"] for p in parse_rpm(installed_out.stdout)}
        security = parse_dnf_security(advisories.stdout) if advisories.code == 0 else set()
        return parse_dnf_check_update(done.stdout, installed, security)
    done = await run_command(["zypper", "-q", "--non-interactive", "list-updates"], timeout_s)
    if done.code != 0:
        raise _failed("zypper list-updates", done)
    return parse_zypper_updates(done.stdout)
