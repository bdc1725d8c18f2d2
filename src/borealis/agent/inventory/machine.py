"""The `system`, `cpu` and `memory` sections: what the machine is, read from /etc, /proc, /sys and psutil.

These run in a thread (blocking reads are fine there). Values that change on every read (load, current
clock speed) stay out of `system` and `cpu`, so their hashes only change when the machine does.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

OS_RELEASE = (Path("/etc/os-release"), Path("/usr/lib/os-release"))
DMI = Path("/sys/class/dmi/id")
REBOOT_FLAG = Path("/var/run/reboot-required")
NEEDS_RESTARTING_TIMEOUT_S = 30.0
MAX_FIELD_CHARS = 256


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def os_release(paths: tuple[Path, ...] = OS_RELEASE) -> dict[str, str]:
    """`/etc/os-release` as a dict (shell-style `KEY="value"` lines); empty when there is none."""
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key and not key.startswith("#"):
                found[key] = value.strip().strip("\"'")
        return found
    return {}


def _dmi(name: str) -> str | None:
    try:
        value = (DMI / name).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:  # absent (containers, some ARM boards) or root-only (product_serial)
        return None
    return value[:MAX_FIELD_CHARS] or None


def reboot_required() -> bool:
    """Debian's flag file, else dnf's `needs-restarting -r` (exit 1: a reboot is needed)."""
    if REBOOT_FLAG.exists():
        return True
    for tool in ("/usr/bin/needs-restarting", "/bin/needs-restarting"):
        if os.access(tool, os.X_OK):
            try:
                done = subprocess.run(
                    [tool, "-r"],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=NEEDS_RESTARTING_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired):
                return False
            return done.returncode == 1
    return False


def collect_system() -> dict[str, Any]:
    release = os_release()
    uname = platform.uname()
    return {
        "hostname": socket.gethostname(),
        "fqdn": socket.getfqdn(),
        "os_id": release.get("ID"),
        "os_name": release.get("NAME") or uname.system,
        "os_version": release.get("VERSION_ID") or release.get("VERSION"),
        "os_pretty_name": release.get("PRETTY_NAME"),
        "kernel": uname.release,
        "arch": uname.machine,
        "boot_time": iso_utc(psutil.boot_time()),
        "manufacturer": _dmi("sys_vendor"),
        "model": _dmi("product_name"),
        "serial": _dmi("product_serial"),
        "reboot_required": reboot_required(),
    }


def _cpu_model() -> tuple[str | None, str | None]:
    model = vendor = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
            for line in file:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model", "Hardware") and model is None:
                    model = value.strip()
                elif key in ("vendor_id", "CPU implementer") and vendor is None:
                    vendor = value.strip()
                if model and vendor:
                    break
    except OSError:
        pass
    return model or platform.processor() or None, vendor


def collect_cpu() -> dict[str, Any]:
    model, vendor = _cpu_model()
    try:
        frequency = psutil.cpu_freq()
    except (OSError, NotImplementedError):
        frequency = None
    return {
        "model": model,
        "vendor": vendor,
        "arch": platform.machine(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "max_mhz": round(frequency.max) if frequency and frequency.max else None,
    }


def collect_memory() -> dict[str, Any]:
    memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    return {
        "total_bytes": int(memory.total),
        "available_bytes": int(memory.available),
        "used_bytes": int(memory.total - memory.available),
        "percent": round(float(memory.percent), 1),
        "swap_total_bytes": int(swap.total),
        "swap_used_bytes": int(swap.used),
    }
