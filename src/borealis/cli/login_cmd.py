"""`borealis login|logout`: exchange a user's password (or a given token) for a scoped API token and
keep it in a profile (profiles.py), so client commands need no secrets on their command line."""

from __future__ import annotations

import getpass
import socket
import ssl
import sys
from pathlib import Path
from typing import Any

import click

from borealis.cli import profiles
from borealis.core.errors import BorealisError, InvalidInput

DEFAULT_URL = "http://127.0.0.1:5000"
TOKEN_DAYS = 30


class LoginFailed(BorealisError):
    exit_code = 4


def _verify(url: str, cert_pem: str) -> ssl.SSLContext | bool:
    if not cert_pem:
        return True
    from borealis.protocol.tls import pinned_context

    path = profiles.config_dir() / ".login.pem"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(cert_pem, encoding="utf-8")
    try:
        return pinned_context(path)
    finally:
        path.unlink()


def _pinned_pem(url: str, fingerprint: str | None, cacert: str | None) -> str:
    if cacert:
        return Path(cacert).read_text(encoding="utf-8")
    if not fingerprint:
        return ""
    from borealis.protocol.tls import fetch_pinned

    try:
        return fetch_pinned(url, fingerprint)
    except BorealisError as exc:
        raise LoginFailed(
            f"TLS pin: {exc.detail.replace('the install code', 'the given fingerprint')}"
        ) from None


def _request(http: Any, method: str, url: str, **options: Any) -> Any:
    import httpx

    from borealis.cli.api_client import error_of

    try:
        response = http.request(method, url, **options)
    except httpx.HTTPError as exc:
        raise LoginFailed(f"cannot reach the server at {url}: {exc}") from None
    if response.status_code == 401:
        raise LoginFailed("login failed: wrong username or password")
    if response.status_code >= 400:
        raise error_of(response)
    return response.json() if response.content else {}


def _token_by_password(
    http: Any, url: str, user: str, password: str, scopes: tuple[str, ...], days: int
) -> tuple[str, str]:
    answer = _request(http, "POST", f"{url}/api/v1/auth/login", json={"username": user, "password": password})
    csrf = {"x-csrf-token": answer["csrf_token"]}
    wanted = list(scopes) or _request(http, "GET", f"{url}/api/v1/auth/me")["scopes"]
    made = _request(
        http,
        "POST",
        f"{url}/api/v1/tokens",
        headers=csrf,
        json={
            "name": f"cli {user}@{socket.gethostname()}"[:128],
            "scopes": wanted,
            "expires_in_s": days * 86400,
        },
    )
    _request(http, "POST", f"{url}/api/v1/auth/logout", headers=csrf)  # the token outlives the session
    return str(made["token"]), str(made["id"])


@click.command()
@click.argument("url", default=DEFAULT_URL, required=False)
@click.option("--profile", envvar="BOREALIS_PROFILE", default=profiles.DEFAULT_PROFILE, show_default=True)
@click.option("--user", "-u", default=None, help="User name (asked when not given).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (one line).")
@click.option("--token-stdin", is_flag=True, help="Store an existing API token read from stdin instead.")
@click.option("--scope", "scopes", multiple=True, help="The new token's scopes (default: all the user's).")
@click.option(
    "--days", type=click.IntRange(1, 365), default=TOKEN_DAYS, show_default=True, help="Token life."
)
@click.option(
    "--fingerprint", default=None, help="Pin the server's TLS certificate (sha256:…), as agents do."
)
@click.option("--cacert", type=click.Path(dir_okay=False, exists=True), help="Pin this certificate file.")
def login(
    url: str,
    profile: str,
    user: str | None,
    password_stdin: bool,
    token_stdin: bool,
    scopes: tuple[str, ...],
    days: int,
    fingerprint: str | None,
    cacert: str | None,
) -> None:
    """Log in to a server and save a scoped API token in a profile (mode 0600).

    \b
    Examples:
      borealis login https://rmm.example.com -u alice
      borealis login http://127.0.0.1:5000 --profile lab -u bob --password-stdin < pw.txt
      echo "$TOKEN" | borealis login https://rmm:5000 --token-stdin --fingerprint sha256:ab12…
    """
    import httpx

    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"the server URL must start with http:// or https://, not {url!r}")
    cert_pem = _pinned_pem(url, fingerprint, cacert)
    with httpx.Client(timeout=30, verify=_verify(url, cert_pem)) as http:
        if token_stdin:
            token, token_id = sys.stdin.readline().strip(), ""
            if not token:
                raise InvalidInput("no token on stdin")
            me = _request(http, "GET", f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            user = str(me.get("name", ""))
        else:
            if user is None:
                user = click.prompt("User", err=True)
            password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("Password: ")
            token, token_id = _token_by_password(http, url, user, password, scopes, days)
    saved = profiles.save(profile, profiles.Profile(url, token, token_id, user or "", cert_pem))
    click.echo(f"logged in to {url} as {user} (profile {profile!r}, saved in {saved})", err=True)


@click.command()
@click.option("--profile", envvar="BOREALIS_PROFILE", default=profiles.DEFAULT_PROFILE, show_default=True)
def logout(profile: str) -> None:
    """Revoke the profile's token on the server (one `login` made) and forget the profile.

    \b
    Example:
      borealis logout --profile lab
    """
    from borealis.cli.api_client import ApiClient

    saved = profiles.load(profile)
    if saved is None:
        raise InvalidInput(f"no profile {profile!r} to log out of")
    if saved.token_id:  # made by `login`; a token given with --token-stdin is only forgotten
        try:  # the token revokes itself (POST /api/v1/auth/logout with a token)
            ApiClient(saved.url, saved.token, profiles.cert_file(profile, saved)).post("/api/v1/auth/logout")
        except BorealisError as exc:
            click.echo(f"borealis: the token was not revoked on the server: {exc.detail}", err=True)
    profiles.remove(profile)
    click.echo(f"logged out of {saved.url} (profile {profile!r})", err=True)
