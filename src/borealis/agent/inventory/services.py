"""The `services` section: systemd units with their state and start mode, when systemd runs.

`systemctl list-units` gives what is loaded and running; `list-unit-files` adds how each one starts
(enabled, disabled, static, masked). On a machine without a running systemd (a container, an init
that is not systemd) the section is an empty list with a note, not an error.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from borealis.agent.inventory.collected import Collected
from borealis.agent.inventory.commands import have, run_command

SYSTEMD_RUNNING = Path("/run/systemd/system")
NO_SYSTEMD = "systemd is not running on this machine (PID 1 is another init): no services listed"


def parse_units(text: str) -> dict[str, dict[str, Any]]:
    """`list-units --plain --no-legend`: UNIT LOAD ACTIVE SUB DESCRIPTION…"""
    units: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        fields = line.split(None, 4)
        if len(fields) < 4 or not fields[0].endswith(".service"):
            continue
        units[fields[0]] = {
            "name": fields[0],
            "load": fields[1],
            "state": fields[2],
            "sub_state": fields[3],
            "description": fields[4] if len(fields) > 4 else "",
            "start_mode": None,
        }
    return units


def parse_unit_files(text: str) -> dict[str, str]:
    """`list-unit-files --no-legend`: UNIT STATE [PRESET]"""
    modes: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].endswith(".service") and not fields[0].endswith("@.service"):
            modes[fields[0]] = fields[1]
    return modes


def systemd_running() -> bool:
    return have("systemctl") and SYSTEMD_RUNNING.is_dir()


async def collect_services(timeout_s: float) -> Collected:
    """The services, sorted by name; an empty list and a note when there is no systemd to ask."""
    if not await asyncio.to_thread(systemd_running):
        return Collected([], NO_SYSTEMD)
    base = ["systemctl", "--no-pager", "--no-legend", "--plain"]
    units_out = await run_command([*base, "list-units", "--type=service", "--all"], timeout_s)
    if units_out.code != 0:
        raise RuntimeError(
            f"systemctl list-units failed ({units_out.code}): {units_out.stderr.strip()[:300]}"
        )
    files_out = await run_command([*base, "list-unit-files", "--type=service"], timeout_s)
    units = parse_units(units_out.stdout)
    for name, mode in parse_unit_files(files_out.stdout).items():
        unit = units.setdefault(
            name,
            {"name": name, "load": "not-loaded", "state": "inactive", "sub_state": "dead", "description": ""},
        )
        unit["start_mode"] = mode
    return Collected([units[name] for name in sorted(units)])
