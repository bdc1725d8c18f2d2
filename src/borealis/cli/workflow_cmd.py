"""`borealis workflow import|export|run`: workflows as JSON files, through a running server's API
(`--server`, `--token`; or BOREALIS_URL and BOREALIS_TOKEN). Options map onto `cli/api_client.py`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from borealis.core.errors import InvalidInput

EXPORT_FORMAT = 1
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "interrupted"}

server_option = click.option(
    "--server",
    "server",
    envvar="BOREALIS_URL",
    default=None,
    help="Server URL (default: the login profile's).",
)
token_option = click.option(
    "--token",
    "token",
    envvar="BOREALIS_TOKEN",
    default=None,
    help="An API token (default: the login profile's).",
)


def _client(server: str | None, token: str | None) -> Any:
    from borealis.cli.connection import resolve

    return resolve(None, server, token)


def _read_json(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{source} is not JSON: {exc}") from None


@click.group()
def workflow() -> None:
    """Workflows as files: import, export, run (through a running server)."""


@workflow.command("import")
@click.argument("source")
@click.option("--name", help="The workflow's name (default: the file's, or the file name).")
@click.option("--replace", "replace_id", help="Save as a new version of this workflow instead of a new one.")
@server_option
@token_option
def import_(
    source: str, name: str | None, replace_id: str | None, server: str | None, token: str | None
) -> None:
    """Create (or with --replace, update) a workflow from SOURCE (a file or -); prints its id."""
    data = _read_json(source)
    if not isinstance(data, dict):
        raise InvalidInput(f"{source} must hold a JSON object")
    document = data.get("document") if "document" in data else data
    chosen = name or data.get("name") or (Path(source).stem if source != "-" else None)
    if not chosen:
        raise InvalidInput("give the workflow a name with --name")
    api = _client(server, token)
    if replace_id:
        current = api.get(f"/api/v1/workflows/{replace_id}")
        body = {"version": current["version"], "name": chosen, "document": document}
        saved = api.put(f"/api/v1/workflows/{replace_id}", body)
    else:
        body = {"name": chosen, "description": str(data.get("description", "")), "document": document}
        saved = api.post("/api/v1/workflows", body)
    for node_id, url in (saved.get("hooks") or {}).items():
        click.echo(f"webhook {node_id}: {api.server}{url}", err=True)
    click.echo(saved["id"])


@workflow.command("export")
@click.argument("workflow_id")
@click.option("--output", "-o", default="-", help="A file to write (default: stdout).")
@click.option("--version", type=click.IntRange(min=1), help="An earlier version.")
@server_option
@token_option
def export(workflow_id: str, output: str, version: int | None, server: str | None, token: str | None) -> None:
    """Write a workflow (name, description, document) as JSON."""
    api = _client(server, token)
    found = api.get(f"/api/v1/workflows/{workflow_id}", params={"version": version} if version else None)
    data = {
        "borealis_workflow": EXPORT_FORMAT,
        "name": found["name"],
        "description": found["description"],
        "version": found["version"],
        "document": found["document"],
    }
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if output == "-":
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")


@workflow.command("run")
@click.argument("workflow_id")
@click.option("--input", "input_", default=None, help="Input as JSON text, or @FILE.")
@click.option(
    "--wait", type=click.FloatRange(min=0), default=0, help="Wait up to this many seconds for the end."
)
@click.option("--follow", "-f", is_flag=True, help="Print each node's state as it changes, until the end.")
@server_option
@token_option
def run(
    workflow_id: str, input_: str | None, wait: float, follow: bool, server: str | None, token: str | None
) -> None:
    """Start a run; prints the run as JSON. With --wait, exits 1 unless it succeeded. With --follow,
    prints node states live instead, and exits 1 unless the run succeeded.

    \b
    Examples:
      borealis workflow run 01J… --input '{"host": "web-01"}' --wait 60
      borealis workflow run 01J… --follow
    """
    payload: Any = None
    if input_ is not None:
        payload = _read_json(input_[1:]) if input_.startswith("@") else _parse(input_)
    api = _client(server, token)
    started = api.post(f"/api/v1/workflows/{workflow_id}/runs", {"input": payload})
    if follow:
        from borealis.cli.run_follow import follow_run

        if follow_run(api, started["id"], wait or None) != "succeeded":
            raise SystemExit(1)
        return
    result = started
    deadline = time.monotonic() + wait
    while wait and result["status"] not in FINAL and time.monotonic() < deadline:
        time.sleep(0.25)
        result = api.get(f"/api/v1/runs/{started['id']}")
    click.echo(json.dumps(result, indent=2))
    if wait and result["status"] != "succeeded":
        raise SystemExit(1)


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"--input is not JSON: {exc}") from None
