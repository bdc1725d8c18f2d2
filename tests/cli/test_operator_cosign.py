"""`borealis run --sign-key`: co-signed exactly as `borealis job submit` signs, so an agent that
requires operator co-signing runs it, and refuses the same run without the signature."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.agent.agent_process import AgentProcess
from tests.agent.test_cosign_e2e import PASSPHRASE, create_key
from tests.cli.operator import borealis_cli
from tests.conftest import ServerProcess
from tests.support import wait_for

pytestmark = pytest.mark.slow


def test_run_with_sign_key_runs_on_a_co_signing_agent(server: ServerProcess, tmp_path: Path) -> None:
    key = tmp_path / "operator.key"
    public = create_key(key)
    agent = AgentProcess(tmp_path / "agent")
    try:
        enrolled = agent.enroll(server.install_code(), "--operator-key", public)
        assert enrolled.returncode == 0, enrolled.stderr
        agent.start()
        wait_for(lambda: server.agent(agent.agent_id)["status"] == "online", 30, what="the agent online")
        env = {"BOREALIS_URL": server.url, "BOREALIS_TOKEN": server.token}
        config = tmp_path / "config"
        unsigned = borealis_cli(
            "run", "--agent", agent.agent_id, "--json", "--", "echo plain", config=config, env=env
        )
        assert unsigned.code == 3, unsigned.err
        [row] = unsigned.json()["results"]
        assert row["status"] == "failed" and "co-sign" in (row["error"] or "")

        signed = borealis_cli(
            "run",
            "--agent",
            agent.agent_id,
            "--sign-key",
            str(key),
            "--passphrase-stdin",
            "--",
            "echo signed",
            config=config,
            env=env,
            stdin=PASSPHRASE + "\n",
        )
        assert signed.code == 0, signed.err
        assert [line.split(": ", 1)[1] for line in signed.out.splitlines()] == ["signed"]
        assert "co-signed with" in signed.err
    finally:
        with contextlib.suppress(Exception):
            agent.close()
