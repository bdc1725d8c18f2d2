"""The agent's composition root: builds a worker from its home and wires its parts together.

Two phases: every part is built alone, then `.attach()`/`.listen()` give each its send path (the
outbox and uplink) and route its frames from the inbox. Also the worker's command line, as the
supervisor starts it (`python -m borealis.agent.worker --home H [--no-startup-delay]`).
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from borealis.agent.credentials import load_agent_key, pinned_server_key, server_tls_context
from borealis.agent.facts import host_facts
from borealis.agent.identity import load_identity
from borealis.agent.inventory.service import InventoryService, build_inventory
from borealis.agent.jobs.runner import JobRunner
from borealis.agent.link.connection import Connection
from borealis.agent.link.heartbeat import HeartbeatSource
from borealis.agent.link.inbox import Inbox
from borealis.agent.link.outbox import Outbox, outbox_path
from borealis.agent.link.uplink import Uplink
from borealis.agent.operator_policy import OperatorPolicy
from borealis.agent.resources import ProcessMeter
from borealis.agent.roles.contract import RoleContext
from borealis.agent.roles.registry import RoleRegistry
from borealis.agent.roles.server_roles import ServerRoles
from borealis.agent.screen.live_view import LiveView
from borealis.agent.self_update.updater import Updater
from borealis.agent.service.status_file import StatusPublisher, WorkerStatus, status_path
from borealis.agent.user_session.helper_hub import HelperHub
from borealis.agent.user_session.helper_spawn import HelperProcesses
from borealis.agent.user_session.local_ipc import helper_address
from borealis.agent.worker import STDOUT_FD, Worker, limit_malloc_arenas, run
from borealis.core.errors import BorealisError
from borealis.core.home import Home
from borealis.core.logs import setup_logging
from borealis.core.settings import AgentSettings, load_agent_settings
from borealis.protocol.messages import MessageType


@dataclass(frozen=True)
class WorkerArgs:
    home: str | None = None
    startup_delay: bool = True


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
    inbox = Inbox()
    jobs = build_job_runner(home, settings, identity.agent_id, server_key, inbox, inventory, updater)
    heartbeats = HeartbeatSource(ProcessMeter(), roles_health=jobs.health)
    tls = server_tls_context(home, identity.server_url)
    connection = Connection(
        identity, key, server_key, host_facts(), heartbeats, status, inbox=inbox, uplink=jobs.uplink, tls=tls
    )
    return Worker(
        settings,
        identity,
        connection,
        status,
        startup_delay=startup_delay,
        beat_fd=beat_fd,
        jobs=jobs,
        inbox=inbox,
        inventory=inventory,
        updater=updater,
    )


def build_job_runner(
    home: Home,
    settings: AgentSettings,
    agent_id: str,
    server_key: Ed25519PublicKey,
    inbox: Inbox,
    inventory: InventoryService | None = None,
    updater: Updater | None = None,
) -> JobRunner:
    """The job side of the worker: outbox, roles (built-in, entry points, drop-ins) and the runner,
    and the parts that share its send path: server roles, live view, inventory, self-update."""
    outbox = Outbox(outbox_path(home.agent), settings.outbox_max_messages, settings.outbox_max_bytes)
    uplink = Uplink(outbox)
    ctx = RoleContext(agent_id=agent_id, home_root=home.root, tmp_dir=home.agent / "tmp", inventory=inventory)
    registry = RoleRegistry(ctx, home.agent_roles, server_dir=home.agent_roles / "Server")
    policy = OperatorPolicy.load(home)
    helpers = build_helper_hub(home, settings)
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
        user_sessions=helpers,
        policy=policy,
    )
    server_roles = ServerRoles(
        home.agent_roles / "Server", server_key, registry, uplink.send_output, policy=policy
    )
    live = LiveView(
        helpers,
        uplink,
        policy,
        enabled=settings.live_view,
        control=settings.remote_control,
        notice=settings.screen_notice,
    )

    inbox.route_task(MessageType.ACK, uplink.on_ack)
    runner.listen(inbox)
    live.listen(inbox)
    server_roles.listen(inbox)
    if inventory is not None:
        inventory.attach(outbox, uplink)
    if updater is not None:
        updater.attach(outbox, uplink, inbox, busy=lambda: bool(runner.running), policy=policy)
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


def run_worker(home: Home, *, startup_delay: bool) -> int:
    """Entry point of the hidden `borealis agent worker` command."""
    settings = load_agent_settings(home)
    setup_logging(home.agent_logs / "agent.log", settings.log)
    return run(build_worker(home, settings, startup_delay=startup_delay))


def parse_worker_args(argv: list[str]) -> WorkerArgs | None:
    """`--home H [--no-startup-delay]`; None (after saying why on stderr) for anything else."""
    args = WorkerArgs()
    given = iter(argv)
    for arg in given:
        if arg == "--home":
            args = replace(args, home=next(given, None))
        elif arg == "--no-startup-delay":
            args = replace(args, startup_delay=False)
        else:
            sys.stderr.write(f"borealis agent worker: unknown argument {arg!r}\n")
            return None
    return args


def main(argv: list[str]) -> int:
    """`python -m borealis.agent.worker --home H [--no-startup-delay]`, as the supervisor starts it.

    Not through the `borealis` command: skipping click keeps ~5 MiB out of the long-lived worker.
    """
    args = parse_worker_args(argv)
    if args is None:
        return 2
    limit_malloc_arenas()
    try:
        return run_worker(Home.resolve(args.home), startup_delay=args.startup_delay)
    except BorealisError as exc:
        sys.stderr.write(f"borealis: error: {exc.detail}\n")
        return exc.exit_code
