"""The batch writer on its own, with a writer double at its seam: uploads from many agents go into one
write, each waits for that write to finish, and none is reported stored when the server stops first."""

from __future__ import annotations

import asyncio

import pytest

from borealis.core.errors import TransientError
from borealis.server.inventory.batches import Batches
from borealis.server.inventory.inbound import Upload
from tests.support import eventually


class Writer:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()

    async def __call__(self, uploads: list[tuple[str, Upload]]) -> None:
        self.calls.append([agent_id for agent_id, _ in uploads])
        await self.release.wait()

    async def called(self) -> bool:
        return bool(self.calls)


def upload(n: int) -> Upload:
    return Upload(msg_id=f"m-{n}", sections=[], skipped=0)


async def test_uploads_arriving_together_are_one_write_and_wait_for_it() -> None:
    writer = Writer()
    batches = Batches(writer, window_s=0.05)
    batches.start()
    stores = [asyncio.create_task(batches.store(f"agent-{n}", upload(n))) for n in range(5)]
    await eventually(writer.called, 5, "the write")
    assert writer.calls == [[f"agent-{n}" for n in range(5)]]
    assert not any(task.done() for task in stores)  # not stored until the write returns
    writer.release.set()
    await asyncio.gather(*stores)
    await batches.stop()


async def test_a_batch_is_never_larger_than_its_bound() -> None:
    writer = Writer()
    writer.release.set()
    batches = Batches(writer, window_s=0.05, max_batch=3)
    batches.start()
    await asyncio.gather(*(batches.store(f"agent-{n}", upload(n)) for n in range(7)))
    assert [len(call) for call in writer.calls] == [3, 3, 1]
    await batches.stop()


async def test_uploads_in_flight_when_the_server_stops_are_not_reported_stored() -> None:
    writer = Writer()
    batches = Batches(writer, window_s=0.01)
    batches.start()
    in_flight = asyncio.create_task(batches.store("agent-1", upload(1)))
    await eventually(writer.called, 5, "the write")
    assert writer.calls == [["agent-1"]]
    await batches.stop()
    with pytest.raises(TransientError):
        await in_flight
