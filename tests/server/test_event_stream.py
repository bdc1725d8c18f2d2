"""The latest output kept per job for listeners that come late: bounded in characters and in jobs."""

from __future__ import annotations

from borealis.server import events
from borealis.server.bus.memory_impl import MemoryBus
from borealis.server.events import EventStream
from borealis.server.jobs.events import KEY, SUBJECT


def output(job: str, chunk: str, seq: int = 0) -> dict[str, object]:
    return {"type": "output", "job_id": job, "agent_id": "a", "stream": "stdout", "chunk": chunk, "seq": seq}


async def test_latest_output_is_kept_in_order_and_bounded_per_job() -> None:
    hub = EventStream(MemoryBus(), SUBJECT, KEY)
    big = "x" * (events.RECENT_CHARS // 2)
    for seq in range(4):
        await hub._deliver(output("j1", big, seq))
    await hub._deliver({"type": "state", "job_id": "j1", "agent_ids": ["a"], "status": "running"})
    kept = hub.recent_output("j1")
    assert [e["seq"] for e in kept] == [2, 3]  # the newest that fit; state events are not kept
    assert hub.recent_output("other") == []


async def test_only_the_most_recent_jobs_are_kept() -> None:
    hub = EventStream(MemoryBus(), SUBJECT, KEY)
    for n in range(events.RECENT_TOPICS + 5):
        await hub._deliver(output(f"j{n}", "line\n"))
    assert hub.recent_output("j0") == []
    assert len(hub.recent) == events.RECENT_TOPICS
    assert hub.recent_output(f"j{events.RECENT_TOPICS + 4}")[0]["chunk"] == "line\n"
