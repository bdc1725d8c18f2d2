"""End to end: install codes the server refuses, and a revoked agent that must not hammer."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from borealis.agent.service.status_file import read_status
from borealis.protocol import keys
from borealis.protocol.install_code import InstallCode
from tests.agent.agent_process import AgentProcess
from tests.conftest import ServerProcess
from tests.support import run_sync, wait_for

pytestmark = pytest.mark.slow
Agents = Callable[..., AgentProcess]


async def expire_enrollment(server: ServerProcess, enrollment_id: str) -> None:
    """The API's shortest expiry is a minute; move this one into the past in the database."""
    from sqlalchemy import update

    from borealis.core.clock import utcnow
    from borealis.server.db.database import Database
    from borealis.server.db.models import Enrollment

    db = Database(server.settings.database_url)
    try:
        async with db.transaction() as session:
            await session.execute(
                update(Enrollment)
                .where(Enrollment.id == enrollment_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        await db.close()


def assert_refused(agent: AgentProcess, server: ServerProcess, code: str, message: str, rows: int) -> None:
    result = agent.enroll(code)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [f"borealis: error: {message}"], result.stderr
    assert result.stdout == ""
    assert not (agent.home.agent / "identity").exists(), "a refused enrollment writes nothing"
    assert not agent.home.agent_toml.exists()
    assert len(server.agents()) == rows
    status = agent.status()
    assert status["enrolled"] is False


def test_a_wrong_code_is_refused(server: ServerProcess, agents: Agents) -> None:
    real = InstallCode.decode(server.install_code())
    wrong = replace(real, secret=keys.random_token()).encode()
    assert_refused(agents(), server, wrong, "install code is not valid", rows=0)


def test_an_expired_code_is_refused(server: ServerProcess, agents: Agents) -> None:
    with server.api as api:
        response = api.post("/api/v1/enrollments", json={"uses": 1, "expires_in_s": 60})
    response.raise_for_status()
    run_sync(expire_enrollment(server, response.json()["id"]))
    assert_refused(agents(), server, response.json()["install_code"], "install code has expired", rows=0)


def test_a_used_up_code_is_refused(server: ServerProcess, agents: Agents) -> None:
    code = server.install_code(uses=1)
    assert agents().enroll(code).returncode == 0
    assert_refused(agents(), server, code, "install code has been used up", rows=1)


def test_a_code_whose_fingerprint_is_not_the_servers_is_refused(
    server: ServerProcess, agents: Agents
) -> None:
    real = InstallCode.decode(server.install_code())
    forged = replace(real, fingerprint=keys.fingerprint(keys.generate())).encode()
    agent = agents()
    result = agent.enroll(forged)
    assert result.returncode != 0
    assert result.stderr.strip() == "borealis: error: server key does not match the install code"
    assert not (agent.home.agent / "identity").exists()


def test_an_unreachable_server_is_a_one_line_error(agents: Agents) -> None:
    code = InstallCode("http://127.0.0.1:9", keys.fingerprint(keys.generate()), "x").encode()
    agent = agents()
    result = agent.enroll(code)
    assert result.returncode != 0
    assert result.stderr.startswith("borealis: error: cannot reach the server at http://127.0.0.1:9")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not agent.home.root.exists()


def test_a_revoked_agent_is_refused_says_why_and_does_not_hammer(
    server: ServerProcess, agents: Agents
) -> None:
    agent = agents(backoff_cap_s=20.0)
    assert agent.enroll(server.install_code()).returncode == 0
    agent.start()
    wait_for(lambda: server.agent(agent.agent_id)["status"] == "online", 15, what="online")

    with server.api as api:
        api.post(f"/api/v1/agents/{agent.agent_id}/revoke").raise_for_status()
    refused = wait_for(
        lambda: (s := read_status(agent.home)) is not None and s.last_close_code == 4403 and s,
        10,
        what="the agent to see 4403",
    )
    assert refused.state.value in ("disconnected", "connecting")
    assert refused.last_error == "agent revoked"
    log = wait_for(lambda: 'msg="server refused the agent"' in (text := agent.log()) and text, 5)
    assert (
        'msg="server refused the agent"' in log
        and "close_code=4403" in log
        and 'reason="agent revoked"' in log
    )

    attempts_before = agent.log().count('msg="connecting"')
    watch_until = time.monotonic() + 4.0
    while time.monotonic() < watch_until:  # observe for a while: the count must not climb
        assert agent.log().count('msg="connecting"') - attempts_before <= 1
        time.sleep(0.2)
    status = agent.status()
    assert not status["connected"] and status["running"]
    assert server.agent(agent.agent_id)["status"] == "revoked"


def test_an_agent_waiting_for_approval_comes_online_once_approved(
    server: ServerProcess, agents: Agents
) -> None:
    agent = agents()
    enrolled = agent.enroll(server.install_code(approve=True))
    assert enrolled.returncode == 0
    assert "waits for an administrator's approval" in enrolled.stderr
    agent.start()
    wait_for(
        lambda: (s := read_status(agent.home)) is not None and s.last_close_code == 4423,
        10,
        what="the agent to hear 4423",
    )
    assert server.agent(agent.agent_id)["status"] == "pending"
    assert 'msg="waiting for approval"' in agent.log()

    with server.api as api:
        api.post(f"/api/v1/agents/{agent.agent_id}/approve").raise_for_status()
    wait_for(lambda: server.agent(agent.agent_id)["status"] == "online", 15, what="online once approved")
    assert agent.status()["connected"]
