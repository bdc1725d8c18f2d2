"""`borealis workflows`, `borealis schedules` and `borealis schedule preview`: the server's automation
at a glance, through the public API."""

from __future__ import annotations

import click

from borealis.cli.api_client import segment
from borealis.cli.connection import client, connection_options
from borealis.cli.output import emit_json, json_option, table


@click.command()
@json_option
@connection_options
def workflows(as_json: bool) -> None:
    """The workflows on the server.

    \b
    Examples:
      borealis workflows
      borealis workflow run ID --follow
    """
    items = client().get_all("/api/v1/workflows")
    if as_json:
        emit_json(items)
        return
    rows = [{**w, "status": "enabled" if w.get("enabled") else "disabled"} for w in items]
    table(
        rows,
        [
            ("id", "id"),
            ("name", "name"),
            ("version", "version"),
            ("status", "state"),
            ("updated_by", "updated by"),
            ("updated_at", "updated"),
        ],
    )


@click.command()
@json_option
@connection_options
def schedules(as_json: bool) -> None:
    """The schedules on the server, with their next run.

    \b
    Examples:
      borealis schedules
      borealis schedule preview ID --count 5
    """
    items = client().get_all("/api/v1/schedules")
    if as_json:
        emit_json(items)
        return
    rows = [
        {
            **s,
            "when": s.get("cron") or (f"every {s['interval_s']} s" if s.get("interval_s") else "-"),
            "does": (s.get("action") or {}).get("type"),
        }
        for s in items
    ]
    table(
        rows,
        [
            ("id", "id"),
            ("name", "name"),
            ("status", "status"),
            ("when", "when"),
            ("timezone", "tz"),
            ("does", "action"),
            ("next_run_at", "next run"),
            ("run_count", "runs"),
        ],
    )


@click.group()
def schedule() -> None:
    """One schedule on the server."""


@schedule.command()
@click.argument("schedule_id")
@click.option("--count", type=click.IntRange(1, 100), default=10, show_default=True)
@json_option
@connection_options
def preview(schedule_id: str, count: int, as_json: bool) -> None:
    """The schedule's next slots, in UTC and its own time zone: `borealis schedule preview ID`."""
    answer = client().get(f"/api/v1/schedules/{segment(schedule_id)}/preview", {"count": count})
    if as_json:
        emit_json(answer)
        return
    table(answer["items"], [("at", "utc"), ("local", f"local ({answer.get('timezone')})")])
