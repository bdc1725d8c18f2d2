"""The command line's shape: every command's --help works (with examples on the client commands),
the client commands import neither the server nor the agent, and the §4 commands keep their place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from borealis.cli.main import LazyGroup, cli

CLIENT_COMMANDS = [
    "login",
    "logout",
    "agents",
    "run",
    "jobs",
    "inventory",
    "software",
    "updates",
    "patch",
    "workflows",
    "schedules",
    "schedule",
    "job",
    "workflow",
    "keys",
]


def every_command(
    group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((*path, name))
        if isinstance(command, click.Group):
            found += every_command(command, ctx, (*path, name))
    return found


def test_every_command_has_working_help() -> None:
    runner = CliRunner()
    with click.Context(cli) as ctx:
        commands = every_command(cli, ctx)
    assert {("agent", "show"), ("agent", "tags", "add"), ("job", "cancel"), ("schedule", "preview")} <= set(
        commands
    )
    for path in commands:
        done = runner.invoke(cli, [*path, "--help"])
        assert done.exit_code == 0, (path, done.output)
        assert "Usage:" in done.output
        if path[0] in CLIENT_COMMANDS[:12] and not isinstance(cli.get_command(ctx, path[0]), click.Group):
            assert "Example" in done.output, path


def test_the_top_level_help_names_every_command_without_importing_them() -> None:
    assert set(LazyGroup.LOCAL) | set(LazyGroup.REMOTE) == set(LazyGroup.COMMANDS)
    assert not set(LazyGroup.LOCAL) & set(LazyGroup.REMOTE)
    done = CliRunner().invoke(cli, ["--help"])
    assert done.exit_code == 0
    for name in LazyGroup.COMMANDS:
        assert f"  {name} " in done.output


def test_the_contract_commands_keep_their_meaning() -> None:
    for name in ("server", "demo", "admin", "agent", "helper", "workflow"):
        assert name in LazyGroup.COMMANDS
    with click.Context(cli) as ctx:
        agent = cli.get_command(ctx, "agent")
        assert isinstance(agent, click.Group)
        assert {"enroll", "run", "install", "status", "show"} <= set(agent.list_commands(ctx))


def test_client_commands_import_neither_server_nor_agent() -> None:
    code = (
        "import sys, click\n"
        "from borealis.cli.main import cli\n"
        "ctx = click.Context(cli)\n"
        f"for name in {CLIENT_COMMANDS!r}:\n"
        "    command = cli.get_command(ctx, name)\n"
        "    if isinstance(command, click.Group):\n"
        "        [command.get_command(ctx, sub) for sub in command.list_commands(ctx)]\n"
        "agent = cli.get_command(ctx, 'agent')\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('borealis.server', 'borealis.agent')))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
    startup = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "borealis", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    heavy = [  # `--help` loads click and borealis's core only
        line
        for line in startup.stderr.splitlines()
        if any(m in line for m in ("borealis.server", "borealis.agent", "sqlalchemy", "fastapi", "httpx"))
    ]
    assert heavy == []


def test_shell_completion_is_clicks_own() -> None:
    program = str(Path(sys.executable).parent / "borealis")
    for shell in ("bash", "zsh", "fish"):
        source = subprocess.run(
            [program],
            env={**os.environ, "_BOREALIS_COMPLETE": f"{shell}_source"},
            capture_output=True,
            text=True,
        )
        assert source.returncode == 0 and "_BOREALIS_COMPLETE" in source.stdout, shell
    words = subprocess.run(
        [program],
        env={
            **os.environ,
            "_BOREALIS_COMPLETE": "bash_complete",
            "COMP_WORDS": "borealis agent t",
            "COMP_CWORD": "2",
        },
        capture_output=True,
        text=True,
    )
    assert words.stdout.split() == ["plain,tags"]
