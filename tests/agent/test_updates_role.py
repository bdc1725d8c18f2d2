"""The `updates` role on this Debian machine: its listing against apt's own, and a real install from a
local apt repository the test builds (nothing reaches outside the machine; the machine's apt sources
are not touched: the repository is passed through the agent's `apt_options`)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from borealis.agent.inventory.patching import DPKG_FRONTEND_LOCK, dpkg_lock_held
from borealis.protocol.inventory import unpack_data
from tests.agent.worker_harness import running_worker
from tests.apt_repo import installed_version, local_apt_repo

pytestmark = pytest.mark.slow
PROBE = "borealis-test-probe"


def apt_upgradable(*options: str) -> set[tuple[str, str, str]]:
    """`apt list --upgradable`, parsed independently: {(name, candidate, current)}."""
    out = subprocess.run(
        ["apt", "list", "--upgradable", *options], capture_output=True, text=True, check=True
    ).stdout
    found = set()
    for line in out.splitlines():
        if "[upgradable from: " not in line:
            continue
        name = line.split("/", 1)[0]
        candidate = line.split()[1]
        current = line.rsplit("[upgradable from: ", 1)[1].rstrip("]")
        found.add((name, candidate, current))
    return found


@dataclass
class LocalRepo:
    options: list[str]


@pytest.fixture
def local_repo(tmp_path: Path) -> Iterator[LocalRepo]:
    with local_apt_repo(tmp_path / "apt", PROBE) as options:
        yield LocalRepo(options)


async def test_the_listing_agrees_with_apt_list_upgradable(tmp_path: Path) -> None:
    async with running_worker(tmp_path, inventory_first_after_s=3600.0) as agent:
        result = await agent.run(agent.job("updates", {"action": "list"}, timeout_s=300), timeout=300)
    assert result["status"] == "succeeded", result["error"]
    updates = result["data"]["updates"]
    assert result["data"]["manager"] == "apt"
    listed = {(u["name"], u["version"], u["current_version"]) for u in updates}
    assert listed == apt_upgradable()
    assert [(u["name"], u["arch"]) for u in updates] == sorted((u["name"], u["arch"]) for u in updates)
    for update in updates:
        assert update["security"] == ("security" in (update["origin"] or "").lower())


async def test_a_pending_update_from_a_local_repository_is_listed_and_installed(
    tmp_path: Path, local_repo: LocalRepo
) -> None:
    settings: dict[str, Any] = {"inventory_first_after_s": 3600.0, "apt_options": local_repo.options}
    async with running_worker(tmp_path / "agent", **settings) as agent:
        listing = await agent.run(agent.job("updates", {"action": "list"}, timeout_s=300), timeout=300)
        assert listing["status"] == "succeeded", listing["error"]
        assert listing["data"]["updates"] == [
            {
                "name": PROBE,
                "arch": "all",
                "current_version": "1.0",
                "version": "1.1",
                "origin": "localhost",
                "security": False,
                "source": "apt",
            }
        ]
        assert {(PROBE, "1.1", "1.0")} == apt_upgradable(*local_repo.options)

        security = await agent.run(
            agent.job("updates", {"action": "install", "which": "security"}), timeout=120
        )
        assert security["status"] == "succeeded" and security["data"]["installed"] == []
        assert installed_version(PROBE) == "1.0"

        install = agent.job(
            "updates", {"action": "install", "which": "named", "packages": [PROBE]}, timeout_s=300
        )
        second = agent.job(
            "updates", {"action": "install", "which": "named", "packages": [PROBE]}, timeout_s=300
        )
        await agent.gateway.send(install)
        await agent.gateway.send(second)
        results = [await agent.result(install["job_id"], 300), await agent.result(second["job_id"], 300)]
        refused = [r for r in results if r["status"] == "failed"]
        [done] = [r for r in results if r["status"] == "succeeded"]
        assert len(refused) == 1 and "another package-manager operation is running" in refused[0]["error"]

        assert done["exit_code"] == 0 and installed_version(PROBE) == "1.1"
        assert done["data"]["installed"] == [
            {"name": PROBE, "arch": "all", "from_version": "1.0", "version": "1.1"}
        ]
        assert done["data"]["reboot_required"] is os.path.exists("/var/run/reboot-required")
        output = "".join(m["chunk"] for m in agent.gateway.received("job.output", done["job_id"]))
        assert f"Setting up {PROBE} (1.1)" in output

        kinds = [(m["t"], m.get("job_id")) for m in agent.gateway.sessions[-1].messages]
        frame = [m for m in agent.gateway.received("inventory") if "software" in m["sections"]][-1]
        assert kinds.index(("inventory", None)) < kinds.index(("job.result", done["job_id"]))
        assert set(frame["sections"]) == {"software", "updates"}
        software = {(p["name"], p["version"]) for p in unpack_data(frame["sections"]["software"])}
        assert (PROBE, "1.1") in software
        assert unpack_data(frame["sections"]["updates"]) == []


async def test_an_install_while_another_program_holds_the_dpkg_lock_fails_clearly(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(DPKG_FRONTEND_LOCK)!r}, os.O_RDWR)\n"
            "fcntl.lockf(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert dpkg_lock_held()
        async with running_worker(tmp_path, inventory_first_after_s=3600.0) as agent:
            job = agent.job("updates", {"action": "install", "which": "named", "packages": ["bash"]})
            result = await agent.run(job, timeout=60)
        assert result["status"] == "failed"
        assert (
            result["error"]
            == "the package manager is busy: another process holds /var/lib/dpkg/lock-frontend"
        )
    finally:
        holder.kill()
        holder.wait()
    assert not dpkg_lock_held()


def probe_from_another_process(lock: Path) -> bool:
    """`dpkg_lock_held` as another process sees it (POSIX locks never conflict within one process)."""
    code = f"import pathlib, borealis.agent.inventory.patching as p; print(p.dpkg_lock_held(pathlib.Path({str(lock)!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {"True": True, "False": False}[done.stdout.strip()]


def test_the_lock_probe_tells_a_held_lock_and_does_not_keep_it(tmp_path: Path) -> None:
    lock = tmp_path / "lock-frontend"
    lock.touch()
    assert not dpkg_lock_held(lock) and not probe_from_another_process(lock)  # the first probe let go
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        assert probe_from_another_process(lock)
    finally:
        os.close(fd)
    assert not probe_from_another_process(lock)
