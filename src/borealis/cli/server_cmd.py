"""`borealis server`: run the server in the foreground."""

from __future__ import annotations

import click

from borealis.cli.options import db_option, home_option
from borealis.core.home import Home
from borealis.core.settings import load_server_settings


@click.command()
@home_option
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port [default: 5000].")
@db_option
@click.option("--bus", "bus", default=None, help="Bus URL: memory:// (default) or nats://host:4222.")
@click.option("--public-url", default=None, help="The URL agents and browsers use to reach this server.")
@click.option("--tls", is_flag=True, default=None, help="HTTPS with a self-signed certificate agents pin.")
@click.option(
    "--tls-cert", default=None, type=click.Path(dir_okay=False), help="HTTPS with this certificate."
)
@click.option("--tls-key", default=None, type=click.Path(dir_okay=False), help="The key of --tls-cert.")
def server(
    home: str,
    host: str | None,
    port: int | None,
    db: str | None,
    bus: str | None,
    public_url: str | None,
    tls: bool | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Run the Borealis server (API, agent gateway, presence) in the foreground."""
    from borealis.server.runner import run

    settings = load_server_settings(
        Home.resolve(home),
        host=host,
        port=port,
        db_url=db,
        bus_url=bus,
        public_url=public_url,
        tls=tls or None,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    run(settings)
