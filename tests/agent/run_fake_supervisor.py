"""`python run_fake_supervisor.py HOME MODE`: the real Supervisor around `fake_worker.py MODE`."""

from __future__ import annotations

import sys
from pathlib import Path

from borealis.agent.service.supervisor import Supervisor
from borealis.agent.service.supervisor_state import supervisor_path
from borealis.core.home import Home
from borealis.core.logs import setup_logging
from borealis.core.settings import load_agent_settings

if __name__ == "__main__":
    home = Home(Path(sys.argv[1]))
    settings = load_agent_settings(home)
    setup_logging(home.agent_logs / "supervisor.log", settings.log)
    command = [sys.executable, str(Path(__file__).with_name("fake_worker.py")), sys.argv[2]]
    sys.exit(Supervisor(settings, command, supervisor_path(home), agent_id="agt_fake").run())
