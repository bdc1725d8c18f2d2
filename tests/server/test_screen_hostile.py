"""A compromised agent's screen frames against a real server: images for jobs it does not hold, or
that do not match what they announce, and live-view frames nobody asked for are dropped (and acked or
answered with `screen.stop`); the connection and the server carry on."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from borealis.core.ids import new_id
from tests.conftest import ServerProcess, running_server
from tests.server.fleet import Session, enrolled_agent, open_session

pytestmark = pytest.mark.slow


@pytest.fixture
def screen_server(tmp_path: Path, db_url: str) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "server-home", db_url) as process:
        yield process


@pytest.fixture
async def api(screen_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {screen_server.token}"}
    async with httpx.AsyncClient(base_url=screen_server.url, headers=headers, timeout=30) as client:
        yield client
    log = screen_server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "level=error" not in log, log[-3000:]


def png(width: int = 20, height: int = 10) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def blob_frame(job_id: str, data: bytes, *, sha256: str | None = None) -> dict[str, object]:
    return {
        "t": "job.blob",
        "msg_id": new_id(),
        "job_id": job_id,
        "seq": 0,
        "total": 1,
        "size": len(data),
        "sha256": sha256 or hashlib.sha256(data).hexdigest(),
        "chunk": base64.b64encode(data).decode(),
    }


async def screenshot_job(api: httpx.AsyncClient, agent_id: str) -> str:
    answer = await api.post(
        "/api/v1/jobs",
        json={"role": "screenshot", "params": {}, "run_as": "user", "target": {"agents": [agent_id]}},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_images_and_frames_nobody_asked_for_are_dropped(
    screen_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    honest = await enrolled_agent(api, {}, hostname="honest")
    other = await enrolled_agent(api, {}, hostname="other")
    honest_session: Session = await open_session(screen_server.url, honest)
    other_session: Session = await open_session(screen_server.url, other)
    job_id = await screenshot_job(api, honest.agent_id)
    sent = await honest_session.receive("job")
    assert sent["role"] == "screenshot" and sent["params"]["format"] == "png"

    # Another agent sends an image for the honest agent's job: acked, never stored.
    refused = blob_frame(job_id, png())
    await other_session.send(refused)
    assert (await other_session.receive("ack"))["msg_id"] == refused["msg_id"]
    blobs = screen_server.home / "Server" / "blobs" / "screenshots" / job_id
    assert not (blobs / f"{other.agent_id}.png").exists()

    # The right agent, but the bytes do not match the announced digest: refused too.
    bad = blob_frame(job_id, png(), sha256="0" * 64)
    await honest_session.send(bad)
    await honest_session.receive("ack")
    assert not (blobs / f"{honest.agent_id}.png").exists()

    # A live-view frame for a session that does not exist: answered with screen.stop.
    stream_id = new_id()
    await other_session.send({"t": "screen.frame", "stream_id": stream_id, "seq": 1, "data": ""})
    assert (await other_session.receive("screen.stop"))["stream_id"] == stream_id

    # Nothing else was disturbed: the honest agent's real image is stored and served.
    good = png(33, 17)
    await honest_session.send(blob_frame(job_id, good))
    await honest_session.receive("ack")
    await honest_session.result(
        job_id,
        "succeeded",
        data={
            "image": {
                "format": "png",
                "width": 33,
                "height": 17,
                "bytes": len(good),
                "sha256": hashlib.sha256(good).hexdigest(),
            }
        },
    )
    await honest_session.receive("ack")  # the result is stored
    image = await api.get(f"/api/v1/jobs/{job_id}/results/{honest.agent_id}/image")
    assert image.status_code == 200 and image.content == good
    missing = await api.get(f"/api/v1/jobs/{job_id}/results/{other.agent_id}/image")
    assert missing.status_code == 404
    await honest_session.close()
    await other_session.close()


async def test_a_live_view_needs_a_connected_agent_and_a_known_session(
    screen_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    offline = await enrolled_agent(api, {}, hostname="offline")
    answer = await api.post(f"/api/v1/agents/{offline.agent_id}/screen", json={})
    assert answer.status_code == 409 and answer.headers["content-type"].startswith("application/problem+json")
    assert (await api.post(f"/api/v1/agents/{offline.agent_id}/screen", json={"fps": 500})).status_code in (
        400,
        422,
    )
    assert (await api.get(f"/api/v1/screen/{new_id()}")).status_code == 404
    assert (await api.get("/api/v1/screen/not-an-id")).status_code in (400, 422)
