"""`borealis run`: a script on the fleet from one line, like `salt '*' cmd.run`, with results as they
arrive and an exit code that says whether every target succeeded (co-signed with --sign-key)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from borealis.cli.connection import client, connection_options
from borealis.cli.keys_cmd import passphrase_stdin_option
from borealis.cli.output import emit_json
from borealis.core.errors import InvalidInput

if TYPE_CHECKING:
    from borealis.cli.api_client import ApiClient

LANGUAGES = ["bash", "sh", "python", "powershell", "cmd"]


def target_of(
    api: ApiClient, agents: tuple[str, ...], all_agents: bool, tags: tuple[str, ...]
) -> dict[str, Any]:
    """The job's target; --agent takes ids or hostnames (resolved to ids, which is what is signed)."""
    from borealis.cli.fleet_cmd import find_agent

    if sum((bool(agents), all_agents, bool(tags))) != 1:
        raise InvalidInput(
            "give exactly one target: --all, --tag T (repeatable) or --agent ID|HOSTNAME (repeatable)"
        )
    if agents:
        return {"agents": [find_agent(api, ref)["id"] for ref in agents]}
    return {"all": True} if all_agents else {"tags": list(tags)}


def script_params(
    api: ApiClient,
    language: str,
    script: str | None,
    file: str | None,
    library: str | None,
    args: tuple[str, ...],
) -> dict[str, Any]:
    if sum(value is not None for value in (script, file, library)) != 1:
        raise InvalidInput(
            "give the script once: after --, with --file FILE, or with --script NAME[@VERSION]"
        )
    if file is not None:
        try:
            script = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc.strerror or exc}") from None
    if script is not None:
        return {"language": language, "script": script, "args": list(args)}
    name, _, version = str(library).partition("@")
    found = [s for s in api.get_all("/api/v1/scripts") if s["name"] == name or s["id"] == name]
    if not found:
        raise InvalidInput(f"no library script named {name!r}")
    params: dict[str, Any] = {"script_id": found[0]["id"], "args": list(args)}
    if version:
        if not version.isdigit():
            raise InvalidInput(f"a script version is a number, not {version!r}")
        params["script_version"] = int(version)
    return params


@click.command()
@click.option("--all", "all_agents", is_flag=True, help="Every agent.")
@click.option("--tag", "tags", multiple=True, help="Agents with this tag (repeat: with every one).")
@click.option("--agent", "agents", multiple=True, help="An agent id or hostname (repeatable).")
@click.option("--as", "run_as", type=click.Choice(["system", "user"]), default="system", show_default=True)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=1),
    default=60,
    show_default=True,
    help="Seconds per agent.",
)
@click.option(
    "--batch", "batch_size", type=click.IntRange(min=1), default=None, help="Rolling batches of N agents."
)
@click.option("--stop-on-failure", is_flag=True, help="With --batch: stop after a batch with a failure.")
@click.option("--lang", "language", type=click.Choice(LANGUAGES), default="bash", show_default=True)
@click.option(
    "--file", "file", type=click.Path(dir_okay=False, exists=True), help="Read the script from FILE."
)
@click.option("--script", "library", default=None, metavar="NAME[@VERSION]", help="A library script.")
@click.option("--arg", "args", multiple=True, help="A script argument (repeatable).")
@click.option("--group", is_flag=True, help="One block per agent instead of prefixed lines.")
@click.option("--json", "as_json", is_flag=True, help="At the end, the job as the API gives it.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="One JSON row per agent as it finishes.")
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=None,
    help="Wait up to S seconds, for offline agents too (default: until the online ones finish); 0: print the job id.",
)
@click.option(
    "--expires",
    "expires_s",
    type=click.IntRange(1, 30 * 86400),
    default=3600,
    show_default=True,
    help="Offline agents get the job until then (s).",
)
@click.option("--sign-key", "sign_key", default=None, help="Co-sign with this operator key file.")
@passphrase_stdin_option
@connection_options
@click.argument("script", required=False)
def run(
    all_agents: bool,
    tags: tuple[str, ...],
    agents: tuple[str, ...],
    run_as: str,
    timeout_s: float,
    batch_size: int | None,
    stop_on_failure: bool,
    language: str,
    file: str | None,
    library: str | None,
    args: tuple[str, ...],
    group: bool,
    as_json: bool,
    as_jsonl: bool,
    wait_s: float | None,
    expires_s: int,
    sign_key: str | None,
    passphrase_stdin: bool,
    script: str | None,
) -> None:
    """Run a script on agents and show what each answers.

    Exit codes: 0 every target succeeded; 3 some target failed (or timed out, was cancelled…);
    5 some target had not finished when the wait ended (offline agents keep the job until --expires);
    4 login needed or token refused; 2 bad input; 130 interrupted.

    \b
    Examples:
      borealis run --all -- 'uptime'
      borealis run --tag web --batch 5 --timeout 120 --file deploy.sh
      borealis run --agent db-01 --as user --lang python -- 'import os; print(os.getlogin())'
      borealis run --tag web --script restart-nginx@3 --json
      borealis run --all --wait 0 -- 'apt-get -y upgrade'     # prints the job id
    """
    from borealis.cli.job_cmd import sign_body
    from borealis.cli.job_watch import JobWatch, follow_interruptibly

    if as_json and as_jsonl:
        raise InvalidInput("give --json or --jsonl, not both")
    api = client()
    body: dict[str, Any] = {
        "role": "script",
        "params": script_params(api, language, script, file, library, args),
        "run_as": run_as,
        "target": target_of(api, agents, all_agents, tags),
        "timeout_s": timeout_s,
        "expires_in_s": expires_s,
        "stop_on_failure": stop_on_failure,
    }
    if batch_size:
        body["batch_size"] = batch_size
    if sign_key is not None:
        sign_body(body, sign_key, passphrase_stdin, int(time.time()) + expires_s)
    job = api.post("/api/v1/jobs", body)
    if wait_s == 0:
        click.echo(job["id"])
        return
    mode = "json" if as_json else "jsonl" if as_jsonl else "group" if group else "lines"
    watch = JobWatch(api, job["id"], mode)
    batches = -(-(job.get("agent_count") or 1) // batch_size) if batch_size else 1
    view = follow_interruptibly(watch, wait_s, timeout_s * batches)
    if as_json:
        emit_json(view)
    watch.summarize(view)
