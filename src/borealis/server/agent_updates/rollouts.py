"""Throttled rollouts of an agent version: at most `batch_size` agents updating at once.

A loop (every `TICK_S`, and at once when something changed) times out rows in flight for too long,
then for each unfinished rollout offers the version to as many reachable pending agents as there are
free slots. Agents fetch the wheel chunk by chunk (`update.fetch`, answered from the blob by the
process that holds the socket) and report `update.status` (stored, then acked). An agent that says
hello with the rollout's version after an offer is `connected`: that, not the agent's word, is
success. Rows are claimed by conditional updates, so several server processes share the work; each
may briefly exceed `batch_size` by the claims of the others in the same second (docs/updates.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from borealis.core.clock import utcnow
from borealis.core.errors import ProtocolError
from borealis.core.logs import kv
from borealis.core.settings import ServerSettings
from borealis.protocol.agent_updates import CHUNK_BYTES, UpdateState
from borealis.protocol.messages import MessageType
from borealis.server import audit
from borealis.server.agent_keys import AgentKeys
from borealis.server.agent_updates import store, wheels
from borealis.server.agent_updates.frames import chunk_frame, offer_frame, parse_fetch, parse_status
from borealis.server.db.database import Database
from borealis.server.db.models import AgentRollout
from borealis.server.jobs.delivery import SEND_ERRORS, Delivery
from borealis.server.jobs.frames import ack_frame
from borealis.server.jobs.targets import resolve_target
from borealis.server.presence import Sender

log = logging.getLogger("borealis.server.agent_updates")
TICK_S = 1.0
IDLE_TICK_S = 5.0  # no unfinished rollout: look less often (a rollout started here nudges at once)
UPDATE_TIMEOUT_S = 1800.0  # no word from an agent in flight for this long: timed_out
UPDATE_MESSAGES = frozenset({MessageType.UPDATE_FETCH, MessageType.UPDATE_STATUS})


class Rollouts:
    def __init__(
        self,
        settings: ServerSettings,
        db: Database,
        delivery: Delivery,
        agent_keys: AgentKeys,
        *,
        tick_s: float = TICK_S,
        timeout_s: float = UPDATE_TIMEOUT_S,
    ) -> None:
        self.home = settings.home
        self.db = db
        self.delivery = delivery
        self.agent_keys = agent_keys
        self.tick_s = tick_s
        self.timeout_s = timeout_s
        self.watched: set[str] = set()  # agents with unfinished rows, as of the last round
        self.bad_frames = 0
        self.busy = False  # an unfinished rollout was seen in the last round
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="rollouts")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the API side ---------------------------------------------------------------------------------

    async def start_rollout(
        self, version: str, target: dict[str, Any], batch_size: int, actor: str, ip: str | None
    ) -> AgentRollout:
        """Start the rollout of `version` to `target`, or extend it: new agents join, agents whose
        attempt ended badly are retried, and `batch_size` is the new throttle."""
        now = utcnow()
        async with self.db.transaction() as session:
            await store.get_version(session, version)
            resolved = await resolve_target(
                session, target.get("agents"), target.get("tags"), bool(target.get("all"))
            )
            rollout = await session.get(AgentRollout, version)
            if rollout is None:
                rollout = AgentRollout(
                    version=version,
                    target=target,
                    batch_size=batch_size,
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                )
                session.add(rollout)
                await session.flush()
            else:
                rollout.target, rollout.batch_size, rollout.updated_at = target, batch_size, now
            added, retried = await store.add_agents(session, version, resolved.agent_ids, now)
            audit.record(
                session,
                actor,
                "agent_version.rollout",
                version,
                ip,
                batch_size=batch_size,
                added=added,
                retried=retried,
            )
        self.nudge()
        return rollout

    async def cancel(self, version: str, actor: str, ip: str | None) -> AgentRollout:
        """Agents still waiting for their turn are not offered the version; those in flight finish."""
        async with self.db.transaction() as session:
            rollout = await store.get_rollout(session, version)
            cancelled = await store.cancel_pending(
                session, version, utcnow(), f"rollout cancelled by {actor}"
            )
            audit.record(session, actor, "agent_version.rollout_cancel", version, ip, cancelled=cancelled)
        return rollout

    # -- the loop -------------------------------------------------------------------------------------

    def nudge(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_s if self.busy else IDLE_TICK_S)
            self._wake.clear()
            try:
                await self.advance()
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not failing:  # log a failure once, when the state changes
                    log.exception("rollout round failed")
                failing = True

    async def advance(self) -> None:
        """One round: confirm arrivals that were missed, time out stale rows, then fill every
        rollout's free slots with offers."""
        now = utcnow()
        async with self.db.session() as session:  # read first: an idle server writes nothing
            rollouts = await store.unfinished_rollouts(session)
            self.watched = await store.watched_agents(session) if rollouts else set()
            stale = await store.stale(session, now - timedelta(seconds=self.timeout_s)) if rollouts else []
            arrived = await store.arrived(session) if rollouts else []
        self.busy = bool(rollouts)
        if stale or arrived:
            async with self.db.transaction() as session:
                for version, agent_id in arrived:
                    if await store.move(
                        session, version, agent_id, UpdateState.CONNECTED, store.IN_FLIGHT, now
                    ):
                        log.info("agent updated", extra=kv(agent_id=agent_id, version=version))
                reason = f"no word from the agent for {self.timeout_s:g} s"
                for version, agent_id in stale:
                    if await store.move(
                        session, version, agent_id, UpdateState.TIMED_OUT, store.IN_FLIGHT, now, reason
                    ):
                        log.warning("agent update timed out", extra=kv(agent_id=agent_id, version=version))
        for rollout in rollouts:
            await self._offer_batch(rollout)

    async def _offer_batch(self, rollout: AgentRollout) -> None:
        version = rollout.version
        now = utcnow()
        offered: list[str] = []
        async with self.db.transaction() as session:
            free = rollout.batch_size - await store.count_in_flight(session, version)
            if free <= 0:
                return
            row = await store.get_version(session, version)
            frame = offer_frame(row)
            for agent_id, running in await store.pending_agents(session, version):
                if running == version:  # it got there by other means (a manual install, say)
                    await store.move(
                        session,
                        version,
                        agent_id,
                        UpdateState.CONNECTED,
                        [UpdateState.PENDING.value],
                        now,
                        "the agent already runs this version",
                        from_version=running,
                    )
                    continue
                if not self.delivery.reachable(agent_id):
                    continue
                if await store.move(
                    session,
                    version,
                    agent_id,
                    UpdateState.OFFERED,
                    [UpdateState.PENDING.value],
                    now,
                    from_version=running,
                    offered_at=now,
                ):
                    offered.append(agent_id)
                if len(offered) >= free:
                    break
        unsent = [agent_id for agent_id in offered if not await self.delivery.send(agent_id, frame)]
        if unsent:  # the socket went away meanwhile: the row waits for the next connection
            async with self.db.transaction() as session:
                for agent_id in unsent:
                    await store.move(
                        session, version, agent_id, UpdateState.PENDING, [UpdateState.OFFERED.value], utcnow()
                    )
        if offered:
            log.info("agent version offered", extra=kv(version=version, agents=len(offered) - len(unsent)))

    # -- what agents do -------------------------------------------------------------------------------

    def agent_connected(self, agent_id: str) -> None:
        """Called by the gateway after `welcome`. Cheap for agents outside every rollout."""
        if agent_id in self.watched:
            self._spawn(self._connected(agent_id))

    async def _connected(self, agent_id: str) -> None:
        trust = await self.agent_keys.lookup(agent_id)
        now = utcnow()
        async with self.db.transaction() as session:
            for row in await store.in_flight_for(session, agent_id):
                if trust is not None and trust.version == row.version:
                    await store.move(
                        session, row.version, agent_id, UpdateState.CONNECTED, store.IN_FLIGHT, now
                    )
                    log.info("agent updated", extra=kv(agent_id=agent_id, version=row.version))
        self.nudge()  # a slot may be free, and a pending row of this agent can go out now

    async def on_frame(self, agent_id: str, frame: dict[str, Any], reply: Sender) -> None:
        """`update.fetch` or `update.status` from the gateway's receive loop; a bad one is dropped."""
        kind = frame.get("t")
        try:
            if kind == MessageType.UPDATE_FETCH:
                await self._fetch(agent_id, frame, reply)
            elif kind == MessageType.UPDATE_STATUS:
                await self._status(agent_id, frame, reply)
        except ProtocolError as bad:
            self.bad_frames += 1
            log.warning("bad update frame ignored", extra=kv(agent_id=agent_id, reason=bad.detail))
        except SEND_ERRORS:
            pass  # the socket closed under the answer: the agent asks again, or re-sends its report
        except Exception:  # the database, say: no answer, so the agent asks again later
            log.exception("update frame failed", extra=kv(agent_id=agent_id, t=str(kind)[:32]))

    async def _fetch(self, agent_id: str, frame: dict[str, Any], reply: Sender) -> None:
        fetch = parse_fetch(frame)
        async with self.db.session() as session:
            row = await store.get_version(session, fetch.version)
            offered = {r.version for r in await store.in_flight_for(session, agent_id)}
        if fetch.version not in offered:
            raise ProtocolError(f"agent version {fetch.version} was not offered to this agent")
        if fetch.offset >= row.size:
            raise ProtocolError(f"offset {fetch.offset} is past the end of the wheel")
        path = wheels.blob_path(self.home, row.sha256)
        data = await asyncio.to_thread(wheels.read_chunk, path, fetch.offset, CHUNK_BYTES)
        await reply(chunk_frame(fetch.version, fetch.offset, data))

    async def _status(self, agent_id: str, frame: dict[str, Any], reply: Sender) -> None:
        status = parse_status(frame)
        async with self.db.transaction() as session:
            moved = await store.move(
                session,
                status.version,
                agent_id,
                status.state,
                store.leaving_for(status.state),
                utcnow(),
                status.reason,
            )
        log.log(
            logging.WARNING
            if status.state in (UpdateState.FAILED, UpdateState.ROLLED_BACK)
            else logging.INFO,
            "agent update report",
            extra=kv(
                agent_id=agent_id,
                version=status.version,
                state=status.state.value,
                reason=status.reason,
                applied=moved,
            ),
        )
        await reply(ack_frame(status.msg_id))  # after the commit; a report that changed nothing is acked too
        if moved and status.state.final:
            self.nudge()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _logged(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("rollout task failed")
