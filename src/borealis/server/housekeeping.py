"""The server's background loops: the presence sweeper, the batched `last_seen` writer, job expiry,
inventory history retention.

Each loop logs and survives its own errors; `stop()` cancels them and writes what is pending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import cast

from sqlalchemy import Table, bindparam, update

from borealis.core.logs import kv
from borealis.protocol.messages import CloseCode
from borealis.server.db.models import Agent
from borealis.server.state import ServerState

log = logging.getLogger("borealis.server.housekeeping")


async def sweep_once(state: ServerState) -> int:
    """Close the sockets of agents whose heartbeat window has passed; returns how many."""
    stale = state.presence.stale()
    for agent_id, close in stale:
        if close is not None:
            log.info("heartbeat overdue, closing", extra=kv(agent_id=agent_id))
            await close(CloseCode.GOING_AWAY, "heartbeat overdue")
    return len(stale)


async def flush_last_seen(state: ServerState) -> int:
    """Write every `last_seen` that changed since the last flush, in one statement batch."""
    batch = state.presence.take_dirty()
    if not batch:
        return 0
    # A plain executemany: an agent deleted meanwhile matches no row and is skipped. (The ORM's bulk
    # update by primary key would raise instead, and the retry below would then fail forever.)
    agents = cast(Table, Agent.__table__)
    statement = update(agents).where(agents.c.id == bindparam("agent_id")).values(last_seen=bindparam("seen"))
    try:
        async with state.db.transaction() as session:
            await session.execute(
                statement, [{"agent_id": agent_id, "seen": seen} for agent_id, seen in batch.items()]
            )
    except Exception:
        state.presence.dirty.update(batch)  # try again next round
        raise
    return len(batch)


async def prune_inventory(state: ServerState) -> int:
    """Inventory changes past their retention (age, then count per agent) are deleted."""
    return await state.inventory.prune()


async def expire_jobs(state: ServerState) -> int:
    """Job rows that waited past their job's expiry become `expired`."""
    return await state.jobs.expire_due()


async def prune_screenshots(state: ServerState) -> int:
    """Screenshot images past their retention are deleted."""
    return await state.screenshots.prune()


class Housekeeping:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        settings = self.state.settings
        self.tasks = [
            asyncio.create_task(self._every(settings.sweep_every_s, sweep_once, "sweep")),
            asyncio.create_task(self._every(settings.last_seen_flush_s, flush_last_seen, "last_seen")),
            asyncio.create_task(self._every(settings.job_sweep_s, expire_jobs, "job_expiry")),
            asyncio.create_task(self._every(settings.inventory_prune_s, prune_inventory, "inventory_prune")),
            asyncio.create_task(
                self._every(settings.inventory_prune_s, prune_screenshots, "screenshot_prune")
            ),
        ]

    async def _every(self, period_s: float, work: Callable[[ServerState], Awaitable[int]], name: str) -> None:
        failing = False
        while True:
            await asyncio.sleep(period_s)
            try:
                await work(self.state)
                if failing:
                    log.info("loop recovered", extra=kv(loop=name))
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not failing:  # log a failure once, when the state changes
                    log.exception("loop failed", extra=kv(loop=name))
                failing = True

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        try:
            await flush_last_seen(self.state)
        except Exception:
            log.exception("final last_seen flush failed")
