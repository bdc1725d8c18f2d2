"""The denormalised rows the fleet is searched by, taken from a section's items with every text cut to
its column and freed of NUL characters (PostgreSQL refuses them). Items without a name are left out.

    software    one row per package: name, version, arch, source
    updates     one row per pending update: name, version (candidate), flag = security, detail
    disks       one row per volume: name = mountpoint, number = percent, detail (device, sizes)
    processes   one row per process *name*: number = how many run; the search reads the details
                (pid, user, command line) from the snapshot of the agents it finds

Rows are tuples in `COLUMNS` order, written with the driver's own executemany (see `store`); only
updates and disks carry a `detail`, as JSON text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

SEARCHABLE = frozenset({"software", "updates", "disks", "processes"})
COLUMNS = ("agent_id", "section", "name", "version", "arch", "source", "flag", "number", "detail")
Row = tuple[str, str, str, str, str, str, bool, float | None, str | None]


def text(value: object, limit: int) -> str:
    if type(value) is str:
        return (value.replace("\x00", "") if "\x00" in value else value)[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)[:limit]
    return ""


def number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:  # not NaN
        return float(value)
    return None


def whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def section_rows(agent_id: str, section: str, data: Any) -> list[Row]:
    if section not in SEARCHABLE or not isinstance(data, list):
        return []
    if section == "processes":
        counts = Counter(name for name in (text(item.get("name"), 255) for item in data) if name)
        return [(agent_id, section, name, "", "", "", False, float(n), None) for name, n in counts.items()]
    rows: list[Row] = []
    for item in data:
        if section == "software":
            name = text(item.get("name"), 255)
            if name:
                version, arch, source = _package(item)
                rows.append((agent_id, section, name, version, arch, source, False, None, None))
        elif section == "updates":
            name = text(item.get("name"), 255)
            if name:
                version, arch, source = _package(item)
                current = {"current_version": text(item.get("current_version"), 128)}
                security = item.get("security") is True
                rows.append((agent_id, section, name, version, arch, source, security, None, _json(current)))
        else:
            mountpoint = text(item.get("mountpoint"), 255)
            if mountpoint:
                detail: dict[str, Any] = {
                    "device": text(item.get("device"), 255),
                    "total_bytes": whole(item.get("total_bytes")),
                    "used_bytes": whole(item.get("used_bytes")),
                }
                percent = number(item.get("percent"))
                rows.append((agent_id, section, mountpoint, "", "", "", False, percent, _json(detail)))
    return rows


def _package(item: dict[str, Any]) -> tuple[str, str, str]:
    return text(item.get("version"), 128), text(item.get("arch"), 32), text(item.get("source"), 16)


def _json(detail: dict[str, Any]) -> str:
    return orjson.dumps(detail).decode()


def process_view(item: dict[str, Any]) -> dict[str, Any]:
    """One process of a snapshot as the fleet search shows it."""
    cmdline = item.get("cmdline")
    if isinstance(cmdline, list):
        cmdline = " ".join(part for part in cmdline if isinstance(part, str))
    return {
        "name": text(item.get("name"), 255),
        "pid": whole(item.get("pid")),
        "ppid": whole(item.get("ppid")),
        "user": text(item.get("user"), 128),
        "cmdline": text(cmdline, 4096),
    }
