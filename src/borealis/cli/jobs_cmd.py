"""`borealis jobs` and `borealis job show|cancel`: the job history and one job's rows, followed live
on request, through the public API."""

from __future__ import annotations

from typing import Any

import click

from borealis.cli.api_client import segment
from borealis.cli.connection import client, connection_options
from borealis.cli.output import emit_json, json_option, pairs, table

JOB_STATES = ["queued", "running", "succeeded", "failed", "cancelled", "expired"]
PAGE = 100


def _what(job: dict[str, Any]) -> str:
    params = job.get("params") or {}
    if job.get("role") == "script":
        text = params.get("script") or f"script {job.get('script_id')}@{job.get('script_version')}"
        return str(text).strip().splitlines()[0][:50] if str(text).strip() else "-"
    return str(job.get("role"))


@click.command("jobs")
@click.option("--state", type=click.Choice(JOB_STATES), default=None, help="Only jobs in this summary state.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@connection_options
def jobs_list(state: str | None, limit: int, as_json: bool) -> None:
    """The latest jobs, newest first.

    \b
    Examples:
      borealis jobs
      borealis jobs --state running --json
    """
    api = client()
    found: list[dict[str, Any]] = []
    cursor = None
    while len(found) < limit:
        page = api.get("/api/v1/jobs", {"limit": PAGE, **({"cursor": cursor} if cursor else {})})
        found += [job for job in page["items"] if state is None or job["status"] == state]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    found = found[:limit]
    if as_json:
        emit_json(found)
        return
    rows = [
        {
            **job,
            "what": _what(job),
            "done": f"{job['counts'].get('succeeded', 0)}/{job.get('agent_count')}",
            "failed": sum(
                n for s, n in job["counts"].items() if s not in ("succeeded", "queued", "sent", "running")
            ),
        }
        for job in found
    ]
    columns = [
        ("id", "id"),
        ("status", "status"),
        ("role", "role"),
        ("what", "what"),
        ("done", "ok"),
        ("failed", "failed"),
        ("created_by", "by"),
        ("created_at", "created"),
    ]
    table(rows, columns)


@click.command("show")
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Watch it until every agent is done (output as it comes).")
@click.option("--group", is_flag=True, help="With --follow: one block per agent.")
@json_option
@connection_options
def show(job_id: str, follow: bool, group: bool, as_json: bool) -> None:
    """One job: its summary and each agent's row; --follow prints output as agents finish and exits
    like `borealis run` (0 only when every agent succeeded).

    \b
    Examples:
      borealis job show 01J…
      borealis job show 01J… --follow
    """
    from borealis.cli.job_watch import JobWatch, follow_interruptibly, labels_of

    api = client()
    if follow:
        view = api.get(f"/api/v1/jobs/{segment(job_id)}")
        watch = JobWatch(api, view["id"], "json" if as_json else "group" if group else "lines")
        final = follow_interruptibly(watch, None, float(view.get("timeout_s") or 300))
        if as_json:
            emit_json(final)
        watch.summarize(final)
        return
    view = api.get(f"/api/v1/jobs/{segment(job_id)}")
    if as_json:
        emit_json(view)
        return
    pairs(
        {**view, "what": _what(view)},
        [
            "id",
            "status",
            "role",
            "what",
            "run_as",
            "agent_count",
            "created_by",
            "created_at",
            "expires_at",
            "cancelled_at",
        ],
    )
    click.echo("")
    fleet = {a["id"]: a for a in api.get_all("/api/v1/agents")}
    labels = labels_of(fleet, [r["agent_id"] for r in view["results"]])
    rows = [
        {
            **r,
            "agent": labels[r["agent_id"]],
            "output": (r.get("stdout") or r.get("error") or "").strip().splitlines()[-1:] or None,
        }
        for r in view["results"]
    ]
    table(
        rows,
        [
            ("agent", "agent"),
            ("status", "status"),
            ("exit_code", "exit"),
            ("finished_at", "finished"),
            ("output", "last line"),
        ],
    )


@click.command("cancel")
@click.argument("job_id")
@json_option
@connection_options
def cancel(job_id: str, as_json: bool) -> None:
    """Cancel every unfinished row of a job: `borealis job cancel 01J…`."""
    answer = client().post(f"/api/v1/jobs/{segment(job_id)}/cancel")
    if as_json:
        emit_json(answer)
    else:
        click.echo(f"job {job_id}: cancel requested")
