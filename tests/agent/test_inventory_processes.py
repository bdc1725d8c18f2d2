"""The processes section travels whatever the command lines hold."""

from __future__ import annotations

import subprocess
import sys

from borealis.agent.inventory.frames import build_frames
from borealis.agent.inventory.processes import collect_processes
from borealis.protocol.inventory import section_hash


def test_a_command_line_with_newlines_and_quotes_is_sent_as_data() -> None:
    odd = 'first line\nsecond "line" [[[[[[[[[[[[[[[[[[ \\ \x1b[0m'
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", odd])
    try:
        processes = collect_processes(sample_s=0.05)
        [mine] = [p for p in processes if p["pid"] == child.pid]
        assert odd in mine["cmdline"]
        section = {"hash": section_hash(processes), "error": None, "data": processes}
        [frame] = build_frames({"processes": section})
        sent = frame["sections"]["processes"]
        assert sent["error"] is None and sent["hash"] == section["hash"]
    finally:
        child.kill()
        child.wait()
