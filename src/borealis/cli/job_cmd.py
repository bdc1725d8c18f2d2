"""`borealis job submit|set-policy`: submit a job (optionally co-signed with an operator key) through a
running server's public API. A small client: it imports no server or agent code, only the protocol's
canonical encoding (`protocol.cosign`) and `cli/api_client.py`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from borealis.cli.keys_cmd import load_operator_key, passphrase_stdin_option
from borealis.core.errors import BorealisError, InvalidInput
from borealis.protocol import cosign, keys

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired", "interrupted"}

server_option = click.option(
    "--server", envvar="BOREALIS_URL", default=None, help="Server URL (default: the login profile's)."
)
token_option = click.option(
    "--token",
    envvar="BOREALIS_TOKEN",
    default=None,
    help="An API token with jobs:run (or BOREALIS_TOKEN; default: the login profile's).",
)
cacert_option = click.option(
    "--cacert",
    envvar="BOREALIS_CACERT",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Trust this certificate (a --tls server's Server/keys/tls_cert.pem).",
)
sign_option = click.option(
    "--sign-key", "sign_key", default=None, help="Co-sign the job with this operator key file."
)
target_options: list[Any] = [
    click.option("--agent", "agents", multiple=True, help="Target agent id (repeat for several)."),
    click.option("--all", "all_agents", is_flag=True, help="Target every agent."),
    click.option("--tag", "tags", multiple=True, help="Target agents with this tag (not co-signable)."),
]
run_options: list[Any] = [
    click.option("--run-as", type=click.Choice(["system", "user"]), default="system", show_default=True),
    click.option("--timeout", "timeout_s", type=float, default=300.0, show_default=True, help="Seconds."),
    click.option("--expires", "expires_s", type=int, default=3600, show_default=True, help="Seconds."),
    click.option("--wait", "wait_s", type=float, default=0.0, help="Wait up to S seconds for the results."),
]


class JobFailed(BorealisError):
    exit_code = 3


F = TypeVar("F", bound=Callable[..., Any])


def _apply(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def _target(agents: tuple[str, ...], all_agents: bool, tags: tuple[str, ...]) -> dict[str, Any]:
    if sum((bool(agents), all_agents, bool(tags))) != 1:
        raise InvalidInput("give exactly one target: --agent ID (repeatable), --tag T or --all")
    if agents:
        return {"agents": list(agents)}
    return {"all": True} if all_agents else {"tags": list(tags)}


def sign_body(
    body: dict[str, Any], sign_key: str, passphrase_stdin: bool, not_after: int, repeat_s: int | None = None
) -> None:
    """Add the operator's co-signature over `body`'s content (protocol/cosign.py)."""
    key = load_operator_key(sign_key, passphrase_stdin)
    body["operator_signature"] = cosign.sign_job(
        key,
        role=body["role"],
        params=body["params"],
        run_as=body["run_as"],
        target=body["target"],
        timeout_s=body["timeout_s"],
        not_after=not_after,
        repeat_s=repeat_s,
    )
    click.echo(f"co-signed with {keys.fingerprint(key)}", err=True)


def job_params(
    role: str,
    language: str,
    script: str | None,
    script_file: str | None,
    args: tuple[str, ...],
    params_json: str | None,
) -> dict[str, Any]:
    if role == "script":
        if (script is None) == (script_file is None):
            raise InvalidInput("give the script as an argument or with --script-file, not both")
        body_text = script if script is not None else Path(str(script_file)).read_text(encoding="utf-8")
        return {"language": language, "script": body_text, "args": list(args)}
    try:
        params = json.loads(params_json or "{}")
    except ValueError as exc:
        raise InvalidInput(f"--params is not JSON: {exc}") from None
    if not isinstance(params, dict):
        raise InvalidInput("--params must be a JSON object")
    return params


script_options: list[Any] = [
    click.option("--role", default="script", show_default=True),
    click.option("--language", default="bash", show_default=True, help="For the script role."),
    click.option("--script-file", type=click.Path(dir_okay=False), help="Read the script from a file."),
    click.option("--arg", "args", multiple=True, help="A script argument (repeatable)."),
    click.option("--params", "params_json", default=None, help="The role's params as JSON (other roles)."),
    click.argument("script", required=False),
]


def submit_job(
    server: str | None,
    token: str | None,
    body: dict[str, Any],
    *,
    cacert: str | None,
    sign_key: str | None,
    passphrase_stdin: bool,
    expires_s: int,
    wait_s: float,
) -> None:
    """Sign (when asked) and submit `body`; print the job id, or with a wait the results as JSON."""
    from borealis.cli.connection import resolve

    body["expires_in_s"] = expires_s
    if sign_key is not None:
        sign_body(body, sign_key, passphrase_stdin, int(time.time()) + expires_s)
    client = resolve(None, server, token, cacert)
    job = client.post("/api/v1/jobs", body)
    click.echo(f"job {job['id']} submitted to {job.get('agent_count', '?')} agent(s)", err=True)
    if wait_s <= 0:
        click.echo(job["id"])
        return
    deadline = time.monotonic() + wait_s
    while True:
        view = client.get(f"/api/v1/jobs/{job['id']}")
        results = view.get("results", [])
        if results and all(row.get("status") in FINAL for row in results):
            break
        if time.monotonic() > deadline:
            click.echo(json.dumps(view, indent=2))
            raise JobFailed(f"job {job['id']} did not finish within {wait_s:g} s")
        time.sleep(0.5)
    click.echo(json.dumps(view, indent=2))
    if any(row.get("status") != "succeeded" for row in results):
        raise JobFailed(f"job {job['id']}: not every agent succeeded")


@click.group()
def job() -> None:
    """Jobs through a running server: show or follow one, cancel it, submit one (co-signed when
    asked), sign one for later. `borealis run` is the everyday way to run a script."""


@job.command()
@server_option
@token_option
@cacert_option
@sign_option
@passphrase_stdin_option
@_apply(target_options)
@_apply(run_options)
@_apply(script_options)
def submit(
    server: str | None,
    token: str | None,
    cacert: str | None,
    sign_key: str | None,
    passphrase_stdin: bool,
    agents: tuple[str, ...],
    all_agents: bool,
    tags: tuple[str, ...],
    run_as: str,
    timeout_s: float,
    expires_s: int,
    wait_s: float,
    role: str,
    language: str,
    script_file: str | None,
    args: tuple[str, ...],
    params_json: str | None,
    script: str | None,
) -> None:
    """Submit a job: `borealis job submit --agent ID --sign-key FILE -- 'echo hi'`; prints its id."""
    body = {
        "role": role,
        "params": job_params(role, language, script, script_file, args, params_json),
        "run_as": run_as,
        "target": _target(agents, all_agents, tags),
        "timeout_s": timeout_s,
    }
    submit_job(
        server,
        token,
        body,
        cacert=cacert,
        sign_key=sign_key,
        passphrase_stdin=passphrase_stdin,
        expires_s=expires_s,
        wait_s=wait_s,
    )


@job.command("set-policy")
@server_option
@token_option
@cacert_option
@sign_option
@passphrase_stdin_option
@_apply(target_options)
@_apply(run_options)
@click.option(
    "--operator-key",
    "operator_keys",
    multiple=True,
    help="A trusted operator public key (repeat); none: off.",
)
def set_policy(
    server: str | None,
    token: str | None,
    cacert: str | None,
    sign_key: str | None,
    passphrase_stdin: bool,
    agents: tuple[str, ...],
    all_agents: bool,
    tags: tuple[str, ...],
    run_as: str,
    timeout_s: float,
    expires_s: int,
    wait_s: float,
    operator_keys: tuple[str, ...],
) -> None:
    """Change the operator keys agents trust; must be co-signed by a key they trust now."""
    for text in operator_keys:
        keys.public_from_b64(text)
    body = {
        "role": cosign.POLICY_ROLE,
        "params": {"operator_keys": list(operator_keys)},
        "run_as": run_as,
        "target": _target(agents, all_agents, tags),
        "timeout_s": timeout_s,
    }
    submit_job(
        server,
        token,
        body,
        cacert=cacert,
        sign_key=sign_key,
        passphrase_stdin=passphrase_stdin,
        expires_s=expires_s,
        wait_s=wait_s,
    )


@job.command()
@click.option("--sign-key", "sign_key", required=True, help="The operator key file.")
@passphrase_stdin_option
@_apply(target_options)
@click.option("--run-as", type=click.Choice(["system", "user"]), default="system", show_default=True)
@click.option("--timeout", "timeout_s", type=float, default=300.0, show_default=True, help="Seconds.")
@click.option(
    "--expires", "expires_s", type=int, default=3600, show_default=True, help="Each job's, seconds."
)
@click.option("--valid", "valid_s", type=int, default=30 * 86400, show_default=True, help="The signature's.")
@click.option(
    "--repeat",
    "repeat_s",
    type=click.IntRange(1, cosign.MAX_REPEAT_S),
    default=None,
    help="Repeatable: usable at most once per S seconds (a schedule's job).",
)
@_apply(script_options)
def sign(
    sign_key: str,
    passphrase_stdin: bool,
    agents: tuple[str, ...],
    all_agents: bool,
    tags: tuple[str, ...],
    run_as: str,
    timeout_s: float,
    expires_s: int,
    valid_s: int,
    repeat_s: int | None,
    role: str,
    language: str,
    script_file: str | None,
    args: tuple[str, ...],
    params_json: str | None,
    script: str | None,
) -> None:
    """Print a co-signed job body (JSON) without submitting it: for a schedule's `action.job`
    (with --repeat), or to submit later."""
    body: dict[str, Any] = {
        "role": role,
        "params": job_params(role, language, script, script_file, args, params_json),
        "run_as": run_as,
        "target": _target(agents, all_agents, tags),
        "timeout_s": timeout_s,
        "expires_in_s": expires_s,
    }
    sign_body(body, sign_key, passphrase_stdin, int(time.time()) + valid_s, repeat_s)
    click.echo(json.dumps(body, indent=2))


def _add_view_commands() -> None:
    from borealis.cli.jobs_cmd import cancel, show

    job.add_command(show)
    job.add_command(cancel)


_add_view_commands()
