"""End to end: live view of a real Xvfb screen through a real server, a real agent and the helper it
starts as a test user — frames reach the one viewer, a change shows within 500 ms, others are refused,
the session is audited, and closing the viewer stops the capture."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil
import pytest
from PIL import Image

from tests.agent.agent_process import AgentProcess
from tests.agent.desktop import grab_directly, message_window, xvfb
from tests.agent.test_agent_online import online_agent
from tests.agent.test_screenshot_e2e import token_with
from tests.conftest import ServerProcess
from tests.support import wait_for

pytestmark = pytest.mark.slow
WINDOW = (40, 40)  # where the test window appears; the rest of the Xvfb screen is black


class Frames(threading.Thread):
    """Watches a live view over a plain HTTP connection, keeping (time received, image) per part;
    `leave()` drops the connection the way a closed browser tab does."""

    def __init__(self, server: ServerProcess, url: str) -> None:
        super().__init__(daemon=True)
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.connection.request("GET", url, headers={"Authorization": f"Bearer {server.token}"})
        self.socket = self.connection.sock
        self.response = self.connection.getresponse()
        self.frames: list[tuple[float, Image.Image]] = []

    def leave(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def run(self) -> None:
        buffer = b""
        try:
            while chunk := self.response.read1(65536):
                buffer += chunk
                while True:
                    head_end = buffer.find(b"\r\n\r\n")
                    if head_end < 0:
                        break
                    head = buffer[:head_end].decode("latin-1")
                    length = int(
                        next(
                            h.split(":")[1]
                            for h in head.split("\r\n")
                            if h.lower().startswith("content-length")
                        )
                    )
                    if len(buffer) < head_end + 4 + length + 2:
                        break
                    jpeg = buffer[head_end + 4 : head_end + 4 + length]
                    buffer = buffer[head_end + 4 + length + 2 :]
                    self.frames.append((time.monotonic(), Image.open(io.BytesIO(jpeg)).convert("RGB")))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):  # closed by leave()
            pass


def shows_window(image: Image.Image) -> bool:
    x, y = WINDOW
    return int(image.crop((x, y, x + 60, y + 20)).convert("L").getextrema()[1]) > 200


def helpers_cpu(uid: int) -> float:
    total = 0.0
    for process in psutil.process_iter(["uids", "cmdline"]):
        if (
            process.info["uids"]
            and process.info["uids"].real == uid
            and "borealis.agent.user_session.helper" in (process.info["cmdline"] or [])
        ):
            times = process.cpu_times()
            total += times.user + times.system
    return total


@pytest.fixture
def display() -> Iterator[str]:
    with xvfb() as name:
        yield name


def audit_actions(server: ServerProcess, agent_id: str) -> list[dict[str, Any]]:
    with server.api as api:
        items: list[dict[str, Any]] = api.get("/api/v1/audit", params={"target": agent_id}).json()["items"]
    return [i for i in items if str(i["action"]).startswith("screen.")]


def test_live_view_relays_changes_to_its_one_viewer_and_stops_capture_when_closed(
    server: ServerProcess, agents: Callable[..., AgentProcess], test_user: str, display: str
) -> None:
    agent = online_agent(server, agents, helper_user=test_user, helper_display=display)
    narrow = token_with(server, "agents:read", "jobs:read", "jobs:run")
    with httpx.Client(base_url=server.url, timeout=10) as plain:
        refused = plain.post(
            f"/api/v1/agents/{agent.agent_id}/screen", json={}, headers={"Authorization": f"Bearer {narrow}"}
        )
    assert refused.status_code == 403 and "desktop:view" in refused.text

    with server.api as api:
        opened = api.post(f"/api/v1/agents/{agent.agent_id}/screen", json={"fps": 10})
        assert opened.status_code == 201, opened.text
        session = opened.json()
        second = api.post(f"/api/v1/agents/{agent.agent_id}/screen", json={})
        assert second.status_code == 409  # one viewer per agent

    reader = Frames(server, session["stream_url"])
    assert reader.response.status == 200
    assert reader.response.getheader("content-type", "").startswith("multipart/x-mixed-replace")
    reader.start()
    wait_for(lambda: reader.frames, 20, what="the first frame")
    assert not shows_window(reader.frames[-1][1])
    time.sleep(1.0)
    idle_frames = len(reader.frames)  # an unchanged screen sends nothing more

    with message_window(display, "DISK 93% FULL", *WINDOW):
        visible = wait_for(
            lambda: (
                shows_window(Image.frombytes("RGB", grab_directly(display)[:2], grab_directly(display)[2]))
                and time.monotonic()
            ),
            10,
            0.01,
            what="the window on the display",
        )
        seen = wait_for(
            lambda: next((t for t, image in reader.frames if shows_window(image)), None),
            5,
            0.01,
            what="a frame with the window",
        )
        assert seen - visible <= 0.5, f"the change took {seen - visible:.3f} s to reach the viewer"
    assert idle_frames <= 2

    started = [a for a in audit_actions(server, agent.agent_id) if a["action"] == "screen.view.start"]
    assert len(started) == 1

    reader.leave()  # the viewer leaves
    uid = int(subprocess.run(["id", "-u", test_user], capture_output=True, text=True, check=True).stdout)
    wait_for(lambda: "live view stopped" in agent.log("agent"), 10, what="the agent to stop the stream")
    time.sleep(0.5)
    before = helpers_cpu(uid)
    time.sleep(2.0)
    assert helpers_cpu(uid) - before < 0.05  # no capture after the viewer left

    ended = wait_for(
        lambda: [a for a in audit_actions(server, agent.agent_id) if a["action"] == "screen.view.end"], 10
    )
    assert ended[0]["detail"]["frames"] >= 2 and ended[0]["detail"]["reason"]
    with server.api as api:  # the agent is free for the next viewer
        again = api.post(f"/api/v1/agents/{agent.agent_id}/screen", json={})
    assert again.status_code == 201
    assert os.environ.get("DISPLAY") != display  # the test itself never changed its own display


def watch(server: ServerProcess, agent_id: str) -> tuple[dict[str, Any], Frames]:
    with server.api as api:
        opened = api.post(f"/api/v1/agents/{agent_id}/screen", json={"fps": 5})
    assert opened.status_code == 201, opened.text
    reader = Frames(server, opened.json()["stream_url"])
    reader.start()
    wait_for(lambda: reader.frames, 20, what="the first frame")
    return opened.json(), reader


def send_input(
    server: ServerProcess, session: dict[str, Any], events: list[dict[str, Any]], token: str = ""
) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=10) as plain:
        return plain.post(
            f"{session['stream_url']}/input",
            json={"events": events},
            headers={"Authorization": f"Bearer {token or server.token}"},
        )


def test_remote_control_clicks_and_types_into_a_window_of_the_session(
    server: ServerProcess, agents: Callable[..., AgentProcess], test_user: str, display: str, tmp_path: Any
) -> None:
    agent = online_agent(server, agents, helper_user=test_user, helper_display=display, remote_control=True)
    log_path = tmp_path / "xev.log"
    with open(log_path, "wb") as log:  # the window's own log of what reached it
        window = subprocess.Popen(
            ["xev", "-geometry", "300x200+100+100", "-event", "mouse", "-event", "keyboard"],
            env={**os.environ, "DISPLAY": display},
            stdout=log,
            stderr=subprocess.DEVNULL,
        )
    try:
        wait_for(lambda: any(grab_directly(display)[2]), 20, what="the xev window")
        session, reader = watch(server, agent.agent_id)
        try:
            viewer_only = token_with(server, "desktop:view", "agents:read")
            refused = send_input(server, session, [{"type": "click", "x": 200, "y": 150}], viewer_only)
            assert refused.status_code == 403 and "desktop:control" in refused.text

            bad = send_input(server, session, [{"type": "text", "text": "\x1b[2J"}])
            assert bad.status_code == 400

            done = send_input(
                server,
                session,
                [
                    {"type": "click", "x": 200, "y": 150, "button": 1},
                    {"type": "text", "text": "93"},
                    {"type": "key", "key": "Return"},
                ],
            )
            assert done.status_code == 204, done.text
            wait_for(
                lambda: "keysym 0xff0d, Return" in log_path.read_text(errors="replace"),
                10,
                what="the keys in xev's log",
            )
            seen = log_path.read_text(errors="replace")
            assert "ButtonPress event" in seen and "root:(200,150)" in seen and "button 1" in seen
            assert "keysym 0x39, 9" in seen and "keysym 0x33, 3" in seen
            assert [a for a in audit_actions(server, agent.agent_id) if a["action"] == "screen.control.start"]
        finally:
            reader.leave()
    finally:
        window.kill()
        window.wait(5)


def test_remote_control_is_refused_when_the_agents_policy_is_off(
    server: ServerProcess, agents: Callable[..., AgentProcess], test_user: str, display: str
) -> None:
    agent = online_agent(server, agents, helper_user=test_user, helper_display=display)  # remote_control off
    with message_window(display, "nothing to see", *WINDOW):
        wait_for(lambda: any(grab_directly(display)[2]), 10, what="the window")
        session, reader = watch(server, agent.agent_id)
        try:
            refused = send_input(server, session, [{"type": "click", "x": 50, "y": 50}])
            assert refused.status_code == 403, refused.text
            assert "remote control is off on this agent" in refused.json()["detail"]
        finally:
            reader.leave()
