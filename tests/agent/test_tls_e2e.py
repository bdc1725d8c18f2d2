"""End to end: `borealis server --tls` with its self-signed certificate, pinned by the install code;
a real agent enrolls and runs a job over HTTPS/WSS, a wrong pin is refused before the secret is sent,
the certificate survives a restart, and the console cookie is `Secure`."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from borealis.protocol.install_code import InstallCode
from borealis.protocol.tls import pem_fingerprint
from tests.agent.agent_process import BOREALIS, AgentProcess
from tests.agent.test_agent_online import status_of
from tests.agent.test_jobs_e2e import finished_job, submit_script
from tests.conftest import ServerProcess, admin_token, make_settings
from tests.support import free_port, run_sync, wait_for

pytestmark = pytest.mark.slow
Agents = Callable[..., AgentProcess]


@pytest.fixture
def tls_server(tmp_path: Path, db_url: str) -> Iterator[ServerProcess]:
    home = tmp_path / "server-home"
    settings = make_settings(home, db_url)
    process = ServerProcess(home=home, port=free_port(), db_url=db_url, args=("--tls",), tls=True)
    process.token = run_sync(admin_token(settings))
    process.start()
    try:
        yield process
    finally:
        process.kill()


def served_fingerprint(server: ServerProcess) -> str:
    pem = ssl.get_server_certificate(("127.0.0.1", server.port))
    return pem_fingerprint(pem)


def test_an_agent_pins_the_self_signed_certificate_and_runs_a_job_over_tls(
    tls_server: ServerProcess, agents: Agents
) -> None:
    cert = tls_server.home / "Server" / "keys" / "tls_cert.pem"
    assert (
        cert.is_file()
        and (tls_server.home / "Server" / "keys" / "tls_key.pem").stat().st_mode & 0o777 == 0o600
    )
    code = InstallCode.decode(tls_server.install_code(uses=2))
    assert code.server_url.startswith("https://")
    assert code.tls_fingerprint == served_fingerprint(tls_server) == pem_fingerprint(cert.read_text())

    # Plain HTTP on the TLS port gets nowhere; a client that verifies against the system CAs is refused.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_server.port}/readyz", timeout=3)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{tls_server.url}/readyz", timeout=3)

    # A code whose pin is not the served certificate's: refused before the secret leaves the machine.
    impostor = agents()
    wrong = replace(code, tls_fingerprint="sha256:" + "0" * 64).encode()
    refused = impostor.enroll(wrong)
    assert refused.returncode != 0
    assert "TLS certificate does not match the install code" in refused.stderr
    assert not (impostor.home.agent / "identity").exists()

    agent = agents()
    enrolled = agent.enroll(code.encode())
    assert enrolled.returncode == 0, enrolled.stderr
    assert (agent.home.agent_identity / "server_tls.pem").is_file()
    agent.start()
    wait_for(lambda: status_of(tls_server, agent.agent_id) == "online", 20, what="the agent online over TLS")
    job_id = submit_script(tls_server, agent.agent_id, "echo over-tls")
    (row,) = finished_job(tls_server, job_id)["results"]
    assert row["status"] == "succeeded" and row["stdout"].strip() == "over-tls"

    # The operator's CLI trusts the copied certificate with --cacert.
    done = subprocess.run(
        [
            *BOREALIS,
            "job",
            "submit",
            "--server",
            tls_server.url,
            "--cacert",
            str(cert),
            "--agent",
            agent.agent_id,
            "--wait",
            "60",
            "--",
            "echo cli-over-tls",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "BOREALIS_TOKEN": tls_server.token},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["stdout"].strip() == "cli-over-tls"

    # A restart reuses the certificate, so the pinned agent comes back by itself.
    before = served_fingerprint(tls_server)
    tls_server.kill()
    tls_server.start()
    assert served_fingerprint(tls_server) == before
    wait_for(lambda: status_of(tls_server, agent.agent_id) == "online", 30, what="the agent back over TLS")


def test_the_console_cookie_is_secure_over_tls(tls_server: ServerProcess) -> None:
    from borealis.core.home import Home
    from borealis.core.settings import load_server_settings
    from borealis.server.admin import create_user
    from borealis.server.auth.scopes import Role

    settings = load_server_settings(Home(tls_server.home), db_url=tls_server.db_url or None)
    run_sync(create_user(settings, "alice", Role.ADMIN, "a long enough password"))
    with httpx.Client(base_url=tls_server.url, verify=False, timeout=10) as client:
        answer = client.post(
            "/api/v1/auth/login", json={"username": "alice", "password": "a long enough password"}
        )
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie
