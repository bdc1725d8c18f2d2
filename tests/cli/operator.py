"""Helpers for the operator CLI's tests: `borealis` as a subprocess with its own config directory,
and a small fleet (a real server and real agents) shared by a module's tests."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.agent.agent_process import BOREALIS, AgentProcess
from tests.conftest import (
    POSTGRES_URL,
    ServerProcess,
    _create_database,
    _drop_database,
    _postgres_url_for,
    running_server,
)
from tests.support import run_sync, wait_for


@dataclass
class Done:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def clean_environment() -> dict[str, str]:
    """This process's environment without BOREALIS_* settings (so tests choose them)."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith("BOREALIS_") or k.startswith("BOREALIS_TEST")
    }


def borealis_cli(
    *args: str, config: Path, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 120
) -> Done:
    """`borealis ARGS` with BOREALIS_CONFIG_DIR=config and no inherited BOREALIS_URL/TOKEN."""
    done = subprocess.run(
        [*BOREALIS, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean_environment(), "BOREALIS_CONFIG_DIR": str(config), **(env or {})},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Done(done.returncode, done.stdout, done.stderr)


@dataclass
class Fleet:
    server: ServerProcess
    config: Path
    agents: dict[str, AgentProcess] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment of a `borealis` subprocess talking to this server with the admin token."""
        return {
            **clean_environment(),
            "BOREALIS_CONFIG_DIR": str(self.config),
            "BOREALIS_URL": self.server.url,
            "BOREALIS_TOKEN": self.server.token,
        }

    def cli(self, *args: str, stdin: str = "", timeout: float = 120) -> Done:
        env = {"BOREALIS_URL": self.server.url, "BOREALIS_TOKEN": self.server.token}
        return borealis_cli(*args, config=self.config, env=env, stdin=stdin, timeout=timeout)

    def status(self, name: str) -> str:
        return str(self.server.agent(self.agents[name].agent_id)["status"])

    def wait_status(self, name: str, status: str, timeout: float = 30) -> None:
        wait_for(lambda: self.status(name) == status, timeout, what=f"{name} {status}")

    def add_agent(self, name: str, root: Path, **settings: Any) -> AgentProcess:
        """Enroll and start an agent, online under the hostname `name`."""
        agent = AgentProcess(root, **settings)
        enrolled = agent.enroll(self.server.install_code())
        assert enrolled.returncode == 0, enrolled.stderr
        self.agents[name] = agent
        agent.start()
        self.wait_status(name, "online")
        with self.server.api as api:
            api.patch(f"/api/v1/agents/{agent.agent_id}", json={"hostname": name}).raise_for_status()
        return agent


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database for a module's server: SQLite (in its home), or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    if not POSTGRES_URL:
        pytest.skip("BOREALIS_TEST_POSTGRES_URL is not set")
    name = f"borealis_t_{uuid.uuid4().hex[:12]}"
    run_sync(_create_database(name))
    try:
        yield _postgres_url_for(name)
    finally:
        run_sync(_drop_database(name))


@pytest.fixture(scope="module")
def fleet_server(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    with running_server(root / "server", database) as server:
        fleet = Fleet(server, root / "config")
        try:
            yield fleet
        finally:
            for agent in fleet.agents.values():
                agent.close()
