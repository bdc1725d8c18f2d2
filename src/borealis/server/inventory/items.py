"""The denormalised rows the fleet is searched by: one per software package, pending update, volume and
process, taken from a section's items with every text cut to its column and freed of NUL characters
(PostgreSQL refuses them). Items without a name are not searchable and are left out."""

from __future__ import annotations

from typing import Any

SEARCHABLE = frozenset({"software", "updates", "disks", "processes"})
MAX_CMDLINE = 512


def text(value: object, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""
    return value.replace("\x00", "")[:limit]


def number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:  # not NaN
        return float(value)
    return None


def whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def item_row(section: str, item: dict[str, Any]) -> dict[str, Any] | None:
    """The row for one item of a searchable section (without its agent), or None to leave it out."""
    base: dict[str, Any] = {"version": "", "arch": "", "source": "", "flag": False, "number": None}
    if section == "disks":
        name = text(item.get("mountpoint"), 255)
        detail = {
            "device": text(item.get("device"), 255),
            "total_bytes": whole(item.get("total_bytes")),
            "used_bytes": whole(item.get("used_bytes")),
        }
        return (
            {**base, "name": name, "number": number(item.get("percent")), "detail": detail} if name else None
        )
    name = text(item.get("name"), 255)
    if not name:
        return None
    if section == "software":
        return {
            **base,
            "name": name,
            "version": text(item.get("version"), 128),
            "arch": text(item.get("arch"), 32),
            "source": text(item.get("source"), 16),
            "detail": None,
        }
    if section == "updates":
        return {
            **base,
            "name": name,
            "version": text(item.get("version"), 128),
            "arch": text(item.get("arch"), 32),
            "source": text(item.get("source"), 16),
            "flag": item.get("security") is True,
            "detail": {"current_version": text(item.get("current_version"), 128)},
        }
    detail = {
        "pid": whole(item.get("pid")),
        "ppid": whole(item.get("ppid")),
        "user": text(item.get("user"), 128),
        "cmdline": text(_joined(item.get("cmdline")), MAX_CMDLINE),
    }
    return {**base, "name": name, "detail": detail}


def section_rows(agent_id: str, section: str, data: Any) -> list[dict[str, Any]]:
    if section not in SEARCHABLE or not isinstance(data, list):
        return []
    rows = []
    for item in data:
        row = item_row(section, item)
        if row is not None:
            rows.append({"agent_id": agent_id, "section": section, **row})
    return rows


def _joined(cmdline: object) -> object:
    if isinstance(cmdline, list):
        return " ".join(part for part in cmdline if isinstance(part, str))
    return cmdline
