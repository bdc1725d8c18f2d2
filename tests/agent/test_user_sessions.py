"""The user-session helper and the agent's hub: real helper processes on a real local socket."""

from __future__ import annotations

import asyncio
import os
import pwd
import struct
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from borealis.agent.roles.contract import JobRequest, OutputStream, RoleContext, RunContext
from borealis.agent.user_session import local_ipc
from borealis.agent.user_session.helper_hub import HelperHub, NoUserSession
from borealis.agent.user_session.helper_link import DISCONNECTED
from borealis.agent.user_session.helper_spawn import HelperProcesses
from borealis.agent.user_session.sessions import (
    Session,
    configured_session,
    parse_properties,
    parse_utmp,
    pick_for_user_jobs,
    session_from_properties,
)
from borealis.core.errors import ProtocolError
from borealis.core.home import Home
from borealis.core.logs import LogPolicy
from borealis.protocol.jobs import JobState

ME = pwd.getpwuid(os.getuid()).pw_name
HELPER = (sys.executable, "-m", "borealis.agent.user_session.helper")

LOGINCTL_GRAPHICAL = """Id=4
User=1000
Name=alice
Timestamp=Fri 2026-11-27 09:00:00 UTC
Leader=1234
Type=wayland
Class=user
Active=yes
State=active
Remote=no
TTY=tty2
"""


# --- sessions: what loginctl and utmp say ---


def test_a_graphical_logind_session_is_read_from_show_session_output() -> None:
    session = session_from_properties(parse_properties(LOGINCTL_GRAPHICAL))
    assert session == Session(id="4", user="alice", uid=1000, kind="graphical", leader=1234, tty="tty2")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"Class": "greeter"}, None),
        ({"Remote": "yes"}, None),
        ({"Type": "tty"}, "console"),
        ({"Active": "no"}, "inactive"),
        ({"User": "x"}, None),
    ],
)
def test_greeters_remote_and_inactive_sessions_are_told_apart(
    change: dict[str, str], expected: str | None
) -> None:
    props = {**parse_properties(LOGINCTL_GRAPHICAL), **change}
    session = session_from_properties(props)
    if expected is None:
        assert session is None
    elif expected == "inactive":
        assert session is not None and not session.active
    else:
        assert session is not None and session.kind == expected


def _utmp_record(kind: int, pid: int, line: str, user: str, host: str = "") -> bytes:
    layout = struct.Struct("=h2xi32s4s32s256shhi2i4i20s")
    return layout.pack(
        kind, pid, line.encode(), b"", user.encode(), host.encode(), 0, 0, 0, 0, 0, 0, 0, 0, 0, b""
    )


def test_utmp_gives_local_logins_of_live_processes_only() -> None:
    dead_pid = 2**22 + 17  # above the default pid_max: never a live process
    data = b"".join(
        [
            _utmp_record(7, os.getpid(), "tty1", ME),
            _utmp_record(7, os.getpid(), ":0", ME),
            _utmp_record(7, os.getpid(), "pts/3", ME, host="203.0.113.9"),  # ssh: not a desktop
            _utmp_record(7, dead_pid, "tty2", ME),  # stale record
            _utmp_record(8, os.getpid(), "tty3", ME),  # DEAD_PROCESS
        ]
    )
    sessions = parse_utmp(data)
    assert [(s.id, s.kind, s.user) for s in sessions] == [
        ("tty:tty1", "console", ME),
        ("tty::0", "graphical", ME),
    ]


def test_user_jobs_prefer_the_active_graphical_session_then_console_then_the_configured_user() -> None:
    graphical = Session("4", "alice", 1000, "graphical")
    console = Session("2", "bob", 1001, "console")
    configured = Session("user:kiosk", "kiosk", 1002, "configured")
    idle = Session("5", "carol", 1003, "graphical", active=False)
    assert pick_for_user_jobs([configured, console, idle, graphical]) == graphical
    assert pick_for_user_jobs([configured, console, idle]) == console
    assert pick_for_user_jobs([configured, idle]) == configured
    assert pick_for_user_jobs([idle]) is None
    assert configured_session("no-such-user-" + uuid.uuid4().hex[:8]) is None


# --- the local socket's frames ---


async def test_frames_are_length_prefixed_json_and_oversized_ones_are_refused() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(local_ipc.encode_frame({"t": "hello", "n": 1}))
    reader.feed_data(local_ipc.HEADER.pack(local_ipc.MAX_FRAME_BYTES + 1))
    assert await local_ipc.read_frame(reader) == {"t": "hello", "n": 1}
    with pytest.raises(ProtocolError, match="over the"):
        await local_ipc.read_frame(reader)
    with pytest.raises(ProtocolError):
        local_ipc.encode_frame({"blob": "x" * local_ipc.MAX_FRAME_BYTES})
    assert local_ipc.parse_address("@borealis-x") == "\0borealis-x"
    assert local_ipc.describe("\0borealis-x") == "@borealis-x"


# --- the hub and real helper processes ---


def _address() -> str:
    return f"\0borealis-test-{uuid.uuid4().hex}"


@pytest.fixture
async def hub() -> AsyncIterator[HelperHub]:
    made = HelperHub(_address(), helper_user=ME, scan_s=0, helper_wait_s=10.0)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


