"""End to end against a real server: enroll, come online, survive restarts, stop, and be killed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from tests.agent.agent_process import AgentProcess
from tests.conftest import ServerProcess
from tests.support import wait_for

pytestmark = pytest.mark.slow
Agents = Callable[..., AgentProcess]


def status_of(server: ServerProcess, agent_id: str) -> str:
    return str(server.agent(agent_id)["status"])


def online_agent(server: ServerProcess, agents: Agents, **settings: object) -> AgentProcess:
    agent = agents(**settings)
    enrolled = agent.enroll(server.install_code())
    assert enrolled.returncode == 0, enrolled.stderr
    agent.start()
    wait_for(lambda: status_of(server, agent.agent_id) == "online", 15, what="the agent online")
    return agent


def test_a_fresh_agent_enrolls_and_is_online_within_seconds(server: ServerProcess, agents: Agents) -> None:
    agent = agents()
    started = time.monotonic()
    enrolled = agent.enroll(server.install_code())
    assert enrolled.returncode == 0, enrolled.stderr
    assert enrolled.stdout.strip() == agent.agent_id and agent.agent_id
    agent.start()
    wait_for(lambda: status_of(server, agent.agent_id) == "online", 15, what="the agent online")
    assert time.monotonic() - started < 15

    status = wait_for(lambda: (s := agent.status())["connected"] and s, 10, what="status: connected")
    assert status["enrolled"] and status["running"] and status["state"] == "connected"
    assert status["agent_id"] == agent.agent_id and status["server_url"] == server.url
    assert status["connected_since"] and status["restarts"] == 0
    row = server.agent(agent.agent_id)
    assert row["hostname"] and row["os"]
    assert f"agent_id={agent.agent_id}" in agent.log("agent")


def test_the_agent_comes_back_by_itself_after_the_server_is_killed(
    server: ServerProcess, agents: Agents
) -> None:
    agent = online_agent(server, agents)
    before = agent.status()["connected_since"]
    server.kill()
    wait_for(lambda: not agent.status()["connected"], 10, what="the agent to notice")
    server.start()
    wait_for(lambda: status_of(server, agent.agent_id) == "online", 15, what="the agent back online")
    after = wait_for(lambda: (s := agent.status())["connected"] and s, 10, what="status: connected")
    assert after["connected_since"] != before
    assert after["restarts"] == 0, "reconnecting is the worker's job; the supervisor restarted nothing"


def test_a_clean_stop_is_offline_at_once_and_both_processes_exit_0(
    server: ServerProcess, agents: Agents
) -> None:
    agent = online_agent(server, agents)
    worker = agent.wait_worker()
    started = time.monotonic()
    assert agent.stop() == 0
    wait_for(lambda: status_of(server, agent.agent_id) == "offline", 3, interval=0.05, what="offline")
    assert time.monotonic() - started < 1.5
    assert f"worker_pid={worker} exit_code=0" in agent.log("supervisor")
    status = agent.status()
    assert not status["running"] and not status["connected"] and status["state"] == "stopped"


def test_ctrl_c_in_the_foreground_is_a_clean_stop(server: ServerProcess, agents: Agents) -> None:
    agent = online_agent(server, agents)
    worker = agent.wait_worker()
    assert agent.interrupt() == 0
    wait_for(lambda: status_of(server, agent.agent_id) == "offline", 3, interval=0.05, what="offline")
    assert f"worker_pid={worker} exit_code=0" in agent.log("supervisor")


def test_a_killed_agent_is_offline_after_the_presence_window(server: ServerProcess, agents: Agents) -> None:
    agent = online_agent(server, agents)
    agent.wait_worker()
    agent.kill()
    killed = time.monotonic()
    assert status_of(server, agent.agent_id) == "online", "a silent drop is not a clean close"
    wait_for(lambda: status_of(server, agent.agent_id) == "offline", 10, what="offline")
    assert time.monotonic() - killed >= 1.0  # the window is 2.5 s at heartbeat_s=1
    assert not agent.status()["running"]


def test_a_killed_worker_is_restarted_and_online_again(server: ServerProcess, agents: Agents) -> None:
    agent = online_agent(server, agents)
    first = agent.wait_worker()
    os.kill(first, signal.SIGKILL)
    second = agent.wait_worker(other_than=first)
    wait_for(lambda: (s := agent.status())["connected"] and s["restarts"] == 1, 15, what="reconnected")
    assert status_of(server, agent.agent_id) == "online"
    restart = agent.status()["last_restarts"][-1]
    assert (restart["reason"], restart["detail"], restart["worker_pid"]) == (
        "crashed",
        "killed by SIGKILL",
        first,
    )
    assert second != first


def test_a_hung_worker_is_killed_and_restarted(server: ServerProcess, agents: Agents) -> None:
    agent = online_agent(server, agents)
    first = agent.wait_worker()
    os.kill(first, signal.SIGSTOP)
    agent.wait_worker(other_than=first, timeout=10)
    wait_for(lambda: agent.status()["connected"], 15, what="reconnected after the hang")
    wait_for(lambda: status_of(server, agent.agent_id) == "online", 10, what="online again")
    reasons = [r["reason"] for r in agent.status()["last_restarts"]]
    assert reasons == ["hang"]
    assert 'msg="worker hangs; killing it"' in agent.log("supervisor")


def test_a_worker_over_its_memory_budget_is_restarted(server: ServerProcess, agents: Agents) -> None:
    agent = agents(memory_budget_mb=5)
    assert agent.enroll(server.install_code()).returncode == 0
    agent.start()
    wait_for(lambda: agent.status()["restarts"] >= 1, 15, what="a restart")
    restart = agent.status()["last_restarts"][0]
    assert restart["reason"] == "memory" and "over the budget of 5 MiB" in restart["detail"]
    assert "reason=memory" in agent.log("supervisor")
