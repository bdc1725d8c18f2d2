"""The inventory service: receives `inventory` frames (stored in batches, acked after the commit),
refreshes an agent's inventory on demand through a job of the `inventory` role, and prunes history."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from borealis.core.clock import monotonic, utcnow
from borealis.core.errors import Conflict, ProtocolError, TransientError
from borealis.core.logs import kv
from borealis.core.settings import ServerSettings
from borealis.protocol.frames import InventoryFrame
from borealis.protocol.jobs import RunAs
from borealis.protocol.json_bounds import JsonOverLimits
from borealis.server.agents import get_agent
from borealis.server.db.database import Database
from borealis.server.inventory import history
from borealis.server.inventory.batches import Batches
from borealis.server.inventory.inbound import Upload, parse_upload
from borealis.server.inventory.store import Written, write_batch
from borealis.server.jobs import store as job_store
from borealis.server.jobs.delivery import SEND_ERRORS
from borealis.server.jobs.frames import ack_frame
from borealis.server.jobs.service import JobService
from borealis.server.jobs.spec import JobSpec
from borealis.server.presence import Sender

log = logging.getLogger("borealis.server.inventory")
ROLE = "inventory"
REFRESH_TIMEOUT_S = 600.0  # the role's own budget: software and updates can take minutes
REFRESH_EXPIRES_S = 3600.0  # an offline agent runs the refresh when it connects within this
POLL_S = 1.0  # re-read the job's row at least this often while waiting (events may be lost)


@dataclass(frozen=True)
class Refresh:
    job_id: str
    status: str | None  # the row's final state, or None when it was not final in time


class InventoryService:
    def __init__(self, settings: ServerSettings, db: Database, jobs: JobService) -> None:
        self.settings = settings
        self.db = db
        self.jobs = jobs
        self.batches = Batches(self._write)
        # One thread: inflating and parsing run off the event loop, one frame at a time, so however
        # many agents upload at once, only one frame's parsed data is in memory.
        self.parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inventory-parse")
        self.frames = 0
        self.bad_frames = 0
        self.totals = Written()
        # The server itself asks for this role (refresh), so it is known before any agent reports it.
        jobs.note_reported_roles([ROLE])

    def start(self) -> None:
        self.batches.start()

    async def stop(self) -> None:
        await self.batches.stop()
        self.parser.shutdown(wait=False, cancel_futures=True)

    async def _write(self, uploads: list[tuple[str, Upload]]) -> None:
        async with self.db.transaction() as session:
            written = await write_batch(session, uploads, utcnow())
        for name in ("sections", "unchanged", "stale", "changes"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(written, name))

    async def on_frame(self, agent_id: str, frame: dict[str, Any], reply: Sender) -> None:
        """An `inventory` frame from the gateway's receive loop, awaited in order: it is stored (or
        found unchanged) and acked before the agent's next frame is read. A bad frame is logged and
        dropped; a frame that could not be stored is not acked, so the agent sends it again. A frame
        past the protocol's limits raises `JsonOverLimits`, and the gateway disconnects the agent."""
        try:
            upload = await asyncio.get_running_loop().run_in_executor(
                self.parser, parse_upload, cast(InventoryFrame, frame)
            )
        except JsonOverLimits as hostile:
            self.bad_frames += 1
            log.warning("inventory frame over the limits", extra=kv(agent_id=agent_id, reason=hostile.detail))
            raise
        except ProtocolError as bad:
            self.bad_frames += 1
            log.warning("bad inventory frame ignored", extra=kv(agent_id=agent_id, reason=bad.detail))
            return
        try:
            await self.batches.store(agent_id, upload)
        except TransientError as later:
            log.info("inventory frame not stored", extra=kv(agent_id=agent_id, reason=later.detail))
            return
        except Exception:
            log.exception("inventory frame not stored", extra=kv(agent_id=agent_id))
            return
        self.frames += 1
        # The socket may close under the ack: the re-send will then find every section unchanged.
        with contextlib.suppress(*SEND_ERRORS):
            await reply(ack_frame(upload.msg_id))

    async def refresh(
        self, agent_id: str, sections: list[str] | None, wait_s: float, actor: str, ip: str | None
    ) -> Refresh:
        """Ask the agent for a forced collection and wait up to `wait_s` for its job row to be final."""
        async with self.db.session() as session:
            agent = await get_agent(session, agent_id)
        if agent.state != "active":
            raise Conflict(f"agent {agent_id} is {agent.state}; only an active agent can be refreshed")
        params: dict[str, Any] = {"force": True}
        if sections:
            params["sections"] = sections
        spec = JobSpec(
            role=ROLE,
            params=params,
            run_as=RunAs.SYSTEM,
            timeout_s=REFRESH_TIMEOUT_S,
            expires_in_s=REFRESH_EXPIRES_S,
        )
        job = await self.jobs.submit(spec, {"agents": [agent_id]}, actor, ip)
        job_id = str(job["id"])
        listener = self.jobs.events.listen(job_id)  # before any await: no state event is missed
        try:
            return Refresh(job_id, await self._final_state(job_id, agent_id, listener.queue, wait_s))
        finally:
            self.jobs.events.unlisten(listener)

    async def _final_state(
        self, job_id: str, agent_id: str, events: asyncio.Queue[dict[str, Any]], wait_s: float
    ) -> str | None:
        deadline = monotonic() + wait_s
        while True:
            async with self.db.session() as session:
                status = (await job_store.row_states(session, job_id)).get(agent_id)
            if status is not None and job_store.is_final(status):
                return status
            left = deadline - monotonic()
            if left <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(events.get(), min(left, POLL_S))

    async def prune(self) -> int:
        """Housekeeping: drop changes past the retention age, and each agent's beyond its count."""
        cutoff = utcnow() - timedelta(days=self.settings.inventory_history_days)
        async with self.db.transaction() as session:
            return await history.prune(session, cutoff, self.settings.inventory_history_per_agent)
