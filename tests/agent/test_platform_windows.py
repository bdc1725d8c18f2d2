"""The Windows backend, decided on Linux: the service commands, which sessions get a helper and how it
is launched, the registry's uninstall keys and the Windows Update search, from captured output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path, PureWindowsPath

import pytest

from borealis.agent.platform import service_platform
from borealis.agent.platform.base import ServiceSpec
from borealis.agent.platform.windows import (
    CREATE_NO_WINDOW,
    WindowsPlatform,
    WtsSession,
    WtsState,
    enumerate_sessions,
    launch_helper,
    plan_helper_launch,
    sessions_for_helpers,
)
from borealis.agent.platform.windows_software import (
    parse_reg_query,
    reg_query_commands,
    software_from_views,
)
from borealis.agent.platform.windows_updates import parse_search_result
from borealis.core.errors import ConfigError, TransientError

HOME = "C:\\ProgramData\\Borealis Home"
PYTHON = "C:\\ProgramData\\Borealis Home\\Agent\\venv\\Scripts\\python.exe"
SPEC = ServiceSpec(Path(PYTHON), Path(HOME), stop_timeout_s=10, memory_budget_mb=200)

# `reg query HKLM\...\Uninstall /s /reg:64` on a Windows 11 machine (trimmed).
REG_64 = """
HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\7-Zip
    DisplayIcon    REG_SZ    C:\\Program Files\\7-Zip\\7zFM.exe
    DisplayName    REG_SZ    7-Zip 23.01 (x64)
    DisplayVersion    REG_SZ    23.01
    EstimatedSize    REG_DWORD    0x15f2
    NoModify    REG_DWORD    0x1
    Publisher    REG_SZ    Igor Pavlov
    UninstallString    REG_SZ    "C:\\Program Files\\7-Zip\\Uninstall.exe"

HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{0D3E6A40-5B6D-4D4A-9C8E-1B2F0E4A7C11}
    DisplayName    REG_SZ    Microsoft Visual C++ 2022 X64 Minimum Runtime - 14.38.33135
    DisplayVersion    REG_SZ    14.38.33135
    InstallDate    REG_SZ    20240115
    Publisher    REG_SZ    Microsoft Corporation
    SystemComponent    REG_DWORD    0x1

HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{5FCE6D76-F5DC-37AB-B2B8-22AB8CEDB1D4}
    DisplayName    REG_SZ    Microsoft Edge
    DisplayVersion    REG_SZ    120.0.2210.91
    InstallDate    REG_SZ    20240102
    Publisher    REG_SZ    Microsoft Corporation
    Comments    REG_SZ    <nothing>
    EstimatedSize    REG_DWORD    0x9c40

HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\KB5034441
    DisplayName    REG_SZ    Security Update for Windows (KB5034441)
    ParentKeyName    REG_SZ    OperatingSystem

HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\AddressBook
    (Default)    REG_SZ    <nothing>

End of search: 13 match(es) found.
""".replace("<nothing>", "")  # reg.exe ends an empty value's line with its four-space separator

# The same key in the 32-bit view (WOW6432Node).
REG_32 = """
HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Notepad++
    DisplayName    REG_SZ    Notepad++ (32-bit x86)
    DisplayVersion    REG_SZ    8.6.2
    InstallDate    REG_SZ    2024-01-20
    Publisher    REG_SZ    Notepad++ Team
    Languages    REG_MULTI_SZ    en\\0fr\\0

HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{5FCE6D76-F5DC-37AB-B2B8-22AB8CEDB1D4}
    DisplayName    REG_SZ    Microsoft Edge
    DisplayVersion    REG_SZ    120.0.2210.91
    Publisher    REG_SZ    Microsoft Corporation
