"""`borealis demo`: a server and one enrolled local agent on one home, until Ctrl-C.

First run: creates the home, an admin with a random password and an API token (both printed once),
an install code, and enrolls the local agent. Later runs on the same home reuse all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from types import FrameType

import click
import httpx

from borealis.cli.options import home_option
from borealis.core.errors import TransientError
from borealis.core.home import Home, ensure_dir
from borealis.core.settings import ServerSettings, load_server_settings, update_toml
from borealis.core.timeparse import parse_duration

ADMIN = "admin"


def _borealis(*args: str) -> list[str]:
    return [sys.executable, "-m", "borealis", *args]


def _wait_ready(url: str, server: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise TransientError(f"the server exited with code {server.returncode}; see its log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TransientError(f"the server did not become ready at {url}")


def _first_run_secrets(settings: ServerSettings) -> tuple[str | None, str | None]:
    """Creates the admin and a token when the home has none; returns what to print once."""
    from borealis.server.admin import create_token_secret, create_user, user_exists
    from borealis.server.auth.scopes import Role, Scope
    from borealis.server.auth.secrets import generate_password

    if asyncio.run(user_exists(settings, ADMIN)):
        return None, None
    password = generate_password()
    asyncio.run(create_user(settings, ADMIN, Role.ADMIN, password))
    token = asyncio.run(create_token_secret(settings, "demo", frozenset({Scope.ADMIN}), None))
    return password, token


def _stop(process: subprocess.Popen[bytes] | None, timeout_s: float = 15.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@click.command()
@home_option
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
def demo(home: str, port: int) -> None:
    """Run a server and a local agent on one home; prints the console URL and a login."""
    from borealis.server.admin import create_install_code
    from borealis.server.console import console_built

    where = Home.resolve(home)
    ensure_dir(where.root)
    update_toml(where.server_toml, host="127.0.0.1", port=port)
    settings = load_server_settings(where)
    url = settings.base_url
    password, token = _first_run_secrets(settings)

    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    server = agent = None
    previous = signal.signal(signal.SIGINT, on_signal), signal.signal(signal.SIGTERM, on_signal)
    try:
        # Own sessions: Ctrl-C reaches only the demo, which then stops the agent before the server.
        server = subprocess.Popen(
            _borealis("server", "--home", str(where.root), "--port", str(port)), start_new_session=True
        )
        _wait_ready(url, server)
        if not (where.agent_identity / "identity.json").exists():
            code = asyncio.run(create_install_code(settings, 1, parse_duration("1h"), ["demo"], False, url))
            subprocess.run(
                _borealis("agent", "enroll", "--home", str(where.root), "--code", code), check=True
            )
        agent = subprocess.Popen(
            _borealis("agent", "run", "--home", str(where.root), "--no-startup-delay"), start_new_session=True
        )
        click.echo("", err=True)
        if console_built():
            click.echo(f"Console: {url}/", err=True)
        else:
            click.echo("Console: not built (it needs Node.js 20+); the API alone is served", err=True)
        click.echo(f"Borealis demo is running at {url}  (home: {where.root})", err=True)
        click.echo(f"  API docs: {url}/api/v1/docs", err=True)
        if password:
            click.echo(f"  login:    {ADMIN} / {password}   (shown once; keep it)", err=True)
            click.echo(f"  token:    {token}   (shown once; Authorization: Bearer …)", err=True)
        else:
            click.echo(f"  login:    {ADMIN} (password was printed at the first run)", err=True)
        click.echo("  Ctrl-C stops the server and the agent.", err=True)
        while not stopping and server.poll() is None:
            time.sleep(0.2)
    finally:
        _stop(agent)
        _stop(server)
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    click.echo("demo stopped", err=True)
