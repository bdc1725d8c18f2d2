"""Inventory and patching from a terminal: one agent's sections, the fleet's software and pending
updates, and `borealis patch` (the `updates` role's install, followed like `borealis run`)."""

from __future__ import annotations

from typing import Any

import click

from borealis.cli.connection import client, connection_options
from borealis.cli.output import emit_json, json_option, pairs, table
from borealis.core.errors import InvalidInput
from borealis.protocol.inventory import SECTIONS

MAX_COLUMNS = 7


def _matches(value: Any, text: str) -> bool:
    return text.lower() in str(value).lower()


def _show_section(name: str, section: dict[str, Any], grep: str | None) -> None:
    data = section.get("data")
    if isinstance(data, list):
        rows = [row for row in data if isinstance(row, dict)]
        if grep:
            rows = [row for row in rows if any(_matches(v, grep) for v in row.values())]
        keys: list[str] = []
        for row in rows[:50]:
            keys += [k for k in row if k not in keys and not isinstance(row[k], (dict, list))]
        table(rows, [(k, k) for k in keys[:MAX_COLUMNS]])
    elif isinstance(data, dict):
        flat = {k: v for k, v in data.items() if not grep or _matches(k, grep) or _matches(v, grep)}
        pairs(flat)
    if section.get("error"):
        click.echo(f"({name}: {section['error']})", err=True)


@click.command()
@click.argument("agent_ref", metavar="AGENT")
@click.argument("section", type=click.Choice(SECTIONS), required=False)
@click.option("--grep", default=None, help="Only rows (or fields) containing this text.")
@click.option("--refresh", is_flag=True, help="Collect it now (waits up to 30 s) before showing.")
@json_option
@connection_options
def inventory(agent_ref: str, section: str | None, grep: str | None, refresh: bool, as_json: bool) -> None:
    """An agent's inventory (by id or hostname): every section's summary, or one section.

    \b
    Examples:
      borealis inventory web-01
      borealis inventory web-01 software --grep openssl
      borealis inventory web-01 processes --refresh --json
    """
    from borealis.cli.fleet_cmd import find_agent

    api = client()
    agent = find_agent(api, agent_ref)
    if refresh:
        api.post(
            f"/api/v1/agents/{agent['id']}/inventory/refresh", {"sections": [section] if section else None}
        )
    if section:
        found = api.get(f"/api/v1/agents/{agent['id']}/inventory/{section}")
        if as_json:
            emit_json(found)
        else:
            _show_section(section, found, grep)
        return
    everything = api.get(f"/api/v1/agents/{agent['id']}/inventory")
    if as_json:
        emit_json(everything)
        return
    for name, stored in everything["sections"].items():
        data = stored.get("data")
        click.echo(click.style(f"[{name}]", bold=True) + f" collected {stored.get('collected_at') or '-'}")
        if isinstance(data, list):
            hits = [r for r in data if not grep or _matches(r, grep)]
            click.echo(f"  {len(hits)} entries (`borealis inventory {agent_ref} {name}`)")
        else:
            _show_section(name, stored, grep)


@click.command()
@click.argument("name")
@click.option("--older-than", "older_than", default=None, metavar="VERSION", help="Only versions below this.")
@json_option
@connection_options
def software(name: str, older_than: str | None, as_json: bool) -> None:
    """Which machines hold package NAME (versions compared as dpkg or rpm do).

    \b
    Examples:
      borealis software openssl
      borealis software openssl --older-than 3.0.13
    """
    params = {"name": name, **({"version_lt": older_than} if older_than else {})}
    items = client().get_all("/api/v1/inventory/software", params)
    if as_json:
        emit_json(items)
        return
    table(
        items,
        [
            ("hostname", "hostname"),
            ("agent_id", "agent"),
            ("name", "name"),
            ("version", "version"),
            ("arch", "arch"),
            ("source", "source"),
        ],
    )


@click.command()
@click.option("--security", is_flag=True, help="Only machines with security updates pending.")
@click.option("--name", default=None, help="Only machines where this package has an update.")
@json_option
@connection_options
def updates(security: bool, name: str | None, as_json: bool) -> None:
    """Machines with pending OS updates (as last collected).

    \b
    Examples:
      borealis updates
      borealis updates --security --json
    """
    params: dict[str, Any] = {"security": "true" if security else "false", **({"name": name} if name else {})}
    items = client().get_all("/api/v1/inventory/updates", params)
    if as_json:
        emit_json(items)
        return
    table(
        items,
        [("hostname", "hostname"), ("agent_id", "agent"), ("pending", "pending"), ("security", "security")],
    )


@click.command()
@click.option("--all", "all_agents", is_flag=True, help="Every agent.")
@click.option("--tag", "tags", multiple=True, help="Agents with this tag (repeatable).")
@click.option("--agent", "agents", multiple=True, help="An agent id or hostname (repeatable).")
@click.option("--security", is_flag=True, help="Install only the security updates.")
@click.option("--package", "packages", multiple=True, help="Install only these packages (repeatable).")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=None, help="Rolling batches of N.")
@click.option("--stop-on-failure", is_flag=True, help="With --batch: stop after a batch with a failure.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=1800, show_default=True)
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=None, help="As for `borealis run`.")
@click.option("--json", "as_json", is_flag=True, help="At the end, the job as the API gives it.")
@connection_options
def patch(
    all_agents: bool,
    tags: tuple[str, ...],
    agents: tuple[str, ...],
    security: bool,
    packages: tuple[str, ...],
    batch_size: int | None,
    stop_on_failure: bool,
    timeout_s: float,
    wait_s: float | None,
    as_json: bool,
) -> None:
    """Install pending OS updates on agents, in rolling batches if asked; exit codes as `borealis run`.

    \b
    Examples:
      borealis patch --tag web --security --batch 5
      borealis patch --agent db-01 --package openssl --package libssl3
      borealis patch --all --wait 0     # prints the job id
    """
    from borealis.cli.job_watch import JobWatch, follow_interruptibly
    from borealis.cli.run_cmd import target_of

    if security and packages:
        raise InvalidInput("give --security or --package, not both")
    api = client()
    which = "named" if packages else "security" if security else "all"
    params: dict[str, Any] = {"action": "install", "which": which}
    if packages:
        params["packages"] = list(packages)
    body: dict[str, Any] = {
        "role": "updates",
        "params": params,
        "target": target_of(api, agents, all_agents, tags),
        "timeout_s": timeout_s,
        "stop_on_failure": stop_on_failure,
    }
    if batch_size:
        body["batch_size"] = batch_size
    job = api.post("/api/v1/jobs", body)
    if wait_s == 0:
        click.echo(job["id"])
        return
    watch = JobWatch(api, job["id"], "json" if as_json else "group")
    batches = -(-(job.get("agent_count") or 1) // batch_size) if batch_size else 1
    view = follow_interruptibly(watch, wait_s, timeout_s * batches)
    if as_json:
        emit_json(view)
    watch.summarize(view)
