"""A probe package in a local `file:` apt repository, for tests of listing and installing updates.

The machine's apt sources are never touched: the repository is known only to the apt options returned,
which the test passes to the agent (`apt_options`). Version 1.0 is installed, 1.1 waits in the repository,
and the package is purged afterwards.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def installed_version(name: str) -> str | None:
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def build_deb(workdir: Path, name: str, version: str) -> Path:
    package = workdir / f"pkg-{version}"
    (package / "DEBIAN").mkdir(parents=True)
    (package / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Borealis Tests <tests@example.invalid>\nDescription: a package the tests install\n"
    )
    deb = workdir / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", str(package), str(deb)], check=True, capture_output=True)
    return deb


@contextmanager
def local_apt_repo(root: Path, name: str) -> Iterator[list[str]]:
    """`name` 1.0 installed and 1.1 in a repository under `root`; yields the apt options that see it."""
    repo, lists = root / "repo", root / "lists"
    repo.mkdir(parents=True)
    (lists / "partial").mkdir(parents=True)
    old = build_deb(root, name, "1.0")
    build_deb(root, name, "1.1").rename(repo / f"{name}_1.1_all.deb")
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
        subprocess.run(["dpkg", "--purge", name], capture_output=True)
        assert installed_version(name) is None
