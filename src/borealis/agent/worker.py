"""The agent worker: one asyncio process that keeps the agent connected (DESIGN §2, §6).

It sleeps a random start-up delay, then runs connection after connection with the reconnect policy
between them, publishes its state to `status.json`, and writes a short line to its stdout every
`internal_heartbeat_s` so the supervisor can tell it is alive. The first SIGTERM/SIGINT closes the
socket cleanly and exits 0; a second one cancels everything at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import random
import signal
import socket
import stat
import sys
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from borealis.agent.credentials import load_agent_key, pinned_server_key, server_tls_context
from borealis.agent.facts import host_facts
from borealis.agent.identity import Identity, load_identity
from borealis.agent.inventory.service import InventoryService, build_inventory
from borealis.agent.jobs.operator_policy import OperatorPolicy
from borealis.agent.jobs.runner import JobRunner
from borealis.agent.link.connection import Connection
from borealis.agent.link.heartbeat import HeartbeatSource
from borealis.agent.link.outbox import Outbox, outbox_path
from borealis.agent.link.reconnect import ReconnectPolicy, RetryKind, SessionOutcome
from borealis.agent.link.uplink import Uplink
from borealis.agent.resources import ProcessMeter
from borealis.agent.roles.contract import RoleContext
from borealis.agent.roles.registry import RoleRegistry
from borealis.agent.roles.server_roles import ServerRoles
from borealis.agent.screen.live_view import LiveView
from borealis.agent.self_update.state import SWITCH_EXIT_CODE
from borealis.agent.self_update.updater import Updater
from borealis.agent.service.status_file import ConnectionState, StatusPublisher, WorkerStatus, status_path
from borealis.agent.user_session.helper_hub import HelperHub
from borealis.agent.user_session.helper_spawn import HelperProcesses
from borealis.agent.user_session.local_ipc import helper_address
from borealis.core.errors import BorealisError
from borealis.core.home import Home
from borealis.core.logs import kv, setup_logging
from borealis.core.settings import AgentSettings, load_agent_settings
from borealis.protocol import roles as roles_protocol
from borealis.protocol import screen

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
        inventory: InventoryService | None = None,
        updater: Updater | None = None,
    ) -> None:
        self._settings = settings
        self._jobs = jobs
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


def build_worker(
    home: Home, settings: AgentSettings, *, startup_delay: bool, beat_fd: int | None = STDOUT_FD
) -> Worker:
    """Everything a worker needs, read from the home. Raises ConfigError when it is not enrolled.

    `server_url` in agent.toml wins over the one recorded at enrollment, so an operator can move an
    agent to a new address by editing one file; the server key stays pinned either way.
    """
    identity = load_identity(home)
    if settings.server_url:
        identity = replace(identity, server_url=settings.server_url.rstrip("/"))
    key = load_agent_key(home)
    status = StatusPublisher(
        status_path(home),
        WorkerStatus(pid=os.getpid(), agent_id=identity.agent_id, server_url=identity.server_url),
    )
    server_key = pinned_server_key(home, identity)
    inventory = build_inventory(home, settings)
    updater = Updater(home, server_key)
    jobs = build_job_runner(home, settings, identity.agent_id, server_key, inventory, updater)
    heartbeats = HeartbeatSource(ProcessMeter(), roles_health=jobs.health)
    tls = server_tls_context(home, identity.server_url)
    connection = Connection(
        identity, key, server_key, host_facts(), heartbeats, status, session=jobs, tls=tls
    )
    return Worker(
        settings,
        identity,
        connection,
        status,
        startup_delay=startup_delay,
        beat_fd=beat_fd,
        jobs=jobs,
        inventory=inventory,
        updater=updater,
    )


def build_job_runner(
    home: Home,
    settings: AgentSettings,
    agent_id: str,
    server_key: Ed25519PublicKey,
    inventory: InventoryService | None = None,
    updater: Updater | None = None,
) -> JobRunner:
    """The job side of the worker: outbox, roles (built-in, entry points, drop-ins) and the runner."""
    outbox = Outbox(outbox_path(home.agent), settings.outbox_max_messages, settings.outbox_max_bytes)
    uplink = Uplink(outbox)
    if inventory is not None:
        inventory.attach(outbox, uplink)
    ctx = RoleContext(agent_id=agent_id, home_root=home.root, tmp_dir=home.agent / "tmp", inventory=inventory)
    registry = RoleRegistry(ctx, home.agent_roles, server_dir=home.agent_roles / "Server")
    runner = JobRunner(
        agent_id,
        server_key,
        registry,
        outbox,
        uplink,
        ctx,
        allowed_roles=settings.allowed_roles,
        max_jobs=settings.max_jobs,
        roles_scan_s=settings.roles_scan_s,
        user_sessions=build_helper_hub(home, settings),
        policy=OperatorPolicy.load(home),
    )
    server_roles = ServerRoles(
        home.agent_roles / "Server", server_key, registry, uplink.send_output, policy=runner.policy
    )
    live = LiveView(
        runner.user_sessions,
        uplink,
        runner.policy,
        enabled=settings.live_view,
        control=settings.remote_control,
        notice=settings.screen_notice,
    )
    for kind in screen.SERVER_TO_AGENT:
        runner.on(kind, live.on_frame)
    runner.on(roles_protocol.INSTALL, server_roles.on_install)
    runner.on(roles_protocol.REMOVE, server_roles.on_remove)
    if updater is not None:
        updater.attach(outbox, uplink, runner)
    return runner


def build_helper_hub(home: Home, settings: AgentSettings) -> HelperHub | None:
    """Where `run_as: user` jobs go (DESIGN §2); None where there are no Unix sockets (Windows)."""
    if not hasattr(socket, "AF_UNIX"):
        return None
    address = helper_address(home, settings.helper_socket)
    spawner = HelperProcesses(home, settings.log, address) if settings.helper_spawn else None
    return HelperHub(
        address,
        helper_user=settings.helper_user,
        helper_display=settings.helper_display,
        spawner=spawner,
        scan_s=settings.sessions_scan_s,
    )


async def _with_few_threads(worker: Worker) -> int:
    """Run the worker with a small default thread pool: asyncio's default (CPUs + 4) threads stay alive
    once started, and each that allocates may cost a glibc malloc arena — RSS an idle agent never
    gives back. Blocking calls here are short (files, SQLite, /proc), so a few threads suffice."""
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="worker")
    )
    return await worker.run()


def run_worker(home: Home, *, startup_delay: bool) -> int:
    """Entry point of the hidden `borealis agent worker` command."""
    settings = load_agent_settings(home)
    setup_logging(home.agent_logs / "agent.log", settings.log)
    worker = build_worker(home, settings, startup_delay=startup_delay)
    try:
        # Plain asyncio, not uvloop: the worker holds one socket, and uvloop would add ~3 MiB of RSS.
        return asyncio.run(_with_few_threads(worker))
    except asyncio.CancelledError:
        return 1


def main(argv: list[str]) -> int:
    """`python -m borealis.agent.worker --home H [--no-startup-delay]`, as the supervisor starts it.

    Not through the `borealis` command: skipping click keeps ~5 MiB out of the long-lived worker.
    """
    home: str | None = None
    startup_delay = True
    args = iter(argv)
    for arg in args:
        if arg == "--home":
            home = next(args, None)
        elif arg == "--no-startup-delay":
            startup_delay = False
        else:
            sys.stderr.write(f"borealis agent worker: unknown argument {arg!r}\n")
            return 2
    limit_malloc_arenas()
    try:
        return run_worker(Home.resolve(home), startup_delay=startup_delay)
    except BorealisError as exc:
        sys.stderr.write(f"borealis: error: {exc.detail}\n")
        return exc.exit_code


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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