"""

# `ConvertTo-Json` of the search script: one update has a single KB (written as a scalar, not a list).
SEARCH_OUTPUT = json.dumps(
    {
        "ResultCode": 2,
        "Updates": [
            {
                "Title": "2024-01 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5034123)",
                "UpdateID": "8e4b1f3a-0000-4000-8000-000000000001",
                "RevisionNumber": 1,
                "KBArticleIDs": "5034123",
                "MsrcSeverity": "Critical",
                "Categories": ["Security Updates", "Windows 11"],
                "RebootBehavior": 1,
                "IsDownloaded": True,
            },
            {
                "Title": "Microsoft Defender Antivirus antimalware platform update - KB4052623",
                "UpdateID": "8e4b1f3a-0000-4000-8000-000000000002",
                "RevisionNumber": 200,
                "KBArticleIDs": ["4052623"],
                "MsrcSeverity": None,
                "Categories": "Definition Updates",
                "RebootBehavior": 0,
                "IsDownloaded": False,
            },
            {"Title": "", "KBArticleIDs": None},
        ],
    }
)


def test_the_service_is_created_with_sc_exe_as_local_system_and_restarted_on_failure() -> None:
    planned = WindowsPlatform().activate_commands(SPEC)
    commands = [c.argv for c in planned]
    create, config = commands[0], commands[1]
    assert create[:3] == ("sc.exe", "create", "BorealisAgent") and not planned[0].check  # may exist (repair)
    assert (
        config[:3] == ("sc.exe", "config", "BorealisAgent") and config[3:] == create[3:] and planned[1].check
    )
    bin_path = create[create.index("binPath=") + 1]
    assert bin_path == f'"{PYTHON}" -m borealis agent run --home "{HOME}"'  # spaces quoted once, not twice
    assert create[create.index("start=") + 1] == "delayed-auto"
    assert create[create.index("obj=") + 1] == "LocalSystem"
    assert (
        "sc.exe",
        "failure",
        "BorealisAgent",
        "reset=",
        "86400",
        "actions=",
        "restart/5000/restart/5000/restart/60000",
    ) in commands
    assert ("sc.exe", "failureflag", "BorealisAgent", "1") in commands
    assert commands[-1] == ("sc.exe", "start", "BorealisAgent")


def test_removal_stops_then_deletes_and_tolerates_a_service_that_is_gone() -> None:
    commands = WindowsPlatform().deactivate_commands()
    assert [c.argv for c in commands] == [
        ("sc.exe", "stop", "BorealisAgent"),
        ("sc.exe", "delete", "BorealisAgent"),
    ]
    assert not any(c.check for c in commands)


def test_the_platform_is_chosen_by_system_and_writes_no_files_on_windows() -> None:
    platform = service_platform(system="win32")
    assert isinstance(platform, WindowsPlatform) and platform.files(SPEC) == []
    assert platform.venv_python(Path("C:/h/Agent/venv")) == Path("C:/h/Agent/venv/Scripts/python.exe")
    assert not platform.live  # not on this Linux machine: no command would run
    with pytest.raises(ConfigError, match="not supported on darwin"):
        service_platform(system="darwin")


def test_helpers_go_to_active_user_sessions_only() -> None:
    sessions = [
        WtsSession(0, "Services", WtsState.DISCONNECTED),
        WtsSession(1, "Console", WtsState.ACTIVE),
        WtsSession(2, "RDP-Tcp#3", WtsState.ACTIVE),
        WtsSession(3, "", WtsState.DISCONNECTED),
        WtsSession(65536, "RDP-Tcp", WtsState.LISTEN),
    ]
    assert [s.id for s in sessions_for_helpers(sessions)] == [1, 2]


def test_a_helper_launch_is_windowless_on_the_sessions_desktop() -> None:
    plan = plan_helper_launch(Path(HOME) / "Agent" / "venv", Path(HOME), WtsSession(2, "RDP-Tcp#3", 0))
    assert PureWindowsPath(plan.application).name == "pythonw.exe"
    assert plan.session_id == 2 and plan.desktop == "winsta0\\default"
    assert plan.creation_flags & CREATE_NO_WINDOW
    assert plan.command_line.endswith(f'-m borealis helper --home "{HOME}" --session 2 --once')
    assert subprocess.list2cmdline([plan.application]) in plan.command_line


def test_the_win32_calls_refuse_to_run_off_windows() -> None:
    with pytest.raises(ConfigError, match="only on Windows"):
        enumerate_sessions()
    with pytest.raises(ConfigError, match="only on Windows"):
        launch_helper(plan_helper_launch(Path("C:/v"), Path("C:/h"), WtsSession(1, "Console", 0)))


def test_both_registry_views_of_both_hives_are_queried() -> None:
    argvs = [argv for _, _, argv in reg_query_commands()]
    assert [
        "reg.exe",
        "query",
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
        "/s",
        "/reg:64",
    ] in argvs
    assert [
        "reg.exe",
        "query",
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
        "/s",
        "/reg:32",
    ] in argvs
    assert sum(1 for argv in argvs if argv[2].startswith("HKCU")) == 2


def test_reg_query_output_is_parsed_into_keys_and_typed_values() -> None:
    keys = parse_reg_query(REG_64)
    assert keys[0].path.endswith("\\Uninstall\\7-Zip") and len(keys) == 5
    assert keys[0].values["EstimatedSize"] == 0x15F2 and keys[0].values["NoModify"] == 1
    assert keys[0].values["UninstallString"] == '"C:\\Program Files\\7-Zip\\Uninstall.exe"'
    assert keys[2].values["Comments"] == ""
    assert parse_reg_query(REG_32)[0].values["Languages"] == ["en", "fr"]


def test_software_lists_programs_from_both_views_once_without_components_or_updates() -> None:
    software = software_from_views([("64", REG_64), ("32", REG_32)])
    assert [s["name"] for s in software] == ["7-Zip 23.01 (x64)", "Microsoft Edge", "Notepad++ (32-bit x86)"]
    seven_zip, edge, notepad = software
    assert seven_zip == {
        "name": "7-Zip 23.01 (x64)",
        "version": "23.01",
        "arch": "x64",
        "source": "registry",
        "publisher": "Igor Pavlov",
        "installed_at": None,
        "size_bytes": 0x15F2 * 1024,
    }
    assert edge["installed_at"] == "2024-01-02" and edge["arch"] == "x64"  # the 64-bit view came first
    assert notepad["arch"] == "x86" and notepad["installed_at"] is None  # "2024-01-20" is not YYYYMMDD


def test_the_windows_update_search_result_becomes_update_items() -> None:
    updates = parse_search_result(SEARCH_OUTPUT)
    assert [u["candidate_version"] for u in updates] == ["KB5034123", "KB4052623"]
    cumulative, defender = updates
    assert cumulative["security"] and cumulative["severity"] == "Critical"
    assert cumulative["reboot_may_be_required"] and cumulative["downloaded"]
    assert (
        cumulative["manager"] == "windows-update" and cumulative["origin"] == "Security Updates, Windows 11"
    )
    assert not defender["security"] and defender["origin"] == "Definition Updates"
    assert not defender["reboot_may_be_required"] and defender["severity"] is None


def test_an_empty_search_is_no_updates_and_a_failed_one_is_an_error() -> None:
    assert parse_search_result('{"ResultCode": 2, "Updates": null}') == []
    with pytest.raises(TransientError, match=r"result code 4: failed"):
        parse_search_result('{"ResultCode": 4, "Updates": []}')
    with pytest.raises(TransientError, match="not JSON"):
        parse_search_result("Exception from HRESULT: 0x8024402C")
