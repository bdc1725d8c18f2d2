"""A result the server never acknowledged is sent again on the same connection, until it is."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import orjson

from borealis.agent.link.outbox import Outbox
from borealis.agent.link.uplink import Uplink


async def test_an_unacknowledged_message_is_resent_on_a_live_connection(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_messages=100, max_bytes=1 << 20)
    await outbox.open()
    uplink = Uplink(outbox, resend_after_s=0.2)
    frames: list[dict[str, object]] = []

    async def send(text: str) -> None:
        frames.append(orjson.loads(text))

    serving = asyncio.create_task(uplink.serve(send))
    try:
        await asyncio.sleep(0.05)
        result = {"t": "job.result", "msg_id": "m1", "job_id": "j1", "status": "succeeded"}
        await outbox.put(result)
        uplink.send_reliable(result)
        await asyncio.sleep(0.6)
        copies = [f for f in frames if f["msg_id"] == "m1"]
        assert len(copies) >= 2, "the unacknowledged result was not sent again"

        await uplink.acked("m1")
        settled = len(frames)
        await asyncio.sleep(0.5)
        assert len(frames) == settled, "an acknowledged result was sent again"
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await outbox.close()
