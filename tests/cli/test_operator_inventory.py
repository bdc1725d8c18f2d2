"""`borealis inventory`, `software --older-than`, `updates` and `patch` against a real server and a
real agent whose apt sees only a local repository the test builds (as the updates role's tests do:
the machine's apt sources are not touched; a probe package is installed and purged)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.operator import Fleet
from tests.support import wait_for

pytestmark = pytest.mark.slow
PROBE = "borealis-cli-probe"


def installed_version(name: str) -> str | None:
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def build_deb(workdir: Path, version: str) -> Path:
    package = workdir / f"pkg-{version}"
    (package / "DEBIAN").mkdir(parents=True)
    (package / "DEBIAN" / "control").write_text(
        f"Package: {PROBE}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Borealis Tests <tests@example.invalid>\nDescription: a package the CLI tests patch\n"
    )
    deb = workdir / f"{PROBE}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", str(package), str(deb)], check=True, capture_output=True)
    return deb


@pytest.fixture
def apt_options(tmp_path: Path) -> Iterator[list[str]]:
    """PROBE 1.0 installed; 1.1 in a `file:` repository only the returned apt options know (per test:
    the test patches it to 1.1)."""
    root = tmp_path / "apt"
    root.mkdir()
    repo, lists = root / "repo", root / "lists"
    repo.mkdir()
    (lists / "partial").mkdir(parents=True)
    old = build_deb(root, "1.0")
    build_deb(root, "1.1").rename(repo / f"{PROBE}_1.1_all.deb")
    packages = subprocess.run(
        ["dpkg-scanpackages", ".", "/dev/null"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    (repo / "Packages").write_text(packages)
    sources = root / "sources.list"
    sources.write_text(f"deb [trusted=yes] file:{repo} ./\n")
    options = [
        f"-oDir::Etc::SourceList={sources}",
        "-oDir::Etc::SourceParts=/dev/null",
        f"-oDir::State::Lists={lists}",
        "-oDir::Cache::pkgcache=",
        "-oDir::Cache::srcpkgcache=",
    ]
    try:
        subprocess.run(["dpkg", "-i", str(old)], check=True, capture_output=True)
        subprocess.run(["apt-get", *options, "update"], check=True, capture_output=True)
        yield options
    finally:
        subprocess.run(["dpkg", "--purge", PROBE], capture_output=True)


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
