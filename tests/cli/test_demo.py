"""`borealis demo`: a server and an enrolled local agent on one home; a second run reuses it all."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, wait_for

pytestmark = pytest.mark.slow


def _start(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "borealis", "demo", "--home", str(home), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _agents(port: int, token: str) -> list[dict[str, object]]:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/agents", headers={"Authorization": f"Bearer {token}"}, timeout=2
        )
    except httpx.HTTPError:
        return []
    return list(response.json()["items"]) if response.status_code == 200 else []


def _interrupt(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(30)


def test_demo_runs_an_online_agent_and_reuses_its_home(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    first_log = tmp_path / "first.log"
    process = _start(home, port, first_log)
    try:
        text = wait_for(
            lambda: "Ctrl-C stops" in first_log.read_text() and first_log.read_text(), 60, what="demo banner"
        )
        password = re.search(r"login:\s+admin / (\S+)", text)
        token = re.search(r"token:\s+(brt_\S+)", text)
        assert password and token, text
        agents = wait_for(
            lambda: [a for a in _agents(port, token.group(1)) if a["status"] == "online"],
            30,
            what="online agent",
        )
        assert len(agents) == 1
        agent_id = agents[0]["id"]
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"username": "admin", "password": password.group(1)},
            timeout=5,
        )
        assert login.status_code == 200
    finally:
        code = _interrupt(process)
    assert code == 0, first_log.read_text()[-2000:]
    assert "demo stopped" in first_log.read_text()

    second_log = tmp_path / "second.log"
    process = _start(home, port, second_log)
    try:
        wait_for(lambda: "Ctrl-C stops" in second_log.read_text(), 60, what="second demo banner")
        second = second_log.read_text()
        assert "password was printed at the first run" in second
        assert "token:" not in second
        online = wait_for(
            lambda: [a for a in _agents(port, token.group(1)) if a["status"] == "online"],
            30,
            what="agent back",
        )
        assert [a["id"] for a in online] == [agent_id]  # the same agent, not a second enrollment
    finally:
        assert _interrupt(process) == 0

    def gone() -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except httpx.HTTPError:
            return True
        return False

    wait_for(gone, 10, what="the demo's server gone")
