"""Inventory collectors on this machine, checked against the package manager, /proc and psutil."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
from typing import Any

import orjson
import psutil
import pytest

from borealis.agent.inventory.collectors import Collector, CollectorConfig, Collectors
from borealis.agent.inventory.frames import build_frames
from borealis.protocol.inventory import SECTIONS, section_hash, unpack_data


def dpkg_packages() -> set[tuple[str, str]]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version}\n"], capture_output=True, text=True, check=True
    ).stdout
    return {tuple(line.split(" ", 1)) for line in out.splitlines() if line}  # type: ignore[misc]


async def collect(*names: str, **collectors: Collector) -> dict[str, dict[str, Any]]:
    engine = Collectors(CollectorConfig(), collectors)
    try:
        return await engine.collect_many(list(names))
    finally:
        engine.close()


@pytest.mark.slow
async def test_software_matches_dpkg_query_count_and_versions() -> None:
    section = (await collect("software"))["software"]
    assert section["error"] is None
    listed = {(p["name"], p["version"]) for p in section["data"]}
    assert listed == dpkg_packages()
    assert len(section["data"]) == len(dpkg_packages())
    python = next(p for p in section["data"] if p["name"] == "dpkg")
    assert python["source"] == "dpkg" and python["arch"] and python["publisher"]
    assert section["hash"] == section_hash(section["data"])


async def test_processes_include_this_process_with_its_owner_and_command_line() -> None:
    section = (await collect("processes"))["processes"]
    assert section["error"] is None
    pids = [p["pid"] for p in section["data"]]
    assert pids == sorted(pids)
    mine = next(p for p in section["data"] if p["pid"] == os.getpid())
    me = psutil.Process()
    assert mine["ppid"] == os.getppid()
    assert mine["user"] == me.username() and mine["name"] == me.name()
    assert mine["cmdline"] == " ".join(me.cmdline())
    assert mine["rss_bytes"] > 0 and mine["started_at"].endswith("Z")


async def test_disks_agree_with_psutil() -> None:
    disks = (await collect("disks"))["disks"]["data"]
    by_mount = {d["mountpoint"]: d for d in disks}
    assert list(by_mount) == sorted(by_mount)
    real = psutil.disk_partitions(all=False)
    assert real, "psutil sees no physical file system here"
    for part in real:
        disk = by_mount[part.mountpoint]
        usage = psutil.disk_usage(part.mountpoint)
        assert (disk["device"], disk["fstype"]) == (part.device, part.fstype)
        assert disk["total_bytes"] == usage.total
        assert abs(disk["used_bytes"] - usage.used) < 256 * 1024 * 1024  # others write meanwhile
        assert disk["free_bytes"] + disk["used_bytes"] <= disk["total_bytes"]
    mounted = {p.mountpoint for p in psutil.disk_partitions(all=True)}
    assert set(by_mount) <= mounted
    assert not {d["fstype"] for d in disks} & {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "tmpfs"}


async def test_network_agrees_with_psutil() -> None:
    interfaces = (await collect("network"))["network"]["data"]
    assert [i["name"] for i in interfaces] == sorted(psutil.net_if_addrs())
    stats = psutil.net_if_stats()
    for interface in interfaces:
        assert interface["up"] == stats[interface["name"]].isup
        assert interface["mtu"] == stats[interface["name"]].mtu
        addresses = psutil.net_if_addrs()[interface["name"]]
        expected = {a.address for a in addresses if a.family in (socket.AF_INET, socket.AF_INET6)}
        assert {a["address"] for a in interface["addresses"]} == expected
    loopback = next(i for i in interfaces if i["name"] == "lo")
    assert {"family": "ipv4", "address": "127.0.0.1", "netmask": "255.0.0.0"} in loopback["addresses"]


async def test_system_cpu_and_memory_describe_this_machine() -> None:
    found = await collect("system", "cpu", "memory")
    system, cpu, memory = (found[name]["data"] for name in ("system", "cpu", "memory"))
    assert system["hostname"] == os.uname().nodename and system["kernel"] == os.uname().release
    assert system["arch"] == os.uname().machine and system["os_id"] == "debian"
    assert system["reboot_required"] is os.path.exists("/var/run/reboot-required")
    assert cpu["logical_cores"] == os.cpu_count()
    assert memory["total_bytes"] == psutil.virtual_memory().total
    assert 0 < memory["available_bytes"] <= memory["total_bytes"]


async def test_services_are_an_empty_list_with_a_note_without_systemd() -> None:
    section = (await collect("services"))["services"]
    assert section["error"] is None
    if os.path.isdir("/run/systemd/system"):
        assert section["data"] and all(s["name"].endswith(".service") for s in section["data"])
    else:
        assert section["data"] == [] and "systemd is not running" in section["note"]


async def test_a_collector_that_raises_is_reported_while_the_others_arrive() -> None:
    def broken() -> Any:
        raise OSError("disk controller on fire")

    found = await collect("disks", "memory", "network", disks=Collector(blocking=broken))
    assert found["disks"]["error"] == "OSError: disk controller on fire"
    assert found["disks"]["data"] is None
    assert found["memory"]["error"] is None and found["memory"]["data"]["total_bytes"] > 0
    assert found["network"]["error"] is None and found["network"]["data"]


async def test_a_collector_over_its_budget_is_reported_and_never_runs_twice_at_once() -> None:
    release = threading.Event()
    running = []

    def stuck() -> Any:
        running.append(time.monotonic())
        release.wait(10)
        return []

    engine = Collectors(CollectorConfig(budgets_s={"disks": 0.2}), {"disks": Collector(blocking=stuck)})
    try:
        first = await engine.collect("disks")
        assert "over its time budget of 0.2 s" in first["error"]
        second = await engine.collect("disks")
        assert "still running past its budget" in second["error"]
        assert len(running) == 1
        release.set()
        await asyncio.sleep(0.1)
        third = await engine.collect("disks")
        assert third["error"] is None and third["data"] == [] and len(running) == 2
    finally:
        release.set()
        engine.close()


async def test_a_program_over_its_budget_is_ended() -> None:
    from borealis.agent.inventory.commands import run_command

    async def sleeper(config: CollectorConfig, budget_s: float) -> Any:
        return await run_command(["sleep", "31.5"], 60)

    started = time.monotonic()
    engine = Collectors(
        CollectorConfig(budgets_s={"software": 0.3}), {"software": Collector(running=sleeper)}
    )
    section = await engine.collect("software")
    assert "over its time budget" in section["error"] and time.monotonic() - started < 5
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "31.5"]]


def test_big_sections_are_compressed_and_split_across_frames_under_the_limit() -> None:
    rows = [{"name": f"package-{i}", "version": os.urandom(16).hex()} for i in range(3000)]
    sections = {
        name: {"hash": section_hash(rows), "collected_at": "t", "duration_ms": 1, "error": None, "data": rows}
        for name in ("software", "processes", "updates")
    }
    frames = build_frames(sections, limit=150 * 1024)
    assert len(frames) == 3
    for frame in frames:
        assert len(orjson.dumps(frame)) <= 150 * 1024
        for section in frame["sections"].values():
            assert "data_zb64" in section and unpack_data(section) == rows
    assert [name for f in frames for name in f["sections"]] == [n for n in SECTIONS if n in sections]
    too_big = build_frames(sections, limit=20 * 1024)
    assert all(
        s["data"] is None and "more than a frame" in s["error"]
        for f in too_big
        for s in f["sections"].values()
    )


def test_a_section_past_the_protocols_shape_limits_is_sent_as_an_error() -> None:
    """The server disconnects an agent whose section breaks SECTION_LIMITS; an honest agent with such a
    section (say, 300k tiny objects) sends it as an error instead, and the other sections as usual."""
    wide = [{} for _ in range(300_000)]
    small = [{"name": "curl", "version": "7.81.0"}]
    sections = {
        name: {"hash": section_hash(data), "collected_at": "t", "duration_ms": 1, "error": None, "data": data}
        for name, data in (("processes", wide), ("software", small))
    }
    [frame] = build_frames(sections)
    processes, software = frame["sections"]["processes"], frame["sections"]["software"]
    assert processes["data"] is None and "too large to send" in processes["error"]
    assert "objects and arrays" in processes["error"]
    assert unpack_data(software) == small
