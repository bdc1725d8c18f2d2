"""Installed software on Windows: the registry's uninstall keys, in both views (64- and 32-bit), for
the machine and the current user.

`reg query KEY /s /reg:64|32` is run per view; its text is parsed by pure functions (tested on Linux
with captured output). The entries have the shape of `inventory.software` (source `registry`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from borealis.core.errors import ConfigError

UNINSTALL_KEYS = (
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
    "HKCU\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
)
VIEWS = ("64", "32")
REG_TIMEOUT_S = 60.0
_VALUE = re.compile(r"^ {4}(?P<name>.+?) {4}(?P<type>REG_[A-Z_]+)(?: {4}(?P<data>.*))?$")


@dataclass(frozen=True)
class RegistryKey:
    path: str
    values: dict[str, Any]


def reg_query_commands() -> list[tuple[str, str, list[str]]]:
    """(key, view, argv) for every uninstall key in both registry views."""
    return [
        (key, view, ["reg.exe", "query", key, "/s", f"/reg:{view}"])
        for key in UNINSTALL_KEYS
        for view in VIEWS
    ]


def parse_reg_query(text: str) -> list[RegistryKey]:
    """`reg query /s` output: a key path line, then its values indented by four spaces."""
    keys: list[RegistryKey] = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("End of search"):
            continue
        if line.startswith("HKEY_"):
            keys.append(RegistryKey(line.strip(), {}))
            continue
        match = _VALUE.match(line)
        if match and keys:
            keys[-1].values[match["name"]] = _value(match["type"], match["data"] or "")
    return keys


def software_entry(key: RegistryKey, view: str) -> dict[str, Any] | None:
    """One program as Programs and Features lists it; None for components, updates and nameless keys."""
    values = key.values
    name = str(values.get("DisplayName", "")).strip()
    if (
        not name
        or values.get("SystemComponent") == 1
        or values.get("ParentKeyName")
        or values.get("ReleaseType")
    ):
        return None
    size_kib = values.get("EstimatedSize")
    return {
        "name": name,
        "version": str(values.get("DisplayVersion", "")).strip() or None,
        "arch": "x64" if view == "64" else "x86",
        "source": "registry",
        "publisher": str(values.get("Publisher", "")).strip() or None,
        "installed_at": _install_date(str(values.get("InstallDate", ""))),
        "size_bytes": size_kib * 1024 if isinstance(size_kib, int) else None,
    }


def software_from_views(outputs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Entries from every (view, `reg query` text); a program both views list (same key) counts once."""
    seen: set[tuple[str, str | None]] = set()
    entries: list[dict[str, Any]] = []
    for view, text in outputs:
        for key in parse_reg_query(text):
            entry = software_entry(key, view)
            if entry is None:
                continue
            identity = (key.path.rsplit("\\", 1)[-1].lower(), entry["version"])
            if identity in seen:
                continue
            seen.add(identity)
            entries.append(entry)
    return sorted(entries, key=lambda e: (e["name"].lower(), e["version"] or ""))


def collect_software() -> list[dict[str, Any]]:
    """Run `reg query` for both views of both hives (Windows only)."""
    if sys.platform != "win32":
        raise ConfigError("the registry exists only on Windows")
    outputs: list[tuple[str, str]] = []
    for _key, view, argv in reg_query_commands():
        done = subprocess.run(argv, capture_output=True, timeout=REG_TIMEOUT_S)
        if done.returncode == 0:  # 1: the key does not exist in this view (HKCU often)
            outputs.append((view, done.stdout.decode("oem", errors="replace")))
    return software_from_views(outputs)


def _value(kind: str, data: str) -> Any:
    if kind in ("REG_DWORD", "REG_QWORD"):
        try:
            return int(data, 16) if data.lower().startswith("0x") else int(data)
        except ValueError:
            return None
    if kind == "REG_MULTI_SZ":
        return [part for part in data.split("\\0") if part]
    return data


def _install_date(text: str) -> str | None:
    """`YYYYMMDD` (what installers write) as an ISO date; anything else is unknown."""
    text = text.strip()
    if re.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return None
