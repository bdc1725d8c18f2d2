"""End to end: `screenshot` jobs through a real server, a real agent and a helper it starts as a real
test user, capturing a real Xvfb display."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image

from tests.agent.agent_process import AgentProcess
from tests.agent.desktop import SCREEN, grab_directly, message_window, xvfb
from tests.agent.test_agent_online import online_agent
from tests.agent.test_jobs_e2e import finished_job
from tests.conftest import ServerProcess
from tests.support import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def display() -> Iterator[str]:
    with xvfb() as name:
        yield name


def shoot(server: ServerProcess, agent_id: str, **params: Any) -> dict[str, Any]:
    with server.api as api:
        answer = api.post(
            "/api/v1/jobs",
            json={
                "role": "screenshot",
                "params": params,
                "run_as": "user",
                "target": {"agents": [agent_id]},
                "timeout_s": 30,
            },
        )
    assert answer.status_code == 201, answer.text
    job = finished_job(server, answer.json()["id"], timeout=45)
    (row,) = job["results"]
    return {**row, "job_id": job["id"]}


def image_of(server: ServerProcess, row: dict[str, Any], token: str | None = None) -> Image.Image:
    with server.api as api:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = api.get(f"/api/v1/jobs/{row['job_id']}/results/{row['agent_id']}/image", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == f"image/{row['data']['image']['format']}"
    return Image.open(io.BytesIO(answer.content))


def lit(display: str) -> bool:
    _, _, rgb = grab_directly(display)
    return any(rgb)


def token_with(server: ServerProcess, *scopes: str) -> str:
    with server.api as api:
        answer = api.post("/api/v1/tokens", json={"name": "narrow", "scopes": list(scopes)})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def test_a_screenshot_job_returns_the_pixels_on_the_display_and_a_region_its_size(
    server: ServerProcess, agents: Callable[..., AgentProcess], test_user: str, display: str
) -> None:
    agent = online_agent(server, agents, helper_user=test_user, helper_display=display)
    with message_window(display, "DISK 93% FULL"):
        wait_for(lambda: lit(display), 10, what="the window on the display")
        width, height, direct = grab_directly(display)
        row = shoot(server, agent.agent_id)
        assert row["status"] == "succeeded", row["error"]
        meta = row["data"]["image"]
        assert (meta["format"], meta["width"], meta["height"]) == ("png", *SCREEN)
        image = image_of(server, row)
        assert image.size == (width, height) == SCREEN
        assert image.convert("RGB").tobytes() == direct  # lossless: exactly the display's pixels

        row = shoot(
            server, agent.agent_id, region={"x": 30, "y": 30, "width": 200, "height": 80}, format="jpeg"
        )
        assert row["status"] == "succeeded", row["error"]
        assert image_of(server, row).size == (200, 80)

        row = shoot(server, agent.agent_id, scale=0.5, format="webp", quality=60)
        assert row["status"] == "succeeded", row["error"]
        assert image_of(server, row).size == (SCREEN[0] // 2, SCREEN[1] // 2)

        # Outside the screen: refused by the agent with the reason; the helper keeps serving.
        row = shoot(server, agent.agent_id, region={"x": 1000, "y": 0, "width": 100, "height": 10})
        assert row["status"] == "failed" and "outside the screen" in row["error"], row
        assert shoot(server, agent.agent_id, monitor=1)["status"] == "succeeded"

        # The image is for operators who may see screens: jobs:read alone is not enough.
        narrow = token_with(server, "jobs:read")
        with server.api as api:
            refused = api.get(
                f"/api/v1/jobs/{row['job_id']}/results/{row['agent_id']}/image",
                headers={"Authorization": f"Bearer {narrow}"},
            )
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")


def test_a_screenshot_without_a_display_fails_at_once_with_the_reason(
    server: ServerProcess, agents: Callable[..., AgentProcess], test_user: str
) -> None:
    agent = online_agent(server, agents, helper_user=test_user)  # a session with no DISPLAY
    row = shoot(server, agent.agent_id)
    assert row["status"] == "failed"
    assert "no display in this session" in row["error"], row
    with server.api as api:
        missing = api.get(f"/api/v1/jobs/{row['job_id']}/results/{row['agent_id']}/image")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("params", "run_as", "field"),
    [
        ({"format": "bmp"}, "user", "params.format"),
        ({"scale": 40}, "user", "params.scale"),
        ({"scale": 0}, "user", "params.scale"),
        ({"region": {"x": -1, "y": 0, "width": 10, "height": 10}}, "user", "params.region.x"),
        ({"region": {"x": 0, "y": 0, "width": 10}}, "user", "params.region"),
        ({"monitor": "all"}, "user", "params.monitor"),
        ({"colour": True}, "user", "params"),
        ({}, "system", "run_as"),
    ],
)
def test_bad_screenshot_params_are_refused_before_anything_is_sent(
    server: ServerProcess, params: dict[str, Any], run_as: str, field: str
) -> None:
    with server.api as api:
        answer = api.post(
            "/api/v1/jobs",
            json={"role": "screenshot", "params": params, "run_as": run_as, "target": {"all": True}},
        )
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in answer.text
        assert api.get("/api/v1/jobs").json()["items"] == []
