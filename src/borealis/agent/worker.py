"""The agent worker: one asyncio process that keeps the agent connected (DESIGN §2, §6).

It sleeps a random start-up delay, then runs connection after connection with the reconnect policy
between them, publishes its state to `status.json`, and writes a short line to its stdout every
`internal_heartbeat_s` so the supervisor can tell it is alive. The first SIGTERM/SIGINT closes the
socket cleanly and exits 0; a second one cancels everything at once. `assembly` builds it; this module
runs it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import random
import signal
import stat
import sys
from typing import Any

from borealis.agent.identity import Identity
from borealis.agent.inventory.service import InventoryService
from borealis.agent.jobs.runner import JobRunner
from borealis.agent.link.connection import Connection
from borealis.agent.link.inbox import Inbox
from borealis.agent.link.reconnect import ReconnectPolicy, RetryKind, SessionOutcome
from borealis.agent.self_update.state import SWITCH_EXIT_CODE
from borealis.agent.self_update.updater import Updater
from borealis.agent.service.status_file import ConnectionState, StatusPublisher
from borealis.core.logs import kv
from borealis.core.settings import AgentSettings

BEAT_LINE = b"beat\n"
WORKER_THREADS = 3
M_ARENA_MAX = -8  # glibc's mallopt parameter number
MALLOC_ARENAS = 2
COUNTS_EVERY_S = 10.0  # status.json job counts; an idle worker should wake up well under once a second
STDOUT_FD = 1

log = logging.getLogger("borealis.agent.worker")


class Worker:
    def __init__(
        self,
        settings: AgentSettings,
        identity: Identity,
        connection: Connection,
        status: StatusPublisher,
        *,
        startup_delay: bool = True,
        beat_fd: int | None = STDOUT_FD,
        rng: random.Random | None = None,
        jobs: JobRunner | None = None,
        inbox: Inbox | None = None,
        inventory: InventoryService | None = None,
        updater: Updater | None = None,
    ) -> None:
        self._settings = settings
        self._jobs = jobs
        self._inbox = inbox  # its handlers settle before the jobs stop (they may use the outbox)
        self._updater = updater  # started after the jobs (it reports through their outbox), stopped before
        self._exit_code = 0
        self._inventory = inventory  # started after the jobs (it needs their open outbox), stopped before
        self._identity = identity
        self._connection = connection
        self._status = status
        self._startup_delay = startup_delay
        self._beat_fd = beat_fd
        self._rng = rng or random.Random()
        self._policy = ReconnectPolicy(
            settings.backoff_base_s, settings.backoff_cap_s, settings.stable_after_s, self._rng
        )
        self._stop = asyncio.Event()
        self._main: asyncio.Task[Any] | None = None
        self._fields = {"agent_id": identity.agent_id}
        self._last_failure: str | None = None

    def request_stop(self) -> None:
        """First call: stop cleanly. Second call: cancel at once (skip the clean close)."""
        if self._stop.is_set():
            log.warning("second stop signal; exiting at once", extra=kv(**self._fields))
            if self._main is not None:
                self._main.cancel()
            return
        self._stop.set()

    def request_switch(self) -> None:
        """Stop cleanly and exit with SWITCH_EXIT_CODE: the supervisor starts the new agent version."""
        self._exit_code = SWITCH_EXIT_CODE
        self.request_stop()

    async def run(self) -> int:
        self._main = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        self._status.write_now()
        helpers = [asyncio.create_task(self._status.run(), name="status")]
        if self._beat_fd is not None:
            helpers.append(asyncio.create_task(self._internal_heartbeat(self._beat_fd), name="beat"))
        log.info(
            "worker started", extra=kv(**self._fields, pid=os.getpid(), server=self._identity.server_url)
        )
        try:
            if self._jobs is not None:
                await self._jobs.start()
                helpers.append(asyncio.create_task(self._publish_job_counts(self._jobs), name="counts"))
                if self._inventory is not None:
                    await self._inventory.start()
                if self._updater is not None:
                    await self._updater.start(self.request_switch)
            await self._connect_until_stopped()
        finally:
            if self._updater is not None:
                await self._updater.stop()
            if self._inbox is not None:
                await self._inbox.settle()
            if self._jobs is not None:
                if self._inventory is not None:
                    await self._inventory.stop()
                await self._jobs.stop()
                self._status.set(**self._jobs.counts())
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            self._status.set(state=ConnectionState.STOPPED, connected_since=None)
            self._status.write_now()
            log.info("worker stopped", extra=kv(**self._fields, exit_code=self._exit_code))
        return self._exit_code

    async def _connect_until_stopped(self) -> None:
        if self._startup_delay and self._settings.startup_delay_s > 0:
            delay = self._rng.uniform(0, self._settings.startup_delay_s)
            log.info("start-up delay", extra=kv(**self._fields, delay_s=round(delay, 2)))
            await self._sleep(delay)
        while not self._stop.is_set():
            self._status.set(state=ConnectionState.CONNECTING, connected_since=None)
            log.info("connecting", extra=kv(**self._fields, server=self._identity.server_url))
            try:
                outcome = await self._connection.run(self._stop)
            except Exception as exc:  # a bug must not end the loop: log it, back off, go again
                log.exception("connection attempt failed unexpectedly", extra=kv(**self._fields))
                outcome = SessionOutcome(error=f"internal error: {exc!r}")
            self._status.set(
                state=ConnectionState.DISCONNECTED,
                connected_since=None,
                last_close_code=outcome.close_code,
                last_close_reason=outcome.close_reason or None,
                last_error=None if self._stop.is_set() else outcome.why,
            )
            if self._stop.is_set():
                break
            await self._sleep(self._plan_retry(outcome))

    def _plan_retry(self, outcome: SessionOutcome) -> float:
        """Choose the delay and log why, loudly when the reason changes and quietly when it repeats."""
        plan = self._policy.plan(outcome)
        repeated = not outcome.welcomed and outcome.why == self._last_failure
        self._last_failure = None if outcome.welcomed else outcome.why
        fields = kv(
            **self._fields,
            close_code=outcome.close_code,
            reason=outcome.why,
            connected_for_s=round(outcome.connected_for_s, 1),
            retry_in_s=round(plan.delay_s, 2),
        )
        if plan.kind is RetryKind.REFUSED:
            message, level = "server refused the agent", logging.ERROR
        elif plan.kind is RetryKind.PENDING:
            message, level = "waiting for approval", logging.WARNING
        elif outcome.welcomed:
            message, level = "disconnected", logging.WARNING
        else:
            message, level = "connection failed", logging.WARNING
        log.log(logging.INFO if repeated else level, message, extra=fields)
        return plan.delay_s

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when a stop is requested."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _publish_job_counts(self, jobs: JobRunner) -> None:
        while True:
            self._status.set(**jobs.counts())
            await asyncio.sleep(COUNTS_EVERY_S)

    async def _internal_heartbeat(self, fd: int) -> None:
        """Tell the supervisor this event loop still turns. A closed pipe means it is gone: stop."""
        with contextlib.suppress(OSError):
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.set_blocking(fd, False)
        while True:
            try:
                os.write(fd, BEAT_LINE)
            except BlockingIOError:
                pass  # the supervisor is slow to read; the next beat will do
            except OSError as exc:
                log.warning("supervisor pipe closed; stopping", extra=kv(**self._fields, error=exc))
                self.request_stop()
                return
            await asyncio.sleep(self._settings.internal_heartbeat_s)


async def _with_few_threads(worker: Worker) -> int:
    """Run the worker with a small default thread pool: asyncio's default (CPUs + 4) threads stay alive
    once started, and each that allocates may cost a glibc malloc arena — RSS an idle agent never
    gives back. Blocking calls here are short (files, SQLite, /proc), so a few threads suffice."""
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="worker")
    )
    return await worker.run()


def run(worker: Worker) -> int:
    """Run the worker to its end; its exit code (SWITCH_EXIT_CODE asks for the new agent version)."""
    try:
        # Plain asyncio, not uvloop: the worker holds one socket, and uvloop would add ~3 MiB of RSS.
        return asyncio.run(_with_few_threads(worker))
    except asyncio.CancelledError:
        return 1


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """glibc gives threads malloc arenas of their own and keeps what they freed (B9: +1.6 MiB that an
    idle worker never gives back). Two are plenty for this process. Done with `mallopt` rather than
    MALLOC_ARENA_MAX so the scripts that jobs run do not inherit it; a no-op off glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def main(argv: list[str]) -> int:
    """`python -m borealis.agent.worker --home H [--no-startup-delay]`: `assembly` parses and builds."""
    # Run with -m, this module is `__main__`: alias it so the assembly's import of it does not load a copy.
    sys.modules.setdefault("borealis.agent.worker", sys.modules[__name__])
    from borealis.agent.assembly import main as assembled

    return assembled(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
