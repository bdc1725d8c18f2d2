"""`agent status` from the files in the home, checked against live processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from borealis.agent.service import status as agent_status
from borealis.agent.service.status_file import (
    ConnectionState,
    StatusPublisher,
    WorkerStatus,
    read_status,
    status_path,
    write_status,
)
from borealis.agent.service.supervisor_state import (
    Restart,
    RestartReason,
    SupervisorRecord,
    supervisor_path,
    write_record,
)
from borealis.core.home import Home
from borealis.protocol import keys
from tests.agent.agent_process import borealis
from tests.agent.fakes import enrolled_home


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_publisher_coalesces_and_writes_the_latest_state(tmp_path: Path) -> None:
    path = tmp_path / "state" / "status.json"

    async def scenario() -> None:
        publisher = StatusPublisher(path, WorkerStatus(pid=1, agent_id="a", server_url="http://s"))
        writer = asyncio.create_task(publisher.run())
        publisher.set(state=ConnectionState.CONNECTING)
        publisher.set(state=ConnectionState.CONNECTED, connected_since="2026-01-01T00:00:00Z")
        for _ in range(100):
            await asyncio.sleep(0.01)
            if path.exists() and json.loads(path.read_text())["state"] == "connected":
                break
        writer.cancel()

    asyncio.run(scenario())
    written = json.loads(path.read_text())
    assert written["state"] == "connected" and written["connected_since"] == "2026-01-01T00:00:00Z"
    assert set(written) >= {
        "pid",
        "agent_id",
        "server_url",
        "state",
        "connected_since",
        "last_change",
        "last_close_code",
        "last_error",
    }


def test_damaged_files_read_as_absent(tmp_path: Path) -> None:
    home = Home(tmp_path)
    status_path(home).parent.mkdir(parents=True)
    status_path(home).write_text("{not json")
    assert read_status(home) is None


def test_stale_files_of_dead_processes_are_not_reported_as_running(tmp_path: Path) -> None:
    home, identity, _ = enrolled_home(tmp_path, "http://127.0.0.1:9", keys.generate())
    pid = dead_pid()
    write_status(
        status_path(home),
        WorkerStatus(
            pid=pid,
            agent_id=identity.agent_id,
            server_url=identity.server_url,
            state=ConnectionState.CONNECTED,
            connected_since="2026-01-01T00:00:00Z",
        ),
    )
    record = SupervisorRecord(pid=pid, started_at="2026-01-01T00:00:00Z", worker_pid=pid)
    record.add_restart(Restart("2026-01-01T00:00:01Z", RestartReason.HANG, "no internal heartbeat for 3.1 s"))
    write_record(supervisor_path(home), record)

    report = agent_status.gather(home)
    assert (report.running, report.worker_running, report.connected) == (False, False, False)
    assert report.state == "stopped" and report.connected_since is None
    assert report.restarts == 1 and report.last_restarts[0]["reason"] == "hang"
    text = agent_status.render(report)
    assert "not running" in text and "hang: no internal heartbeat for 3.1 s" in text


def test_a_live_worker_is_reported_connected(tmp_path: Path) -> None:
    home, identity, _ = enrolled_home(tmp_path, "http://127.0.0.1:9", keys.generate())
    since = "2026-01-01T00:00:00Z"
    write_status(
        status_path(home),
        WorkerStatus(
            pid=os.getpid(),
            agent_id=identity.agent_id,
            server_url=identity.server_url,
            state=ConnectionState.CONNECTED,
            connected_since=since,
            jobs_running=2,
            outbox_pending=3,
            outbox_dropped=1,
        ),
    )
    report = agent_status.gather(home)
    assert report.connected and report.worker_running and report.connected_since == since
    assert report.worker_rss_bytes and report.worker_rss_bytes > 0
    assert (report.jobs_running, report.outbox_pending, report.outbox_dropped) == (2, 3, 1)
    text = agent_status.render(report, now=datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    assert f"connected since {since} (5 min ago)" in text
    assert "jobs        2 running; outbox: 3 waiting for the server's ack, 1 dropped (outbox full)" in text


def test_cli_status_says_not_enrolled_and_exits_non_zero(tmp_path: Path) -> None:
    result = borealis("agent", "status", "--home", str(tmp_path / "empty"), "--json")
    assert result.returncode != 0
    assert json.loads(result.stdout)["enrolled"] is False
    assert result.stderr.strip().splitlines() == [
        f"borealis: error: not enrolled: no agent identity in {tmp_path / 'empty'}"
    ]
    text = borealis("agent", "status", "--home", str(tmp_path / "empty"))
    assert text.returncode != 0 and text.stdout == "" and "not enrolled" in text.stderr


def test_cli_helper_without_an_agent_says_so_in_one_line(tmp_path: Path) -> None:
    result = borealis("helper", "--home", str(tmp_path), "--once")
    assert result.returncode == 2
    assert result.stderr.startswith("borealis: error: cannot reach the agent at @borealis-helper-")
    assert result.stderr.count("\n") == 1
