"""The fleet from a terminal: `borealis agents` (the list) and the server-side agent commands
(`borealis agent show|tags|approve|deny|revoke`), over the public API only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from borealis.cli.connection import client, connection_options
from borealis.cli.output import emit_json, json_option, pairs, table
from borealis.core.errors import BorealisError, InvalidInput

if TYPE_CHECKING:
    from borealis.cli.api_client import ApiClient

STATUSES = ["online", "offline", "overdue", "pending", "revoked"]
COLUMNS = [
    ("id", "id"),
    ("hostname", "hostname"),
    ("status", "status"),
    ("os", "os"),
    ("version", "version"),
    ("tags", "tags"),
    ("last_seen", "last seen"),
]


DONE = {"approve": "approved", "deny": "denied", "revoke": "revoked"}


class AmbiguousAgent(BorealisError):
    exit_code = 2


def find_agent(api: ApiClient, ref: str) -> dict[str, Any]:
    """The agent whose id is `ref`, else the one agent whose hostname is `ref`."""
    from borealis.cli.api_client import ApiNotFound, segment

    try:
        return api.get(f"/api/v1/agents/{segment(ref)}")
    except ApiNotFound:
        pass
    matches = [a for a in api.get_all("/api/v1/agents", {"q": ref}) if a["hostname"].lower() == ref.lower()]
    if not matches:
        raise InvalidInput(f"no agent with the id or hostname {ref!r}")
    if len(matches) > 1:
        ids = ", ".join(a["id"] for a in matches)
        raise AmbiguousAgent(f"{len(matches)} agents are named {ref!r}; give an id: {ids}")
    return api.get(f"/api/v1/agents/{matches[0]['id']}")


@click.command("agents")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only agents in this state.")
@click.option("--tag", default=None, help="Only agents with this tag.")
@click.option("-q", "query", default=None, help="Text in the hostname, id or notes.")
@json_option
@connection_options
def agents_list(status: str | None, tag: str | None, query: str | None, as_json: bool) -> None:
    """List the fleet.

    \b
    Examples:
      borealis agents
      borealis agents --status online --tag web
      borealis agents -q db --json | jq -r '.[].id'
    """
    params = {key: value for key, value in (("status", status), ("tag", tag), ("q", query)) if value}
    items = client().get_all("/api/v1/agents", params)
    if as_json:
        emit_json(items)
        return
    table(items, COLUMNS)


@click.command("show")
@click.argument("agent_ref", metavar="ID|HOSTNAME")
@json_option
@connection_options
def show(agent_ref: str, as_json: bool) -> None:
    """Show one agent of the server's fleet (by id or hostname).

    \b
    Examples:
      borealis agent show web-01
      borealis agent show 01HZX… --json
    """
    agent = find_agent(client(), agent_ref)
    if as_json:
        emit_json(agent)
        return
    pairs({**agent, "facts": None}, [k for k in agent if k != "facts"])


@click.group("tags")
def tags() -> None:
    """Add or remove an agent's tags on the server."""


def _change_tags(agent_ref: str, add: tuple[str, ...], remove: tuple[str, ...], as_json: bool) -> None:
    api = client()
    agent = find_agent(api, agent_ref)
    current = list(agent.get("tags") or [])
    wanted = [t for t in current if t.lower() not in {r.lower() for r in remove}]
    wanted += [t for t in add if t.lower() not in {w.lower() for w in wanted}]
    changed = api.patch(f"/api/v1/agents/{agent['id']}", {"tags": wanted})
    if as_json:
        emit_json(changed)
    else:
        click.echo(f"{changed['hostname']} ({changed['id']}): tags {','.join(changed['tags']) or '-'}")


@tags.command("add")
@click.argument("agent_ref", metavar="ID|HOSTNAME")
@click.argument("names", nargs=-1, required=True)
@json_option
@connection_options
def tags_add(agent_ref: str, names: tuple[str, ...], as_json: bool) -> None:
    """Add tags: `borealis agent tags add web-01 web prod`."""
    _change_tags(agent_ref, names, (), as_json)


@tags.command("remove")
@click.argument("agent_ref", metavar="ID|HOSTNAME")
@click.argument("names", nargs=-1, required=True)
@json_option
@connection_options
def tags_remove(agent_ref: str, names: tuple[str, ...], as_json: bool) -> None:
    """Remove tags: `borealis agent tags remove web-01 prod`."""
    _change_tags(agent_ref, (), names, as_json)


def _act(action: str, agent_ref: str, as_json: bool) -> None:
    api = client()
    agent = find_agent(api, agent_ref)
    answer = api.post(f"/api/v1/agents/{agent['id']}/{action}")
    if as_json:
        emit_json(answer or {"id": agent["id"], "denied": True})
    else:
        click.echo(f"{agent['hostname']} ({agent['id']}): {DONE[action]}")


@click.command("approve")
@click.argument("agent_ref", metavar="ID|HOSTNAME")
@json_option
@connection_options
def approve(agent_ref: str, as_json: bool) -> None:
    """Approve a pending enrollment: `borealis agent approve web-01`."""
    _act("approve", agent_ref, as_json)


@click.command("deny")
@click.argument("agent_ref", metavar="ID|HOSTNAME")
@json_option
@connection_options
def deny(agent_ref: str, as_json: bool) -> None:
    """Deny (and forget) a pending enrollment: `borealis agent deny web-01`."""
    _act("deny", agent_ref, as_json)


@click.command("revoke")
@click.argument("agent_ref", metavar="ID|HOSTNAME")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@connection_options
def revoke(agent_ref: str, yes: bool, as_json: bool) -> None:
    """Revoke an agent: its connection is closed and refused from now on.

    \b
    Example:
      borealis agent revoke web-01 --yes
    """
    if not yes:
        click.confirm(f"revoke {agent_ref}? it will be disconnected and refused", abort=True, err=True)
    _act("revoke", agent_ref, as_json)


SERVER_COMMANDS = [show, tags, approve, deny, revoke]
