"""`borealis admin …`: users, tokens and install codes, straight on the server home.

The `create-*` commands print only the new secret on stdout; messages go to stderr.
"""

from __future__ import annotations

import asyncio
import sys

import click

from borealis.cli.options import db_option, home_option
from borealis.core.errors import InvalidInput
from borealis.core.home import Home
from borealis.core.settings import ServerSettings, load_server_settings
from borealis.core.timeparse import parse_duration


def _settings(home: str, db: str | None) -> ServerSettings:
    return load_server_settings(Home.resolve(home), db_url=db)


@click.group()
def admin() -> None:
    """Manage users, API tokens and install codes (works while the server is stopped)."""


@admin.command("create-user")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "operator", "viewer"]))
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from stdin instead of generating one."
)
@home_option
@db_option
def create_user(name: str, role: str, password_stdin: bool, home: str, db: str | None) -> None:
    """Create an operator account. Without --password-stdin a random password is printed once."""
    from borealis.server.admin import create_user as run
    from borealis.server.auth.scopes import Role
    from borealis.server.auth.secrets import generate_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("no password on stdin")
    else:
        password = generate_password()
    asyncio.run(run(_settings(home, db), name, Role(role), password))
    click.echo(f"created {role} {name!r}", err=True)
    if not password_stdin:
        click.echo(password)


@admin.command("create-token")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--scope", "scopes", multiple=True, required=True, help="A scope; repeat for several.")
@click.option("--expires", default=None, help="Lifetime such as 30d or 12h (default: never).")
@home_option
@db_option
def create_token(name: str, scopes: tuple[str, ...], expires: str | None, home: str, db: str | None) -> None:
    """Create an API token and print it (it is shown only this once)."""
    from borealis.server.admin import create_token_secret
    from borealis.server.auth.scopes import parse_scopes

    lifetime = parse_duration(expires) if expires else None
    secret = asyncio.run(create_token_secret(_settings(home, db), name, parse_scopes(scopes), lifetime))
    click.echo(f"created token {name!r} with scopes {', '.join(scopes)}", err=True)
    click.echo(secret)


@admin.command("create-enrollment")
@click.option("--uses", type=click.IntRange(1, 100_000), default=1, show_default=True)
@click.option("--expires", default="24h", show_default=True, help="Lifetime such as 24h or 7d.")
@click.option("--tag", "tags", multiple=True, help="Tag given to agents that enroll with it; repeatable.")
@click.option("--approve", is_flag=True, help="Agents wait for an operator's approval before connecting.")
@click.option("--url", "server_url", default=None, help="Server URL agents use (default: from server.toml).")
@home_option
@db_option
def create_enrollment(
    uses: int,
    expires: str,
    tags: tuple[str, ...],
    approve: bool,
    server_url: str | None,
    home: str,
    db: str | None,
) -> None:
    """Create an install code and print it (paste it into `borealis agent enroll --code`)."""
    from borealis.server.admin import create_install_code

    code = asyncio.run(
        create_install_code(
            _settings(home, db), uses, parse_duration(expires), list(tags), approve, server_url
        )
    )
    click.echo(f"install code for {uses} agent(s), valid {expires}", err=True)
    click.echo(code)
