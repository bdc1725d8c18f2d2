"""Reading apt, dnf and zypper output into update items (dnf and zypper are not on the test machine)."""

from __future__ import annotations

import pytest

from borealis.agent.inventory.patching import NothingToInstall, check_packages, install_command, lock_message
from borealis.agent.inventory.updates import (
    parse_apt_simulation,
    parse_dnf_check_update,
    parse_dnf_security,
    parse_zypper_updates,
)

APT = """NOTE: This is only a simulation!
Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian:12.8/stable, Debian-Security:12/stable-security [amd64])
Inst libc6:i386 [2.36-9+deb12u4] (2.36-9+deb12u9 Debian:12.8/stable [i386])
Inst linux-image-6.1.0-28-amd64 (6.1.119-1 Debian-Security:12/stable-security [amd64])
Remv old-thing [1.0]
Conf libssl3 (3.0.15-1~deb12u1 Debian:12.8/stable, Debian-Security:12/stable-security [amd64])
"""

DNF = """
bash.x86_64                          5.2.26-1.fc40                updates
openssl-libs.x86_64                  1:3.2.2-3.fc40               updates
a-very-long-package-name-that-wraps.noarch
                                     1.0-1.fc40                   updates
Obsoleting Packages
grub2-tools.x86_64                   1:2.06-121.fc40              updates
"""

DNF_SECURITY = "FEDORA-2024-1a2b3c4d5e Important/Sec. openssl-libs-1:3.2.2-3.fc40.x86_64\n"

ZYPPER = """S | Repository | Name    | Current Version | Available Version | Arch
--+------------+---------+-----------------+-------------------+-------
v | repo-oss   | vim     | 9.0.1-1.1       | 9.1.0-1.1         | x86_64
v | repo-security-update | openssl | 3.0.1-1 | 3.0.2-1 | x86_64
"""


def test_apt_simulation_lists_upgrades_with_origins_and_the_security_flag() -> None:
    assert parse_apt_simulation(APT) == [
        {
            "name": "libc6",
            "arch": "i386",
            "current_version": "2.36-9+deb12u4",
            "version": "2.36-9+deb12u9",
            "origin": "Debian:12.8/stable",
            "security": False,
            "source": "apt",
        },
        {
            "name": "libssl3",
            "arch": "amd64",
            "current_version": "3.0.11-1~deb12u2",
            "version": "3.0.15-1~deb12u1",
            "origin": "Debian:12.8/stable, Debian-Security:12/stable-security",
            "security": True,
            "source": "apt",
        },
    ]  # a new package pulled in (no current version) and removals are not updates


def test_dnf_rows_with_current_versions_and_security_advisories() -> None:
    security = parse_dnf_security(DNF_SECURITY)
    assert security == {"openssl-libs"}
    installed = {("bash", "x86_64"): "5.2.21-1.fc40", ("openssl-libs", "x86_64"): "1:3.2.1-2.fc40"}
    items = parse_dnf_check_update(DNF, installed, security)
    assert [(i["name"], i["current_version"], i["version"], i["security"]) for i in items] == [
        ("a-very-long-package-name-that-wraps", None, "1.0-1.fc40", False),
        ("bash", "5.2.21-1.fc40", "5.2.26-1.fc40", False),
        ("openssl-libs", "1:3.2.1-2.fc40", "1:3.2.2-3.fc40", True),
    ]


def test_zypper_table_rows() -> None:
    items = parse_zypper_updates(ZYPPER)
    assert [(i["name"], i["current_version"], i["version"], i["security"]) for i in items] == [
        ("openssl", "3.0.1-1", "3.0.2-1", True),
        ("vim", "9.0.1-1.1", "9.1.0-1.1", False),
    ]


def test_install_commands_per_manager_and_choice() -> None:
    pending = [{"name": "libssl3", "security": True}, {"name": "vim", "security": False}]
    apt = install_command("apt", "security", [], pending, ["-oDebug::X=1"])
    assert apt.argv[-4:] == ["-oDebug::X=1", "install", "--only-upgrade", "libssl3"]
    assert "Dpkg::Options::=--force-confold" in apt.argv and apt.env["DEBIAN_FRONTEND"] == "noninteractive"
    assert install_command("apt", "all", [], []).argv[-1] == "dist-upgrade"
    assert install_command("dnf", "security", [], []).argv == ["dnf", "-y", "upgrade", "--security"]
    assert install_command("zypper", "named", ["vim"], []).argv == [
        "zypper",
        "--non-interactive",
        "update",
        "vim",
    ]
    with pytest.raises(NothingToInstall):
        install_command("apt", "security", [], pending[1:])


def test_package_names_are_checked_so_none_reads_as_an_option() -> None:
    assert check_packages(["openssl", "libc6:amd64", "vim", "openssl"]) == ["openssl", "libc6:amd64", "vim"]
    for bad in ([], ["-oAPT::Get::AllowUnauthenticated=1"], ["a b"], "openssl", [3]):
        with pytest.raises(ValueError):
            check_packages(bad)


def test_a_held_lock_is_recognised_in_the_output() -> None:
    apt = "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\n"
    assert lock_message("Reading package lists...\n" + apt) == apt.strip()
    assert lock_message("E: Unable to locate package nope\n") is None
