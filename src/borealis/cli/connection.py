"""How a client command finds its server: --server/--token (or BOREALIS_URL/BOREALIS_TOKEN, which
override the profile for scripts and CI), else the profile saved by `borealis login`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from borealis.cli import profiles
from borealis.core.errors import BorealisError

if TYPE_CHECKING:
    from borealis.cli.api_client import ApiClient

F = TypeVar("F", bound=Callable[..., Any])


class NotLoggedIn(BorealisError):
    exit_code = 4


def connection_options(fn: F) -> F:
    """--profile, --server, --token, --cacert, collected into one `conn` dict argument."""

    def collect(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        ctx.meta.setdefault("borealis.conn", {})[param.name] = value
        return value

    options = [
        click.option(
            "--profile",
            envvar="BOREALIS_PROFILE",
            default=profiles.DEFAULT_PROFILE,
            show_default=True,
            expose_value=False,
            callback=collect,
            help="The saved connection to use (see `borealis login`).",
        ),
        click.option(
            "--server",
            envvar="BOREALIS_URL",
            default=None,
            expose_value=False,
            callback=collect,
            help="Server URL (BOREALIS_URL); overrides the profile.",
        ),
        click.option(
            "--token",
            envvar="BOREALIS_TOKEN",
            default=None,
            expose_value=False,
            callback=collect,
            help="API token (BOREALIS_TOKEN); overrides the profile.",
        ),
        click.option(
            "--cacert",
            envvar="BOREALIS_CACERT",
            default=None,
            expose_value=False,
            callback=collect,
            type=click.Path(dir_okay=False, exists=True),
            help="Trust exactly this certificate (a --tls server's tls_cert.pem).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def client() -> ApiClient:
    """The API client for the running command, from its connection options and the profile."""
    given: dict[str, Any] = click.get_current_context().meta.get("borealis.conn", {})
    return resolve(given.get("profile"), given.get("server"), given.get("token"), given.get("cacert"))


def resolve(
    profile: str | None, server: str | None, token: str | None, cacert: str | None = None
) -> ApiClient:
    """A client from explicit values (options or BOREALIS_URL/BOREALIS_TOKEN) over the saved profile."""
    from borealis.cli.api_client import ApiClient

    name = profile or profiles.DEFAULT_PROFILE
    saved = profiles.load(name)
    server = server or (saved.url if saved else None)
    token = token or (saved.token if saved else None)
    if not server or not token:
        raise NotLoggedIn(
            f"not logged in (profile {name!r}): run `borealis login URL`, or set BOREALIS_URL and BOREALIS_TOKEN"
        )
    if cacert is None and saved is not None and saved.url.rstrip("/") == server.rstrip("/"):
        cacert = profiles.cert_file(name, saved)
    return ApiClient(server, token, cacert)
