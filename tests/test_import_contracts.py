"""The import contracts in pyproject.toml hold, and a forbidden import planted in a copy breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = [
    sys.executable,
    "-c",
    "from importlinter.cli import lint_imports_command; lint_imports_command()",
]


def _copy_project(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "src" / "borealis",
        tmp_path / "src" / "borealis",
        ignore=shutil.ignore_patterns("__pycache__", "console_dist"),
    )
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (tmp_path / "pyproject.toml").write_text(tomli_w.dumps({"tool": {"importlinter": config}}))
    return tmp_path


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return subprocess.run(
        [*LINT_IMPORTS, "--no-cache", str(project / "pyproject.toml")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _plant(project: Path, module: str, line: str) -> None:
    path = project / "src" / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_untouched_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(_copy_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "borealis.core.errors",
            "import borealis.server",
            ["cli above server and agent, above engine, above protocol, above core BROKEN"],
        ),
        (
            "borealis.agent.clock",
            "from borealis.server import state",
            [
                "cli above server and agent, above engine, above protocol, above core BROKEN",
                "server and agent never import each other BROKEN",
            ],
        ),
        (
            "borealis.protocol.messages",
            "import borealis.agent",
            ["cli above server and agent, above engine, above protocol, above core BROKEN"],
        ),
        (
            "borealis.engine.errors",
            "from borealis.server.workflows import models",
            ["cli above server and agent, above engine, above protocol, above core BROKEN"],
        ),
        (
            "borealis.server.workflows.dispatcher",
            "import borealis.agent.clock",
            [
                "cli above server and agent, above engine, above protocol, above core BROKEN",
                "server and agent never import each other BROKEN",
            ],
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, broken: list[str]
) -> None:
    project = _copy_project(tmp_path)
    _plant(project, module, line)
    result = _lint(project)
    assert result.returncode != 0
    for contract in broken:
        assert contract in result.stdout, result.stdout
    assert module in result.stdout, result.stdout


def test_every_package_is_a_regular_package() -> None:
    """A folder without `__init__.py` is a namespace package, which lint-imports does not read: its
    imports would escape every contract (server/workflows/ did, until this test)."""
    unread = [
        str(folder.relative_to(ROOT))
        for folder in (ROOT / "src" / "borealis").rglob("*")
        if folder.is_dir()
        and any(folder.glob("*.py"))
        and not (folder / "__init__.py").exists()
        and "migrations" not in folder.parts
    ]
    assert unread == []
