"""The denormalised rows the fleet is searched by, taken from a section's items with every text cut to
its column and freed of NUL characters (PostgreSQL refuses them). Items without a name are left out.

    software    one row per package: name, version, arch, source
    updates     one row per pending update: name, version (candidate), flag = security, detail
    disks       one row per volume: name = mountpoint, number = percent, detail (device, sizes)
    processes   one row per process *name*: number = how many run; the search reads the details
                (pid, user, command line) from the snapshot of the agents it finds

Rows of one section always carry the same keys, so each section is one executemany; only updates and
disks carry a JSON `detail` (JSON encoding per row is the expensive part of a write).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

SEARCHABLE = frozenset({"software", "updates", "disks", "processes"})


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


def section_rows(agent_id: str, section: str, data: Any) -> list[dict[str, Any]]:
    if section not in SEARCHABLE or not isinstance(data, list):
        return []
    if section == "software":
        return _software(agent_id, data)
    if section == "processes":
        return _processes(agent_id, data)
    rows = []
    for item in data:
        row = _update(item) if section == "updates" else _disk(item)
        if row is not None:
            rows.append({"agent_id": agent_id, "section": section, **row})
    return rows


def _software(agent_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        name = text(item.get("name"), 255)
        if name:
            rows.append(
                {
                    "agent_id": agent_id,
                    "section": "software",
                    "name": name,
                    "version": text(item.get("version"), 128),
                    "arch": text(item.get("arch"), 32),
                    "source": text(item.get("source"), 16),
                    "flag": False,
                    "number": None,
                }
            )
    return rows


def _processes(agent_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = Counter(name for name in (text(item.get("name"), 255) for item in items) if name)
    return [
        {
            "agent_id": agent_id,
            "section": "processes",
            "name": name,
            "version": "",
            "arch": "",
            "source": "",
            "flag": False,
            "number": float(count),
        }
        for name, count in counts.items()
    ]


def _update(item: dict[str, Any]) -> dict[str, Any] | None:
    name = text(item.get("name"), 255)
    if not name:
        return None
    return {
        "name": name,
        "version": text(item.get("version"), 128),
        "arch": text(item.get("arch"), 32),
        "source": text(item.get("source"), 16),
        "flag": item.get("security") is True,
        "number": None,
        "detail": {"current_version": text(item.get("current_version"), 128)},
    }


def _disk(item: dict[str, Any]) -> dict[str, Any] | None:
    mountpoint = text(item.get("mountpoint"), 255)
    if not mountpoint:
        return None
    return {
        "name": mountpoint,
        "version": "",
        "arch": "",
        "source": "",
        "flag": False,
        "number": number(item.get("percent")),
        "detail": {
            "device": text(item.get("device"), 255),
            "total_bytes": whole(item.get("total_bytes")),
            "used_bytes": whole(item.get("used_bytes")),
        },
    }


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
