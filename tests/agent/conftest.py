"""Fixtures for agent tests: real agent processes, always killed at the end of the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
