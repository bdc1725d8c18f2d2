"""The job service: submit and cancel (from the API), dispatch in rolling batches, deliver what waits
for an agent when it connects, receive what agents report, and expire what waited too long.

Every state change is a guarded row update (see `store` and `reports`); every change that happened is
published as an event for live listeners. What agents report is stored in batches by one writer
(`report_writer`) and acked after its commit. Fan-out loops yield to the event loop every
`YIELD_EVERY` sends.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Coroutine, Iterable
from datetime import timedelta
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borealis.core.clock import utcnow
from borealis.core.errors import ProtocolError
from borealis.core.ids import new_id
from borealis.core.logs import kv
from borealis.core.settings import ServerSettings
from borealis.protocol.frames import JobAcceptedFrame, JobOutputFrame, JobResultFrame
from borealis.protocol.jobs import JobState
from borealis.protocol.messages import MessageType
from borealis.server import audit
from borealis.server.bus import Bus
from borealis.server.db.database import Database
from borealis.server.db.models import Job
from borealis.server.events import EventStream
from borealis.server.jobs import store
from borealis.server.jobs.delivery import SEND_ERRORS, Delivery
from borealis.server.jobs.events import KEY as EVENT_KEY
from borealis.server.jobs.events import SUBJECT as EVENT_SUBJECT
from borealis.server.jobs.frames import ack_frame, cancel_frame, job_frame
from borealis.server.jobs.holders import Holders
from borealis.server.jobs.inbound import is_replay_refusal, parse_accepted, parse_output, parse_result
from borealis.server.jobs.report_writer import ReportWriter
from borealis.server.jobs.reports import Change, Report
from borealis.server.jobs.roles import KnownRoles
from borealis.server.jobs.spec import JobSpec, check_cosign, resolve_params
from borealis.server.jobs.targets import resolve_target
from borealis.server.jobs.views import job_view
from borealis.server.presence import Presence, Sender

log = logging.getLogger("borealis.server.jobs")
YIELD_EVERY = 200
JOB_MESSAGES = frozenset({MessageType.JOB_ACCEPTED, MessageType.JOB_OUTPUT, MessageType.JOB_RESULT})


class JobService:
    def __init__(
        self, settings: ServerSettings, db: Database, key: Ed25519PrivateKey, presence: Presence, bus: Bus
    ) -> None:
        self.settings = settings
        self.db = db
        self.key = key
        self.presence = presence
        self.roles = KnownRoles()
        self.events = EventStream(bus, EVENT_SUBJECT, EVENT_KEY)
        self.delivery = Delivery(presence, bus)
        self.reports = ReportWriter(db, self._stored)
        self.tasks: set[asyncio.Task[None]] = set()
        self.bad_frames = 0
        self.holders = Holders(db)
        self.foreign_output = 0

    def note_reported_roles(self, names: Iterable[object]) -> None:
        """The roles an agent's heartbeat reports (its `roles_health` keys) become roles a job may name."""
        self.roles.note(names)

    async def start(self) -> None:
        await self.delivery.start()
        await self.events.start()
        self.reports.start()

    async def stop(self) -> None:
        await self.reports.stop()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def run_until_idle(self) -> None:
        """For tests: wait until no dispatch or delivery is in flight."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(self._logged(work, what))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _logged(self, work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job task failed", extra=kv(task=what))

    # -- the API side ---------------------------------------------------------------------------------

    async def submit(
        self, spec: JobSpec, target: dict[str, Any], actor: str, ip: str | None
    ) -> dict[str, Any]:
        now = utcnow()
        job_id = new_id()
        async with self.db.transaction() as session:
            spec = await resolve_params(session, spec, self.roles, self.settings.max_script_bytes)
            expires_at = now + timedelta(seconds=spec.expires_in_s)
            key_id: str | None = None
            if spec.cosign is not None:
                key_id, expires_at = check_cosign(spec, target, now, expires_at)
            resolved = await resolve_target(
                session, target.get("agents"), target.get("tags"), bool(target.get("all"))
            )
            agents = resolved.agent_ids
            batch_size = spec.batch_size or (
                math.ceil(len(agents) * spec.batch_percent / 100) if spec.batch_percent else 0
            )
            job = Job(
                id=job_id,
                role=spec.role,
                params=spec.params,
                run_as=spec.run_as.value,
                target=target,
                timeout_s=float(spec.timeout_s),
                expires_at=expires_at,
                created_by=actor,
                created_at=now,
                agent_count=len(agents),
                batch_size=batch_size if 0 < batch_size < len(agents) else 0,
                current_batch=0,
                stop_on_failure=spec.stop_on_failure,
                cancelled_at=None,
                script_id=spec.script_id,
                script_version=spec.script_version,
                cosign=spec.cosign,
            )
            session.add(job)
            await session.flush()
            await store.add_rows(session, job_id, agents, job.batch_size)
            audit.record(
                session,
                actor,
                "job.submit",
                job_id,
                ip,
                role=spec.role,
                agents=len(agents),
                run_as=spec.run_as.value,
                script_id=spec.script_id,
                script_version=spec.script_version,
                operator_key=key_id,
            )
        first = agents[: job.batch_size] if job.batch_size else agents
        self.spawn(self._send_new(job, first), "dispatch")
        return {**job_view(job, Counter({JobState.QUEUED.value: len(agents)})), "skipped": resolved.skipped}

    async def cancel(self, job_id: str, actor: str, ip: str | None) -> dict[str, Any]:
        now = utcnow()
        async with self.db.transaction() as session:
            job = await store.get_job(session, job_id)
            if job.cancelled_at is None:
                job.cancelled_at = now
            started = await store.agents_in(session, job_id, (JobState.SENT.value, JobState.RUNNING.value))
            cancelled = await store.end_rows(
                session, job_id, store.UNSTARTED, JobState.CANCELLED, now, "cancelled before it ran"
            )
            audit.record(
                session, actor, "job.cancel", job_id, ip, cancelled=len(cancelled), told=len(started)
            )
            counts = (await store.counts(session, [job_id]))[job_id]
        await self._states(job_id, cancelled, JobState.CANCELLED.value)
        frame = cancel_frame(job_id)
        for index, agent_id in enumerate(started):
            await self.delivery.send(agent_id, frame)
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
        return job_view(job, counts)

    # -- delivery ---------------------------------------------------------------------------------------

    async def dispatch(self, job_id: str) -> None:
        """Send the job's current batch to every reachable agent still queued in it; move to the next
        batch first when the current one is all final."""
        while True:
            async with self.db.transaction() as session:
                job = await store.get_job(session, job_id)
                if job.cancelled_at is not None or job.expires_at <= utcnow():
                    return
                if (
                    job.batch_size
                    and job.current_batch < await store.last_batch(session, job_id)
                    and await store.batch_done(session, job_id, job.current_batch)
                ):
                    await store.advance_batch(session, job_id, job.current_batch)
                    continue
                waiting = await store.queued_in_batch(session, job_id, job.current_batch)
                reachable = [agent_id for agent_id in waiting if self.delivery.reachable(agent_id)]
                claimed = await store.claim(session, job_id, reachable, utcnow())
            break
        await self._states(job_id, claimed, JobState.SENT.value)
        await self._send(job, claimed)

    async def _send_new(self, job: Job, agent_ids: list[str]) -> None:
        """The first batch of a job just submitted, without reading the job back: the claim takes
        only rows still queued, so a cancel or an expiry that came first leaves nothing to send."""
        reachable = [agent_id for agent_id in agent_ids if self.delivery.reachable(agent_id)]
        if not reachable:
            return
        async with self.db.transaction() as session:
            claimed = await store.claim(session, job.id, reachable, utcnow())
        await self._states(job.id, claimed, JobState.SENT.value)
        await self._send(job, claimed)

    def agent_connected(self, agent_id: str) -> None:
        """Called by the gateway after `welcome`: send what waits for this agent."""
        self.spawn(self._deliver_waiting(agent_id), "deliver")

    async def _deliver_waiting(self, agent_id: str) -> None:
        live = self.presence.live.get(agent_id)
        if live is None:
            return
        # Read first: most connects (a reconnect storm above all) find nothing waiting, and a write
        # transaction per connect would serialize them on SQLite. Claiming is a conditional update,
        # so a row taken meanwhile by another process is simply not claimed here.
        async with self.db.session() as session:
            queued, resend = await store.pending_for(session, agent_id, utcnow(), live.connected_at)
        if not queued and not resend:
            return
        claimed: list[Job] = []
        if queued:
            async with self.db.transaction() as session:
                claimed = [job for job in queued if await store.claim(session, job.id, [agent_id], utcnow())]
        for job in claimed:
            await self._states(job.id, [agent_id], JobState.SENT.value)
        for job in claimed + resend:
            await self._send(job, [agent_id])

    async def _send(self, job: Job, agent_ids: list[str]) -> None:
        failed: list[str] = []
        for index, agent_id in enumerate(agent_ids):
            if not await self.delivery.send(agent_id, job_frame(self.key, job, agent_id)):
                failed.append(agent_id)
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
        if failed:  # the socket went away meanwhile: the row waits for the next connection
            async with self.db.transaction() as session:
                await store.unsend(session, job.id, failed)
            await self._states(job.id, failed, JobState.QUEUED.value)
        if agent_ids:
            log.info("job sent", extra=kv(job_id=job.id, agents=len(agent_ids) - len(failed)))

    # -- what agents report -----------------------------------------------------------------------------

    async def on_frame(self, agent_id: str, frame: dict[str, Any], reply: Sender) -> None:
        """A job frame from the gateway's receive loop. A bad frame is logged and ignored."""
        kind = frame.get("t")
        try:
            if kind == MessageType.JOB_OUTPUT:
                out = parse_output(cast(JobOutputFrame, frame))
                if not await self.holders.holds(agent_id, out.job_id):
                    self.foreign_output += 1
                    log.warning(
                        "output for a job the agent does not hold ignored",
                        extra=kv(agent_id=agent_id, job_id=out.job_id),
                    )
                    return
                await self.events.publish(
                    {
                        "type": "output",
                        "job_id": out.job_id,
                        "agent_id": agent_id,
                        "stream": out.stream,
                        "chunk": out.chunk,
                        "seq": out.seq,
                    }
                )
            elif kind == MessageType.JOB_ACCEPTED:
                accepted = parse_accepted(cast(JobAcceptedFrame, frame))
                await self.reports.put(
                    Report(agent_id, accepted.job_id, accepted.msg_id, reply, started_at=accepted.started_at)
                )
            elif kind == MessageType.JOB_RESULT:
                result = parse_result(cast(JobResultFrame, frame), self.settings.max_output_bytes)
                if is_replay_refusal(result.finish):
                    # The agent has this job already (a frame re-sent after a reconnect): its own
                    # outbox carries the real outcome, which this refusal must not overwrite.
                    await reply(ack_frame(str(result.msg_id)))
                    log.info("agent already had the job", extra=kv(agent_id=agent_id, job_id=result.job_id))
                    return
                # Stored by the report writer, which acks it after the commit.
                await self.reports.put(
                    Report(agent_id, result.job_id, result.msg_id, reply, finish=result.finish)
                )
        except ProtocolError as bad:
            self.bad_frames += 1
            log.warning(
                "bad job frame ignored", extra=kv(agent_id=agent_id, t=str(kind)[:32], reason=bad.detail)
            )
        except SEND_ERRORS:
            pass  # the socket closed under the ack: the agent re-sends from its outbox, stored once
        except Exception:  # a listener's bus, say: nothing was acked, so the agent re-sends it later
            log.exception("job frame failed", extra=kv(agent_id=agent_id, t=str(kind)[:32]))

    async def _stored(self, changes: list[Change]) -> None:
        """After each commit of the report writer: publish the changes, then act on final results."""
        running: defaultdict[str, list[str]] = defaultdict(list)
        final: defaultdict[tuple[str, str, int | None], list[str]] = defaultdict(list)
        for change in changes:
            if change.status == JobState.RUNNING.value:
                running[change.job_id].append(change.agent_id)
            else:
                final[(change.job_id, change.status, change.exit_code)].append(change.agent_id)
                self.holders.forget(change.agent_id, change.job_id)
        # Every `running` first: a row's accept and result may be in one batch, never the reverse.
        for job_id, agents in running.items():
            await self._states(job_id, agents, JobState.RUNNING.value)
        for (job_id, status, exit_code), agents in final.items():
            await self._states(job_id, agents, status, exit_code=exit_code)
        failed = {job_id for job_id, status, _ in final if status in store.FAILURES}
        ended = {job_id for job_id, _, _ in final}
        if ended:
            async with self.db.session() as session:
                options = await store.options(session, sorted(ended))
            for job_id, (batch_size, stop_on_failure) in options.items():
                stop = stop_on_failure and job_id in failed
                if batch_size or stop:
                    self.spawn(self._after_final(job_id, batched=bool(batch_size), stop=stop), "after final")

    async def _after_final(self, job_id: str, batched: bool, stop: bool) -> None:
        """Stop on failure, and the next batch once this one is all final."""
        stopped: list[str] = []
        if stop:
            async with self.db.transaction() as session:
                stopped = await store.end_rows(
                    session,
                    job_id,
                    (JobState.QUEUED.value,),
                    JobState.CANCELLED,
                    utcnow(),
                    "not run: another agent failed and the job stops on failure",
                )
            await self._states(job_id, stopped, JobState.CANCELLED.value)
        if batched and not stopped:
            await self.dispatch(job_id)

    async def expire_due(self) -> int:
        """Housekeeping: rows that waited past their job's expiry become `expired`."""
        async with self.db.transaction() as session:
            expired = await store.expire_due(session, utcnow(), self.settings.job_sent_grace_s)
        by_job: defaultdict[str, list[str]] = defaultdict(list)
        for job_id, agent_id in expired:
            by_job[job_id].append(agent_id)
        for job_id, agents in by_job.items():
            await self._states(job_id, agents, JobState.EXPIRED.value)
        return len(expired)

    async def _states(self, job_id: str, agent_ids: list[str], status: str, **extra: Any) -> None:
        if agent_ids:
            await self.events.publish(
                {"type": "state", "job_id": job_id, "agent_ids": agent_ids, "status": status, **extra}
            )
