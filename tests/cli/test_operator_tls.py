"""`borealis login` against a `--tls` server: verification is on by default (a self-signed certificate
is refused), and the certificate can be pinned by its fingerprint, as agents pin it."""

from __future__ import annotations

from pathlib import Path

import pytest

from borealis.protocol.tls import pem_fingerprint
from tests.agent.test_tls_e2e import tls_server
from tests.cli.operator import borealis_cli
from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow
__all__ = ["tls_server"]


def test_login_pins_the_servers_certificate_by_fingerprint(tls_server: ServerProcess, tmp_path: Path) -> None:
    config = tmp_path / "config"
    url = tls_server.url
    unpinned = borealis_cli("login", url, "--token-stdin", config=config, stdin=tls_server.token)
    assert unpinned.code == 4 and "CERTIFICATE_VERIFY_FAILED" in unpinned.err

    wrong = borealis_cli(
        "login",
        url,
        "--token-stdin",
        "--fingerprint",
        "sha256:" + "0" * 64,
        config=config,
        stdin=tls_server.token,
    )
    assert wrong.code == 4
    assert wrong.err.startswith("borealis: error: TLS pin: the server's TLS certificate does not match")

    cert = (tls_server.home / "Server" / "keys" / "tls_cert.pem").read_text()
    pinned = borealis_cli(
        "login",
        url,
        "--token-stdin",
        "--fingerprint",
        pem_fingerprint(cert),
        config=config,
        stdin=tls_server.token,
    )
    assert pinned.code == 0, pinned.err
    listed = borealis_cli("agents", "--json", config=config)
    assert listed.code == 0 and listed.json() == [], listed.err
    by_env = borealis_cli(
        "agents", config=config, env={"BOREALIS_URL": url, "BOREALIS_TOKEN": tls_server.token}
    )
    assert by_env.code == 0  # the same URL as the profile: its pinned certificate is used
