"""The node events of runs still going, kept per run (bounded), so a run's event stream opened after
the run started (the canvas opens it once the run exists) still sends the node states it missed."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from weakref import WeakKeyDictionary

from borealis.engine.states import FINAL_RUN_STATES
from borealis.server.bus import Bus
from borealis.server.workflows.events import EVENT_SUBJECT

RUNS = 256  # runs whose node events are kept, the least recently written dropped first
PER_RUN = 2000


class RunReplay:
    def __init__(self) -> None:
        self._runs: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    async def start(self, bus: Bus) -> None:
        await bus.subscribe(EVENT_SUBJECT, self._keep)
        _replays[bus] = self

    async def _keep(self, event: dict[str, Any]) -> None:
        run_id = str(event.get("run_id"))
        if event.get("type") == "run" and event.get("status") in FINAL_RUN_STATES:
            self._runs.pop(run_id, None)  # the stored records say it all from now on
            return
        if event.get("type") != "node":
            return
        kept = self._runs.get(run_id)
        if kept is None:
            kept = self._runs[run_id] = []
            while len(self._runs) > RUNS:
                self._runs.popitem(last=False)
        else:
            self._runs.move_to_end(run_id)
        if len(kept) < PER_RUN:
            kept.append(event)

    def node_events(self, run_id: str) -> list[dict[str, Any]]:
        """Taken right after listening (no await between), later events reach the listener instead."""
        return list(self._runs.get(run_id, ()))


_replays: WeakKeyDictionary[Bus, RunReplay] = WeakKeyDictionary()


def replay_of(bus: Bus) -> RunReplay | None:
    return _replays.get(bus)
