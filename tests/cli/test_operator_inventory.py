"""`borealis inventory`, `software --older-than`, `updates` and `patch` against a real server and a
real agent whose apt sees only a local repository the test builds (as the updates role's tests do:
the machine's apt sources are not touched; a probe package is installed and purged)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apt_repo import installed_version, local_apt_repo
from tests.cli.operator import Fleet
from tests.support import wait_for

pytestmark = pytest.mark.slow
PROBE = "borealis-cli-probe"


@pytest.fixture
def apt_options(tmp_path: Path) -> Iterator[list[str]]:
    with local_apt_repo(tmp_path / "apt", PROBE) as options:
        yield options


def test_inventory_software_updates_and_patch(
    fleet_server: Fleet, apt_options: list[str], tmp_path: Path
) -> None:
    fleet = fleet_server
    fleet.add_agent("gamma", tmp_path / "gamma", apt_options=apt_options)
    everything = fleet.cli("inventory", "gamma", "--refresh")
    assert everything.code == 0, everything.err
    assert "[system]" in everything.out and "[software]" in everything.out
    assert "entries (`borealis inventory gamma software`)" in everything.out

    software = fleet.cli("inventory", "gamma", "software", "--grep", PROBE)
    assert software.code == 0, software.err
    header, *rows = software.out.splitlines()
    assert "NAME" in header and "VERSION" in header
    assert len(rows) == 1 and PROBE in rows[0] and " 1.0 " in f"{rows[0]} "
    system = fleet.cli("inventory", "gamma", "system", "--json").json()
    assert system["section"] == "system" and system["data"]["hostname"]

    older = fleet.cli("software", PROBE, "--older-than", "1.1", "--json").json()
    assert [(i["hostname"], i["version"]) for i in older] == [("gamma", "1.0")]
    assert fleet.cli("software", PROBE, "--older-than", "1.0", "--json").json() == []
    table = fleet.cli("software", PROBE)
    assert table.code == 0 and "gamma" in table.out

    pending = fleet.cli("updates", "--json").json()
    assert [(i["hostname"], i["pending"]) for i in pending] == [("gamma", 1)]
    assert fleet.cli("updates", "--security", "--json").json() == []

    security = fleet.cli("patch", "--agent", "gamma", "--security")
    assert security.code == 0, security.err
    assert installed_version(PROBE) == "1.0"
    patched = fleet.cli("patch", "--agent", "gamma", "--package", PROBE, "--json")
    assert patched.code == 0, patched.err
    [row] = patched.json()["results"]
    assert row["status"] == "succeeded" and row["data"]["installed"][0]["version"] == "1.1"
    assert installed_version(PROBE) == "1.1"
    wait_for(
        lambda: fleet.cli("software", PROBE, "--older-than", "1.1", "--json").json() == [],
        30,
        what="the inventory after the patch",
    )
    assert fleet.cli("updates", "--json").json() == []
