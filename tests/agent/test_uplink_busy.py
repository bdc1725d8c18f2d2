"""A busy connection still re-sends what the server has not acknowledged (B8, the agent longevity bench).

The uplink used to wait for "no new message for `resend_after_s`" before it looked for overdue
messages, so an agent that sent something at least that often never re-sent a lost result on that
connection, and its per-connection record of what it had sent (pruned only by that check) grew for
as long as the connection lived.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import orjson

from borealis.agent.link.outbox import Outbox
from borealis.agent.link.uplink import Uplink


async def test_a_lost_result_is_resent_while_other_messages_keep_flowing(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_messages=1000, max_bytes=1 << 22)
    await outbox.open()
    uplink = Uplink(outbox, resend_after_s=0.3)
    frames: list[dict[str, object]] = []

    async def send(text: str) -> None:
        frames.append(orjson.loads(text))

    serving = asyncio.create_task(uplink.serve(send))
    try:
        await asyncio.sleep(0.05)
        lost = {"t": "job.result", "msg_id": "lost", "job_id": "j0", "status": "succeeded"}
        await outbox.put(lost)
        uplink.send_reliable(lost)
        for i in range(20):  # a message every 0.1 s, each acknowledged at once: never 0.3 s of quiet
            await asyncio.sleep(0.1)
            message = {"t": "job.accepted", "msg_id": f"m{i}", "job_id": f"j{i + 1}"}
            await outbox.put(message)
            uplink.send_reliable(message)
            await asyncio.sleep(0.01)
            await uplink.acked(f"m{i}")
        copies = [f for f in frames if f["msg_id"] == "lost"]
        assert len(copies) >= 3, f"the unacknowledged result went out {len(copies)} time(s) in 2.2 s"
        assert all(sum(1 for f in frames if f["msg_id"] == f"m{i}") == 1 for i in range(20)), (
            "an acknowledged message was sent again"
        )
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await outbox.close()