async def start_helper(
    hub_address: str, tmp_path: Path, session: str = f"user:{ME}"
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *HELPER,
        *(
            "--home",
            str(tmp_path),
            "--socket",
            local_ipc.describe(hub_address),
            "--session",
            session,
            "--once",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def _job(script: str, timeout_s: float = 20.0) -> JobRequest:
    return JobRequest(
        uuid.uuid4().hex, "script", {"language": "bash", "script": script}, RunContext.USER, timeout_s
    )


def _ctx(tmp_path: Path, sink: list[tuple[str, str]]) -> RoleContext:
    ctx = RoleContext(agent_id="a", home_root=tmp_path, tmp_dir=tmp_path / "tmp")
    return ctx.for_job(lambda stream, chunk: sink.append((stream.value, chunk)), lambda pid: None)


async def _served(hub: HelperHub, session: str) -> None:
    deadline = time.monotonic() + 15
    while session not in hub.sessions_served:
        assert time.monotonic() < deadline, "the helper did not connect"
        await asyncio.sleep(0.05)


async def test_a_user_job_runs_in_the_helper_with_output_streamed_and_the_real_exit_code(
    hub: HelperHub, tmp_path: Path
) -> None:
    helper = await start_helper(hub._address, tmp_path)
    try:
        await _served(hub, f"user:{ME}")
        role = await hub.role_for("script")
        chunks: list[tuple[str, str]] = []
        result = await role.execute(_job("id -un; echo oops >&2; exit 4"), _ctx(tmp_path, chunks))
        assert result.status is JobState.FAILED and result.exit_code == 4
        assert result.stdout_tail.strip() == ME and result.stderr_tail.strip() == "oops"
        assert ("stdout", f"{ME}\n") in chunks and (OutputStream.STDERR.value, "oops\n") in chunks
    finally:
        helper.terminate()
        await helper.wait()


async def test_a_second_helper_for_the_same_session_is_refused(hub: HelperHub, tmp_path: Path) -> None:
    first = await start_helper(hub._address, tmp_path)
    try:
        await _served(hub, f"user:{ME}")
        second = await start_helper(hub._address, tmp_path)
        _, err = await asyncio.wait_for(second.communicate(), 15)
        assert second.returncode == 3
        assert b"already connected for session user:" in err
        assert first.returncode is None
    finally:
        first.terminate()
        await first.wait()


async def test_a_helper_claiming_a_session_that_does_not_exist_is_refused(
    hub: HelperHub, tmp_path: Path
) -> None:
    helper = await start_helper(hub._address, tmp_path, session="9999")
    _, err = await asyncio.wait_for(helper.communicate(), 15)
    assert helper.returncode == 3 and b"not a current login session" in err
    assert hub.sessions_served == {}


async def test_cancel_ends_the_users_process_tree(hub: HelperHub, tmp_path: Path) -> None:
    helper = await start_helper(hub._address, tmp_path)
    marker = tmp_path / "child.pid"
    try:
        await _served(hub, f"user:{ME}")
        role = await hub.role_for("script")
        request = _job(f"sleep 60 & echo $! > {marker}; wait")
        running = asyncio.create_task(role.execute(request, _ctx(tmp_path, [])))
        deadline = time.monotonic() + 10
        while not marker.exists() or not marker.read_text().strip():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await role.cancel(request.job_id)
        await asyncio.wait_for(running, 15)
        child = int(marker.read_text())
        await asyncio.sleep(0.2)
        with pytest.raises(ProcessLookupError):
            os.kill(child, 0)
    finally:
        helper.terminate()
        await helper.wait()


async def test_a_helper_that_dies_mid_job_fails_the_job_instead_of_hanging(
    hub: HelperHub, tmp_path: Path
) -> None:
    helper = await start_helper(hub._address, tmp_path)
    await _served(hub, f"user:{ME}")
    role = await hub.role_for("script")
    running = asyncio.create_task(role.execute(_job("sleep 30"), _ctx(tmp_path, [])))
    await asyncio.sleep(0.5)
    helper.kill()
    await helper.wait()
    result = await asyncio.wait_for(running, 10)
    assert result.status is JobState.FAILED and result.error == DISCONNECTED


async def test_with_no_session_and_no_configured_user_a_user_job_is_refused_at_once() -> None:
    lonely = HelperHub(_address(), helper_user="", scan_s=0, helper_wait_s=10.0)
    await lonely.start()
    try:
        started = time.monotonic()
        if pick_for_user_jobs(await lonely._current_sessions(0)) is not None:
            pytest.skip("someone is logged in on this machine")
        with pytest.raises(NoUserSession, match="no user is logged in"):
            await lonely.role_for("script")
        assert time.monotonic() - started < 5
    finally:
        await lonely.stop()


async def test_the_agent_starts_a_helper_for_the_configured_session_and_logs_its_output(
    tmp_path: Path,
) -> None:
    home = Home(tmp_path / "home")
    address = _address()
    spawner = HelperProcesses(home, LogPolicy(), address)
    spawning = HelperHub(address, helper_user=ME, spawner=spawner, scan_s=0.2, helper_wait_s=15.0)
    await spawning.start()
    try:
        role = await spawning.role_for("script")
        result = await role.execute(_job("echo from-the-helper"), _ctx(tmp_path, []))
        assert result.status is JobState.SUCCEEDED and result.stdout_tail.strip() == "from-the-helper"
        assert spawner.running(f"user:{ME}")
    finally:
        await spawning.stop()
    log = (home.agent_logs / f"helper-{ME}.log").read_text()
    assert "serving the session" in log
    assert not spawner.running(f"user:{ME}")
