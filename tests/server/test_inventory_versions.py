"""Version ordering against known pairs: Debian's (checked against `dpkg --compare-versions` itself
where dpkg is installed) and RPM's (the pairs of rpm's own rpmvercmp test suite)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from borealis.server.inventory.versions import compare, compare_deb, compare_rpm, parse_deb, rpmvercmp

DEB_PAIRS = [
    ("1.1.1f-1ubuntu2", "1.1.1f-1ubuntu2.16", -1),
    ("3.0.2-0ubuntu1.10", "3.0.2-0ubuntu1.9", 1),
    ("7.81.0-1ubuntu1.15", "7.81.0-1ubuntu1.4", 1),
    ("1:2.0", "3.0", 1),
    ("0:1.0", "1.0", 0),
    ("1:1.0", "2:0.1", -1),
    ("1.0~rc1", "1.0", -1),
    ("1.0~~", "1.0~", -1),
    ("1.0~", "1.0", -1),
    ("1.0~rc1-1", "1.0-1", -1),
    ("2.30-0ubuntu1~18.04", "2.30-0ubuntu1", -1),
    ("1.0", "1.0a", -1),
    ("1.0a", "1.0+", -1),
    ("1.0+dfsg-1", "1.0-1", 1),
    ("1.0", "1.0-0", 0),
    ("1.0-1", "1.0-1.1", -1),
    ("1.2.3", "1.2.10", -1),
    ("1.0.0", "1.0", 1),
    ("1.2-3-4", "1.2-3-5", -1),
    ("1.002", "1.2", 0),
    ("1.0", "1.0", 0),
    ("9", "10", -1),
    ("a", "b", -1),
    ("2.7.4+dfsg-1ubuntu0.1", "2.7.4+dfsg-1", 1),
]

RPM_PAIRS = [
    ("1.0", "1.0", 0),
    ("1.0", "2.0", -1),
    ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p2", -1),
    ("5.5p1", "5.5p10", -1),
    ("10xyz", "10.1xyz", -1),
    ("xyz10", "xyz10.1", -1),
    ("xyz.4", "8", -1),
    ("8", "xyz.4", 1),
    ("xyz.4", "2", -1),
    ("5.6p1", "6.5p1", -1),
    ("6.0.rc1", "6.0", 1),
    ("10b2", "10a1", 1),
    ("10a2", "10b2", -1),
    ("1.0a", "1.0aa", -1),
    ("10.0001", "10.1", 0),
    ("10.0001", "10.0039", -1),
    ("4.999.9", "5.0", -1),
    ("20101121", "20101122", -1),
    ("2.0", "2_0", 0),
    ("a+", "a_", 0),
    ("+a", "_a", 0),
    ("_+", "+_", 0),
    ("+", "_", 0),
    ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0^", "1.0", 1),
    ("1.0^git1", "1.0", 1),
    ("1.0^git1", "1.0^git2", -1),
    ("1.0^git1", "1.01", -1),
    ("1.0^20160101", "1.0.1", -1),
    ("1.0^20160102", "1.0^20160101^git1", 1),
    ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0^git1", "1.0^git1~pre", 1),
]


@pytest.mark.parametrize(("a", "b", "expected"), DEB_PAIRS)
def test_debian_ordering(a: str, b: str, expected: int) -> None:
    assert compare_deb(a, b) == expected
    assert compare_deb(b, a) == -expected
    assert compare(a, b, "dpkg") == expected


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed here")
@pytest.mark.parametrize(("a", "b", "expected"), DEB_PAIRS)
def test_the_debian_pairs_are_what_dpkg_says(a: str, b: str, expected: int) -> None:
    operator = {-1: "lt", 0: "eq", 1: "gt"}[expected]
    assert subprocess.run(["dpkg", "--compare-versions", a, operator, b], check=False).returncode == 0


@pytest.mark.parametrize(("a", "b", "expected"), RPM_PAIRS)
def test_rpm_ordering(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


def test_rpm_epoch_and_release() -> None:
    assert compare_rpm("1:1.0-1.el8", "2.0-1.el8") == 1
    assert compare_rpm("1.1.1k-7.el8", "1.1.1k-12.el8") == -1
    assert compare_rpm("1.1.1k", "1.1.1k-12.el8") == -1  # no release sorts before every release
    assert compare("1.1.1k-7.el8", "1.1.1k-12.el8", "rpm") == -1


def test_the_source_picks_the_ordering() -> None:
    # "1.0a" < "1.0+" for dpkg (letters sort before other characters); rpm ignores the "+".
    assert compare("1.0a", "1.0+", "dpkg") == -1
    assert compare("1.0a", "1.0+", "rpm") == 1


def test_parse_debian_version() -> None:
    parsed = parse_deb("2:1.2-3-4ubuntu1")
    assert (parsed.epoch, parsed.upstream, parsed.revision) == (2, "1.2-3", "4ubuntu1")
    assert parse_deb("x:1.0").upstream == "x:1.0"  # an epoch must be a number


RPM_EVRS = [
    "1.0",
    "1.0-1",
    "1.0-2",
    "1.0-10",
    "1:0.9",
    "1.0~rc1-1",
    "1.0^post1",
    "1.0-1.el8",
    "0:1.0-1",
    "2.0",
]


def test_rpm_order_is_total_when_one_side_has_no_release() -> None:
    assert compare_rpm("1.0", "1.0-1") == -1
    assert compare_rpm("1.0-1", "1.0-2") == -1
    assert compare_rpm("1.0", "1.0-2") == -1
    assert compare_rpm("1.0-1", "0:1.0-1") == 0  # a missing epoch is 0
    # Antisymmetric and transitive over a mixed set: sorting agrees with every pairwise answer.
    for x in RPM_EVRS:
        for y in RPM_EVRS:
            assert compare_rpm(x, y) == -compare_rpm(y, x), (x, y)
            for z in RPM_EVRS:
                if compare_rpm(x, y) <= 0 and compare_rpm(y, z) <= 0:
                    assert compare_rpm(x, z) <= 0, (x, y, z)
