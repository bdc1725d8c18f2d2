"""What changed between two snapshots of a section, in the terms an operator cares about.

    software   added | removed | upgraded | downgraded      keyed by (name, arch)
    updates    appeared | gone | changed                    keyed by (name, arch); gone = installed
                                                            or withdrawn; changed = a new candidate
    disks      filling                                      a volume crossed 80/90/95 % or rose by
                                                            10 points or more
    system     changed                                      os, kernel, hostname, model, serial,
                                                            a reboot becoming required

The first snapshot of a section is a baseline, not a change: it yields nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from borealis.server.inventory.items import number, text
from borealis.server.inventory.versions import compare

FILL_THRESHOLDS = (80.0, 90.0, 95.0)
FILL_JUMP_POINTS = 10.0
SYSTEM_FIELDS = (
    "hostname",
    "os_name",
    "os_version",
    "kernel",
    "arch",
    "manufacturer",
    "model",
    "serial",
    "reboot_required",
)
MAX_CHANGES = 5000  # per section and upload: a reinstall of everything is recorded, not unbounded


@dataclass(frozen=True)
class Change:
    kind: str
    subject: str
    before: str | None = None
    after: str | None = None


def diff(section: str, old: Any, new: Any) -> list[Change]:
    if old is None or new is None:
        return []
    if section == "software" and isinstance(old, list) and isinstance(new, list):
        found = _software(old, new)
    elif section == "updates" and isinstance(old, list) and isinstance(new, list):
        found = _updates(old, new)
    elif section == "disks" and isinstance(old, list) and isinstance(new, list):
        found = _disks(old, new)
    elif section == "system" and isinstance(old, dict) and isinstance(new, dict):
        found = _system(old, new)
    else:
        found = []
    return found[:MAX_CHANGES]


def _subject(name: str, arch: str) -> str:
    return f"{name}:{arch}" if arch else name


def _versions_by_package(items: list[Any]) -> dict[tuple[str, str], tuple[str, set[str]]]:
    """(name, arch) → (source, versions): rpm can hold several versions of one package (kernels)."""
    found: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        name = text(item.get("name"), 200)
        if not name:
            continue
        key = (name, text(item.get("arch"), 32))
        found.setdefault(key, (text(item.get("source"), 16), set()))[1].add(text(item.get("version"), 120))
    return found


def _software(old: list[Any], new: list[Any]) -> list[Change]:
    before, after = _versions_by_package(old), _versions_by_package(new)
    changes: list[Change] = []
    for key in sorted(before.keys() | after.keys()):
        subject = _subject(*key)
        source, was = before.get(key, ("", set()))
        source, now = after.get(key, (source, set()))
        gone, came = sorted(was - now), sorted(now - was)
        if len(gone) == 1 and len(came) == 1:
            order = compare(came[0], gone[0], source)
            kind = "upgraded" if order > 0 else "downgraded" if order < 0 else "reinstalled"
            changes.append(Change(kind, subject, gone[0], came[0]))
            continue
        changes += [Change("removed", subject, version, None) for version in gone]
        changes += [Change("added", subject, None, version) for version in came]
    return changes


def _updates(old: list[Any], new: list[Any]) -> list[Change]:
    def candidates(items: list[Any]) -> dict[str, str]:
        found: dict[str, str] = {}
        for item in items:
            if isinstance(item, dict) and text(item.get("name"), 200):
                subject = _subject(text(item.get("name"), 200), text(item.get("arch"), 32))
                found[subject] = text(item.get("version"), 120)
        return found

    before, after = candidates(old), candidates(new)
    changes: list[Change] = []
    for subject in sorted(before.keys() | after.keys()):
        if subject not in before:
            changes.append(Change("appeared", subject, None, after[subject]))
        elif subject not in after:
            changes.append(Change("gone", subject, before[subject], None))
        elif before[subject] != after[subject]:
            changes.append(Change("changed", subject, before[subject], after[subject]))
    return changes


def _disks(old: list[Any], new: list[Any]) -> list[Change]:
    def percents(items: list[Any]) -> dict[str, float]:
        found: dict[str, float] = {}
        for item in items:
            if isinstance(item, dict):
                mountpoint, percent = text(item.get("mountpoint"), 255), number(item.get("percent"))
                if mountpoint and percent is not None:
                    found[mountpoint] = percent
        return found

    before, after = percents(old), percents(new)
    changes: list[Change] = []
    for mountpoint in sorted(before.keys() & after.keys()):
        was, now = before[mountpoint], after[mountpoint]
        crossed = any(was < limit <= now for limit in FILL_THRESHOLDS)
        if crossed or now - was >= FILL_JUMP_POINTS:
            changes.append(Change("filling", mountpoint, f"{was:.1f}", f"{now:.1f}"))
    return changes


def _system(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for field in SYSTEM_FIELDS:
        was, now = old.get(field), new.get(field)
        if (was is not None or now is not None) and was != now:
            changes.append(Change("changed", field, _shown(was), _shown(now)))
    return changes


def _shown(value: object) -> str | None:
    return None if value is None else text(value, 255) or str(value)[:255]
