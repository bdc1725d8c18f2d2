"""A run's event stream opened after the run started still sends the node states it missed (the
canvas opens the stream once the run exists), before the events that follow."""

from __future__ import annotations

import asyncio
import json

from tests.conftest import App
from tests.server.test_workflows import create, edge, node, start, wf  # noqa: F401

SLOW = {
    "nodes": [
        node("start", "trigger.manual"),
        node("first", "data.set", {"values": {"a": 1}}),
        node("wait", "logic.delay", {"seconds": 1.5}),
    ],
    "edges": [edge("start", "first"), edge("first", "wait")],
}


async def test_a_late_stream_gets_the_node_events_it_missed(wf: App) -> None:  # noqa: F811
    workflow = await create(wf, SLOW)
    run_id = await start(wf, workflow["id"], {})
    await asyncio.sleep(0.7)  # start and first are done; wait is sleeping
    seen: list[tuple[str, str | None, str | None]] = []
    kind = ""
    async with wf.client.stream("GET", f"/api/v1/runs/{run_id}/events", headers=wf.auth()) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                seen.append((kind, data.get("node_id"), data.get("status")))
                if kind == "end":
                    break
    assert seen[0][0] == "snapshot" and seen[0][2] == "running"
    assert seen[1:3] == [("node", "start", "succeeded"), ("node", "first", "succeeded")]
    assert ("node", "wait", "succeeded") in seen[3:] and seen[-1] == ("end", None, "succeeded")
