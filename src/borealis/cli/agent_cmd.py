"""`borealis agent …` and `borealis helper`: options mapped onto the agent package; no logic here.

Imports of the agent's modules happen inside each command, so `agent run` (the supervisor) never
loads what only the worker or enrollment needs.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from borealis.cli.options import home_option
from borealis.core.errors import ConfigError
from borealis.core.home import Home


@click.group()
def agent() -> None:
    """The agent on this device (enroll, install, run, status: --home) and, through the server,
    any agent of the fleet (show, tags, approve, deny, revoke: login profile or BOREALIS_URL)."""


@agent.command()
@home_option
@click.option(
    "--server", "server_url", default=None, help="Server URL; overrides the one in the install code."
)
@click.option(
    "--code", required=True, help="The install code (BRL1-…) from `borealis admin create-enrollment`."
)
@click.option("--force", is_flag=True, help="Enroll again even if this home already holds an agent.")
@click.option(
    "--operator-key",
    "operator_keys",
    multiple=True,
    help="Run only jobs co-signed by this operator public key (repeat for several).",
)
def enroll(home: str, server_url: str | None, code: str, force: bool, operator_keys: tuple[str, ...]) -> None:
    """Enroll this machine with a server; prints the new agent id."""
    from borealis.agent.enrollment import enroll as enroll_agent

    result = enroll_agent(
        Home.resolve(home), code, server_url=server_url, force=force, operator_keys=operator_keys
    )
    if operator_keys:
        click.echo(f"jobs must be co-signed by one of {len(operator_keys)} operator key(s)", err=True)
    click.echo(f"enrolled with {result.identity.server_url} as agent {result.identity.agent_id}", err=True)
    if result.status == "pending":
        click.echo("the agent waits for an administrator's approval before it can connect", err=True)
    click.echo(result.identity.agent_id)


@agent.command()
@home_option
@click.option("--no-startup-delay", is_flag=True, help="Connect at once instead of after a random delay.")
def run(home: str, no_startup_delay: bool) -> int:
    """Run the agent in the foreground: a supervisor that keeps the worker alive."""
    from borealis.agent.service.supervisor import run_supervisor

    return run_supervisor(Home.resolve(home), startup_delay=not no_startup_delay)


@agent.command(hidden=True)
@home_option
@click.option("--no-startup-delay", is_flag=True)
def worker(home: str, no_startup_delay: bool) -> int:
    """The worker process; started by `agent run`, not by hand."""
    from borealis.agent.assembly import run_worker

    return run_worker(Home.resolve(home), startup_delay=not no_startup_delay)


@agent.command()
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def status(home: str, as_json: bool) -> None:
    """Is the agent enrolled, running and connected? Exits non-zero when not enrolled."""
    from borealis.agent.identity import is_enrolled
    from borealis.agent.service import status as agent_status

    agent_home = Home.resolve(home)
    if not is_enrolled(agent_home):
        if as_json:
            click.echo(json.dumps(agent_status.not_enrolled_json()))
        raise ConfigError(f"not enrolled: no agent identity in {agent_home.root}")
    report = agent_status.gather(agent_home)
    click.echo(json.dumps(report.to_json()) if as_json else agent_status.render(report))


root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the service files under this folder instead of the system, and run no service manager.",
)


def _say(line: str) -> None:
    click.echo(line)


@agent.command()
@home_option
@click.option(
    "--server", "server_url", default=None, help="Server URL; overrides the one in the install code."
)
@click.option("--code", default=None, help="Enroll first with this install code (BRL1-…).")
@root_option
def install(home: str, server_url: str | None, code: str | None, root: Path | None) -> None:
    """Install the agent as a service: its own environment, the service, the session helper."""
    from borealis.agent.service.installer import install as install_agent

    install_agent(Home.resolve(home), root=_absolute(root), server_url=server_url, code=code, say=_say)


@agent.command()
@home_option
@root_option
def repair(home: str, root: Path | None) -> None:
    """Re-create whatever of the install is missing or drifted; the identity is kept."""
    from borealis.agent.service.installer import repair as repair_agent

    repair_agent(Home.resolve(home), root=_absolute(root), say=_say)


@agent.command()
@home_option
@root_option
@click.option(
    "--keep-identity", is_flag=True, help="Keep identity/ and agent.toml, so a reinstall is the same agent."
)
def remove(home: str, root: Path | None, keep_identity: bool) -> None:
    """Stop and unregister the service, then delete everything the install made."""
    from borealis.agent.service.installer import remove as remove_agent

    remove_agent(Home.resolve(home), root=_absolute(root), keep_identity=keep_identity, say=_say)


@agent.command()
@home_option
@click.option("--no-startup-delay", is_flag=True, help="Connect at once instead of after a random delay.")
def launch(home: str, no_startup_delay: bool) -> int:
    """Run the installed agent in the foreground (for debugging)."""
    from borealis.agent.service.installer import launch as launch_agent

    return launch_agent(Home.resolve(home), startup_delay=not no_startup_delay)


def _absolute(root: Path | None) -> Path | None:
    return root.expanduser().resolve() if root is not None else None


@click.command()
@home_option
@click.option("--session", help="The login session served (default: $XDG_SESSION_ID, else user:<name>).")
@click.option("--user", help="Become this user first (root only; how the agent starts helpers).")
@click.option("--socket", "address", default="", help="The agent's helper socket (@name or a path).")
@click.option("--once", is_flag=True, help="Exit when the agent goes away instead of reconnecting.")
def helper(home: str, session: str | None, user: str | None, address: str, once: bool) -> None:
    """The user-session helper: runs `run_as: user` jobs in this login session for the agent."""
    from borealis.agent.user_session.helper import run_helper

    code = run_helper(Home.resolve(home), session=session, user=user, reconnect=not once, address=address)
    if code:
        raise SystemExit(code)


def _add_server_commands() -> None:
    """The fleet's side of an agent (show, tags, approve, deny, revoke) talks to the server."""
    from borealis.cli.fleet_cmd import SERVER_COMMANDS

    for command in SERVER_COMMANDS:
        agent.add_command(command)


_add_server_commands()
