"""Runs the server process: logging under <home>/Logs/Server, then uvicorn tuned for the gateway (DESIGN §2)."""

from __future__ import annotations

import ipaddress
import logging

import uvicorn

from borealis.core.errors import ConfigError, TransientError
from borealis.core.logs import setup_logging
from borealis.core.settings import ServerSettings
from borealis.server.app import create_app
from borealis.server.http_limits import bounded_http_protocol
from borealis.server.tls import cert_and_key


def trusted_proxies(settings: ServerSettings) -> list[str]:
    """The proxies whose X-Forwarded-For/-Proto are believed; none unless server.toml lists them."""
    for entry in settings.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"trusted_proxies: {entry!r} is not an address or a network") from exc
    return list(settings.trusted_proxies)


def uvicorn_config(settings: ServerSettings) -> uvicorn.Config:
    tls = cert_and_key(settings)
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop = "asyncio"
    proxies = trusted_proxies(settings)
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop=loop,
        http=bounded_http_protocol(settings.max_header_bytes, settings.max_headers),
        # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: a local process (or a
        # proxy nobody configured) could then pick the address that logins are throttled and audited by.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or [],
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        ws_max_size=settings.ws_max_bytes,
        lifespan="on",
        log_config=None,
        access_log=False,
        backlog=4096,
        timeout_graceful_shutdown=10,
        server_header=False,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )


def run(settings: ServerSettings) -> None:
    logger = setup_logging(settings.home.server_logs / "server.log", settings.log, also_stderr=True)
    uvicorn_logger = logging.getLogger("uvicorn")
    uvicorn_logger.handlers = list(logger.handlers)
    uvicorn_logger.setLevel(logging.WARNING)  # its per-connection INFO lines would flood at 10k agents
    uvicorn_logger.propagate = False
    server = uvicorn.Server(uvicorn_config(settings))
    server.run()
    if not server.started:
        raise TransientError(
            f"the server did not start on {settings.host}:{settings.port}; see the log above"
        )
