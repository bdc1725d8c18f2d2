"""Fixtures for agent tests: real agent processes, always killed at the end of the test."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.agent.agent_process import AgentProcess


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """`agents(**settings)` makes an agent with a fresh home; every process it starts is killed."""
    made: list[AgentProcess] = []

    def make(**settings: Any) -> AgentProcess:
        made.append(AgentProcess(tmp_path / f"agent-home-{len(made)}", **settings))
        return made[-1]

    try:
        yield make
    finally:
        for agent in made:
            agent.close()


@pytest.fixture
def test_user() -> Iterator[str]:
    """A throwaway account made for the test (no home folder), removed afterwards."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("creating a test user needs root and useradd")
    name = "brl" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        uid = pwd.getpwnam(name).pw_uid
        for process in psutil.process_iter(["uids"]):
            if process.info["uids"] and process.info["uids"].real == uid:
                process.kill()
        subprocess.run(["userdel", name], check=False, capture_output=True)
