"""Self-update of an agent installed the way `borealis agent install` leaves it: the supervisor runs
from `<home>/Agent/venv` (a copied environment with pip, no editable hook, no source tree), as the
systemd unit starts it; the new version's environment takes its dependencies from that venv."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from borealis.agent.self_update.install import BASE_PTH, site_packages
from borealis.agent.self_update.state import interpreter, version_dir
from tests.agent.agent_process import AgentProcess, borealis
from tests.agent.test_updater_e2e import roll_out, row_when, upload
from tests.agent.update_wheels import build_agent_wheel
from tests.conftest import ServerProcess
from tests.support import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def installed(tmp_path: Path, server: ServerProcess) -> Iterator[AgentProcess]:
    agent = AgentProcess(tmp_path / "agent-home", update_confirm_s=30.0)
    enrolled = agent.enroll(server.install_code())
    assert enrolled.returncode == 0, enrolled.stderr
    done = borealis(
        "agent", "install", "--home", str(agent.home.root), "--root", str(tmp_path / "root"), timeout=180
    )
    assert done.returncode == 0, done.stderr
    venv_python = agent.home.agent / "venv" / "bin" / "python"
    log = (agent.home.root / "run.out").open("wb")
    agent.proc = subprocess.Popen(
        [
            str(venv_python),
            "-m",
            "borealis",
            "agent",
            "run",
            "--home",
            str(agent.home.root),
            "--no-startup-delay",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    agent.pids.add(agent.proc.pid)
    try:
        wait_for(
            lambda: server.agent(agent.agent_id)["status"] == "online", 30, what="the installed agent online"
        )
        yield agent
    finally:
        agent.close()
        log.close()


def test_an_installed_agent_updates_with_dependencies_from_its_own_environment(
    tmp_path: Path, server: ServerProcess, installed: AgentProcess
) -> None:
    upload(server, build_agent_wheel(tmp_path, "0.9.8"))

    roll_out(server, "0.9.8", installed)
    row_when(server, "0.9.8", "connected", timeout=90)

    assert server.agent(installed.agent_id)["version"] == "0.9.8"
    env = version_dir(installed.home, "0.9.8")
    base = (site_packages(env) / BASE_PTH).read_text().split()
    venv = installed.home.agent / "venv"
    assert base and all(Path(path).is_relative_to(venv) for path in base), base
    worker = psutil.Process(installed.wait_worker())
    assert worker.cmdline()[0] == str(interpreter(env))
    supervisor = psutil.Process(installed.proc.pid if installed.proc else 0)
    assert supervisor.cmdline()[0] == str(venv / "bin" / "python"), (
        "the supervisor stays where systemd put it"
    )
