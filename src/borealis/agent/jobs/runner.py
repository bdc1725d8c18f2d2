"""Runs the jobs the server sends (DESIGN §5 signed jobs, §6 steps 3–4, §8 roles).

A `job` frame is checked before anything runs (`jobs.checks`): the signature over `protocol.jobs.job_payload` with
the pinned server key, our agent id, `not_after`, the job id not seen before, and the role known,
allowed by `allowed_roles` and able to run in the requested context. A refusal is reported as a
`job.result` with status `failed` (or `expired`) and an `error` saying why. An accepted job gets a
`job.accepted`, runs as a task under its deadline, and ends with a `job.result`; both go through
the outbox, so they survive a lost connection or a dead worker.

When the agent's operator policy lists keys, a job also needs an operator co-signature
(`protocol.cosign`) by one of them, over its exact content and a target naming this agent (or all),
not expired, and with a nonce not used by another job (kept on disk). An `operator_policy` job changes
those keys; it must be co-signed by a key trusted now (by one of the new keys when none is trusted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from borealis.agent.clock import utc_now_iso
from borealis.agent.jobs.checks import JobRefused, check_cosign, check_request, check_signed
from borealis.agent.jobs.process_group import end_orphaned_group, process_started_at
from borealis.agent.link.inbox import Inbox
from borealis.agent.link.outbox import Outbox
from borealis.agent.link.uplink import Uplink
from borealis.agent.operator_policy import OperatorPolicy
from borealis.agent.roles.contract import (
    JobRequest,
    JobResult,
    OutputStream,
    Role,
    RoleContext,
    RoleError,
    RunContext,
)
from borealis.agent.roles.registry import RoleRegistry, RoleUnavailable, Slot
from borealis.agent.user_session.helper_hub import HelperHub, NoUserSession
from borealis.core.errors import InvalidInput
from borealis.core.ids import new_id
from borealis.core.logs import kv
from borealis.protocol import cosign
from borealis.protocol.jobs import JobState
from borealis.protocol.messages import MessageType
from borealis.protocol.screenshot import blob_frames

CANCEL_GRACE_S = 5.0
MAX_ID_CHARS = 128
NO_USER_HELPER = "this agent does not run user-session jobs (no helper socket on this platform)"

log = logging.getLogger("borealis.agent.jobs")


@dataclass
class _Running:
    task: asyncio.Task[JobResult]
    ending: JobState | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class JobRunner:
    def __init__(
        self,
        agent_id: str,
        server_key: Ed25519PublicKey,
        registry: RoleRegistry,
        outbox: Outbox,
        uplink: Uplink,
        ctx: RoleContext,
        *,
        allowed_roles: list[str] | tuple[str, ...] = (),
        max_jobs: int = 16,
        roles_scan_s: float = 30.0,
        user_sessions: HelperHub | None = None,
        policy: OperatorPolicy | None = None,
    ) -> None:
        self._agent_id = agent_id
        self._server_key = server_key
        self._registry = registry
        self._outbox = outbox
        self._uplink = uplink
        self._ctx = ctx
        self._allowed = frozenset(allowed_roles)
        self._max_jobs = max(1, max_jobs)
        self._scan_s = roles_scan_s
        self._jobs: dict[str, _Running] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scanner: asyncio.Task[None] | None = None
        self._user_sessions = user_sessions
        self.policy = policy or OperatorPolicy(None, [])

    # --- life cycle ---

    async def start(self) -> None:
        """Open the outbox, report jobs a dead worker left running as `interrupted`, load roles."""
        await self._outbox.open()
        for job in await self._outbox.interrupted():
            log.warning("job interrupted by an agent restart", extra=kv(job_id=job.job_id))
            if job.pgid is not None and job.pgid_started is not None:
                await asyncio.to_thread(end_orphaned_group, job.pgid, job.pgid_started)
            await self._outbox.finish_job(
                job.job_id,
                self._result_message(
                    job.job_id,
                    JobResult(JobState.INTERRUPTED, error="the agent stopped while the job was running"),
                    job.started_at,
                ),
            )
        await self._registry.start()
        if self._user_sessions is not None:
            await self._user_sessions.start()
        if self._scan_s > 0:
            self._scanner = asyncio.create_task(self._scan_roles(), name="roles-scan")

    async def stop(self) -> None:
        """End running jobs (`interrupted`, results kept in the outbox), stop roles, close the outbox."""
        if self._scanner is not None:
            self._scanner.cancel()
            await asyncio.gather(self._scanner, return_exceptions=True)
        for running in list(self._jobs.values()):
            self._end(running, JobState.INTERRUPTED)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._user_sessions is not None:
            await self._user_sessions.stop()
        await self._registry.stop()
        await self._outbox.close()

    def health(self) -> dict[str, dict[str, Any]]:
        return self._registry.health()

    @property
    def running(self) -> list[str]:
        return list(self._jobs)

    async def _scan_roles(self) -> None:
        while True:
            await asyncio.sleep(self._scan_s)
            try:
                await self._registry.refresh()
            except Exception:
                log.exception("scanning drop-in roles failed")

    def counts(self) -> dict[str, int]:
        return {
            "jobs_running": len(self._jobs),
            "outbox_pending": self._outbox.pending,
            "outbox_dropped": self._outbox.dropped,
        }

    # --- messages from the server ---

    def listen(self, inbox: Inbox) -> None:
        """Take `job` and `job.cancel` frames from the inbox."""
        inbox.route(MessageType.JOB, lambda frame: self._spawn(self._handle_job(frame)))
        inbox.route(MessageType.JOB_CANCEL, self._cancel)

    def _cancel(self, frame: dict[str, Any]) -> None:
        running = self._jobs.get(str(frame.get("job_id")))
        if running is not None:
            log.info("job cancelled by the server", extra=kv(job_id=frame.get("job_id")))
            self._end(running, JobState.CANCELLED)

    @property
    def uplink(self) -> Uplink:
        return self._uplink

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _end(self, running: _Running, state: JobState) -> None:
        if running.ending is None:
            running.ending = state
            running.ended.set()

    # --- one job ---

    async def _handle_job(self, frame: dict[str, Any]) -> None:
        job_id = frame.get("job_id")
        if not isinstance(job_id, str) or not job_id or len(job_id) > MAX_ID_CHARS:
            log.warning("ignored a job frame without a usable job_id")
            return
        slot: Slot | None = None
        try:
            not_after = check_signed(frame, self._server_key, self._agent_id)
            request = check_request(frame, self._allowed)
            if len(self._jobs) >= self._max_jobs:
                raise JobRefused(f"the agent is already running {self._max_jobs} jobs")
            signed = check_cosign(frame, request, self.policy, self._agent_id)
            if signed is not None and not await self._outbox.claim_nonce(
                signed.nonce, job_id, float(signed.not_after), signed.repeat_s
            ):
                raise JobRefused(
                    "operator signature replayed: its nonce came before with another job"
                    + (f" (repeatable at most once per {signed.repeat_s} s)" if signed.repeat_s else "")
                )
            if request.role == cosign.POLICY_ROLE:
                await self._change_policy(request, not_after, signed)
                return
            slot, role = await self._role_for(request)
            started_at = utc_now_iso()
            accepted = {
                "t": MessageType.JOB_ACCEPTED.value,
                "msg_id": new_id(),
                "job_id": job_id,
                "started_at": started_at,
            }
            if not await self._outbox.begin_job(job_id, not_after, accepted):
                raise JobRefused("replayed job: this job id was already received")
        except JobRefused as refusal:
            if slot is not None:
                self._registry.release(slot)
            log.warning("job refused", extra=kv(job_id=job_id, role=frame.get("role"), reason=refusal.reason))
            await self._report(job_id, JobResult(refusal.state, error=refusal.reason), None, running=False)
            return
        except Exception:  # the outbox is unusable (disk full): run nothing; the server row will expire
            if slot is not None:
                self._registry.release(slot)
            log.exception("cannot accept a job", extra=kv(job_id=job_id))
            return
        self._uplink.send_reliable(accepted)
        log.info("job started", extra=kv(job_id=job_id, role=request.role, timeout_s=request.timeout_s))
        try:
            result = await self._execute(request, role)
        finally:
            self._registry.release(slot)
        log.info(
            "job finished",
            extra=kv(
                job_id=job_id, role=request.role, status=result.status.value, exit_code=result.exit_code
            ),
        )
        await self._report(job_id, result, started_at, running=True)

    async def _change_policy(
        self, request: JobRequest, not_after: float, signed: cosign.Cosignature | None
    ) -> None:
        """An `operator_policy` job (co-signed, checked above): replace the trusted keys on disk."""
        assert signed is not None
        try:
            trusted = cosign.policy_keys(request.params)
        except InvalidInput as bad:
            raise JobRefused(f"operator policy refused: {bad.detail}") from None
        if not await self._outbox.remember(request.job_id, not_after):
            raise JobRefused("replayed job: this job id was already received")
        started_at = utc_now_iso()
        await asyncio.to_thread(self.policy.replace, trusted, signed.key_id)
        fingerprints = sorted(self.policy.keys)
        log.warning(
            "operator policy changed", extra=kv(job_id=request.job_id, by=signed.key_id, keys=fingerprints)
        )
        result = JobResult(
            JobState.SUCCEEDED, data={"operator_keys": fingerprints, "changed_by": signed.key_id}
        )
        await self._report(request.job_id, result, started_at, running=False)

    async def _role_for(self, request: JobRequest) -> tuple[Slot, Role]:
        """The loaded role (held until the job ends) and what executes it: the role itself, or, for
        `run_as: user`, the helper of the user's session."""
        try:
            await self._registry.refresh()  # a drop-in changed since the last scan: new jobs see it
            slot = await self._registry.acquire(request.role)
        except RoleUnavailable as exc:
            raise JobRefused(str(exc)) from None
        if request.run_as not in slot.role.contexts:
            self._registry.release(slot)
            raise JobRefused(f"role {request.role!r} cannot run as {request.run_as.value}")
        if request.run_as is not RunContext.USER:
            return slot, slot.role
        try:
            if self._user_sessions is None:
                raise NoUserSession(NO_USER_HELPER)
            return slot, await self._user_sessions.role_for(request.role)
        except NoUserSession as exc:
            self._registry.release(slot)
            raise JobRefused(str(exc)) from None

    async def _execute(self, request: JobRequest, role: Role) -> JobResult:
        seq = 0

        def output(stream: OutputStream, chunk: str) -> None:
            nonlocal seq
            seq += 1
            self._uplink.send_output(
                {
                    "t": MessageType.JOB_OUTPUT.value,
                    "job_id": request.job_id,
                    "stream": stream.value,
                    "chunk": chunk,
                    "seq": seq,
                }
            )

        def process_started(pid: int) -> None:
            started = process_started_at(pid)
            if started is not None:
                self._spawn(self._outbox.record_process(request.job_id, pid, started))

        ctx = self._ctx.for_job(output, process_started)
        work: asyncio.Task[JobResult] = asyncio.create_task(role.execute(request, ctx))
        running = _Running(task=work)
        self._jobs[request.job_id] = running
        ended = asyncio.create_task(running.ended.wait())
        ending: JobState | None = None
        try:
            await asyncio.wait({work, ended}, timeout=request.timeout_s, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                self._end(running, JobState.TIMED_OUT)  # no-op when cancelled or stopping first
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(CANCEL_GRACE_S):
                        await role.cancel(request.job_id)
                await asyncio.wait({work}, timeout=CANCEL_GRACE_S)
                if not work.done():
                    work.cancel()
                    await asyncio.wait({work}, timeout=CANCEL_GRACE_S)
                ending = running.ending
            result = _outcome(work)
        finally:
            ended.cancel()
            if not work.done():
                work.cancel()
            self._jobs.pop(request.job_id, None)
        if ending is not None:
            result.status = ending
            result.error = _ENDING_ERRORS[ending].format(timeout=request.timeout_s)
        return result

    async def _report(self, job_id: str, result: JobResult, started_at: str | None, *, running: bool) -> None:
        message = self._result_message(job_id, result, started_at)
        if result.blob is not None:  # the image first, each piece in the outbox like the result
            for piece in blob_frames(job_id, result.blob):
                await self._outbox.put(piece)
                self._uplink.send_reliable(piece)
        if running:
            await self._outbox.finish_job(job_id, message)
        else:
            await self._outbox.put(message)
        self._uplink.send_reliable(message)

    def _result_message(self, job_id: str, result: JobResult, started_at: str | None) -> dict[str, Any]:
        return {
            "t": MessageType.JOB_RESULT.value,
            "msg_id": new_id(),
            "job_id": job_id,
            "status": result.status.value,
            "exit_code": result.exit_code,
            "started_at": started_at,
            "finished_at": utc_now_iso(),
            "stdout_tail": result.stdout_tail,
            "stderr_tail": result.stderr_tail,
            "data": result.data,
            "error": result.error,
        }


_ENDING_ERRORS = {
    JobState.TIMED_OUT: "the job did not finish within its timeout of {timeout:g} s",
    JobState.CANCELLED: "the job was cancelled",
    JobState.INTERRUPTED: "the agent stopped while the job was running",
}


def _outcome(work: asyncio.Task[JobResult]) -> JobResult:
    if not work.done() or work.cancelled():
        return JobResult(JobState.FAILED, error="the role did not stop when asked")
    error = work.exception()
    if isinstance(error, RoleError):
        return JobResult(JobState.FAILED, error=str(error))
    if error is not None:
        log.error("role failed", extra=kv(error=repr(error)))
        return JobResult(JobState.FAILED, error=f"the role failed: {type(error).__name__}: {error}")
    return work.result()
