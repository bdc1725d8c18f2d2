"""The engine stands on its own: importing it and every module under it pulls in neither the server
nor the agent (one-way imports: server and agent use the engine, never the other way)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import borealis.engine
for info in pkgutil.walk_packages(borealis.engine.__path__, "borealis.engine."):
    importlib.import_module(info.name)
leaked = sorted(
    name for name in sys.modules
    if name.split(".")[:2] in (["borealis", "server"], ["borealis", "agent"])
)
print("\\n".join(leaked))
"""


def test_the_engine_imports_neither_the_server_nor_the_agent() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"the engine pulled in: {done.stdout.split()}"


def test_the_probe_sees_every_engine_module() -> None:
    probe = "import borealis.engine, pkgutil; print(len(list(pkgutil.walk_packages(borealis.engine.__path__, 'borealis.engine.'))))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 30, "the nodes package and the engine modules are all found"
