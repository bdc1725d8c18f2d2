"""`agent status` shows how long the supervisor and the worker have been up (longevity, issue 5)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from borealis.agent.service import status as agent_status
from borealis.agent.service.status_file import ConnectionState, WorkerStatus, status_path, write_status
from borealis.agent.service.supervisor_state import (
    Restart,
    RestartReason,
    SupervisorRecord,
    supervisor_path,
    write_record,
)
from borealis.protocol import keys
from tests.agent.fakes import enrolled_home


def test_status_shows_uptimes_restarts_with_reasons_memory_and_the_queue(tmp_path: Path) -> None:
    home, identity, _ = enrolled_home(tmp_path, "http://127.0.0.1:9", keys.generate())
    pid = os.getpid()  # a live process whose command line is the test runner's, so "running"
    write_status(
        status_path(home),
        WorkerStatus(
            pid=pid,
            agent_id=identity.agent_id,
            server_url=identity.server_url,
            state=ConnectionState.CONNECTED,
            connected_since="2026-01-01T01:00:00Z",
            outbox_pending=4,
        ),
    )
    record = SupervisorRecord(
        pid=pid, started_at="2026-01-01T00:00:00Z", worker_pid=pid, worker_started_at="2026-01-01T02:59:00Z"
    )
    record.add_restart(
        Restart("2026-01-01T02:58:58Z", RestartReason.MEMORY, "RSS 212.0 MiB over the 200 MiB budget")
    )
    write_record(supervisor_path(home), record)

    report = agent_status.gather(home)
    assert report.supervisor_started_at == "2026-01-01T00:00:00Z"
    assert report.worker_started_at == "2026-01-01T02:59:00Z"
    lines = agent_status.render(report, now=datetime(2026, 1, 1, 3, 0, 30, tzinfo=UTC)).splitlines()
    assert lines[3] == f"supervisor  running (pid {pid}, up 3 h 0 min)"
    assert lines[4].startswith(f"worker      running (pid {pid}, up 90 s, RSS ") and lines[4].endswith(
        " MiB)"
    )
    assert lines[6] == "jobs        0 running; outbox: 4 waiting for the server's ack"
    assert lines[7:] == [
        "restarts    1",
        "            2026-01-01T02:58:58Z  memory: RSS 212.0 MiB over the 200 MiB budget",
    ]


def test_a_worker_of_another_generation_has_no_uptime(tmp_path: Path) -> None:
    home, identity, _ = enrolled_home(tmp_path, "http://127.0.0.1:9", keys.generate())
    pid = os.getpid()
    write_status(
        status_path(home),
        WorkerStatus(pid=pid, agent_id=identity.agent_id, server_url="", state=ConnectionState.CONNECTING),
    )
    record = SupervisorRecord(
        pid=pid, started_at="2026-01-01T00:00:00Z", worker_pid=pid + 1, worker_started_at="x"
    )
    write_record(supervisor_path(home), record)
    report = agent_status.gather(home)
    assert report.worker_running and report.worker_started_at is None
    assert ", up " not in agent_status.render(report).splitlines()[4]
