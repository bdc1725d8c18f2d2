"""The `disks` section: mounted file systems with their sizes in bytes, pseudo file systems left out."""

from __future__ import annotations

from typing import Any

import psutil

PSEUDO_FS = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs",
        "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs", "rpc_pipefs",
        "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs", "fuse.lxcfs", "fuse.portal",
        "fuse.gvfsd-fuse", "nfsd", "overlay.fuse",
    }
)  # fmt: skip


def is_pseudo(fstype: str) -> bool:
    return fstype in PSEUDO_FS or not fstype


def collect_disks() -> list[dict[str, Any]]:
    """One entry per mount point (the last mount on a point is the visible one), sorted by it."""
    mounts: dict[str, Any] = {}
    for part in psutil.disk_partitions(all=True):
        if not is_pseudo(part.fstype):
            mounts[part.mountpoint] = part
    disks = []
    for mountpoint, part in sorted(mounts.items()):
        try:
            usage = psutil.disk_usage(mountpoint)
        except OSError:
            continue  # unmounted meanwhile, or not readable by this account
        disks.append(
            {
                "device": part.device,
                "mountpoint": mountpoint,
                "fstype": part.fstype,
                "read_only": "ro" in part.opts.split(","),
                "total_bytes": int(usage.total),
                "used_bytes": int(usage.used),
                "free_bytes": int(usage.free),
                "percent": round(float(usage.percent), 1),
            }
        )
    return disks
