"""Following a workflow run from a terminal: one line per node state change, then the run's end."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from borealis.cli.output import colour

if TYPE_CHECKING:
    from borealis.cli.api_client import ApiClient

RUN_FINAL = {"succeeded", "failed", "cancelled", "timed_out", "interrupted"}


def follow_run(api: ApiClient, run_id: str, wait_s: float | None) -> str:
    """Print node states as they change until the run ends (or `wait_s` passes); its final status."""
    seen: dict[str, str] = {}
    deadline = time.monotonic() + wait_s if wait_s else None
    interval = 0.05
    while True:
        run = api.get(f"/api/v1/runs/{run_id}")
        for node in run.get("nodes", []):
            key = f"{node['node_id']}#{node.get('attempt', 1)}"
            if seen.get(key) == node["status"]:
                continue
            seen[key] = node["status"]
            took = f" {node['duration_ms']} ms" if node.get("duration_ms") is not None else ""
            error = f" {node['error']}" if node.get("error") else ""
            attempt = f" (attempt {node['attempt']})" if (node.get("attempt") or 1) > 1 else ""
            click.echo(
                f"{node['node_id']} [{node['node_type']}]{attempt}: {colour(node['status'])}{took}{error}"
            )
        if run["status"] in RUN_FINAL or (deadline is not None and time.monotonic() > deadline):
            break
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)
    error = f": {run['error']}" if run.get("error") else ""
    click.echo(f"run {run_id}: " + colour(str(run["status"])) + error, err=True)
    return str(run["status"])
