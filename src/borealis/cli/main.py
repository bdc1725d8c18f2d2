"""Entry point of `borealis` and `python -m borealis`; the one place errors become exit codes."""

from __future__ import annotations

import importlib
import os
import sys

import click

from borealis import __version__
from borealis.core.errors import BorealisError


class LazyGroup(click.Group):
    """Imports a sub-command's module only when it runs, so an agent process never loads the server."""

    COMMANDS = {
        "server": "borealis.cli.server_cmd:server",
        "demo": "borealis.cli.demo_cmd:demo",
        "admin": "borealis.cli.admin_cmd:admin",
        "agent": "borealis.cli.agent_cmd:agent",
        "helper": "borealis.cli.agent_cmd:helper",
        "workflow": "borealis.cli.workflow_cmd:workflow",
        "keys": "borealis.cli.keys_cmd:keys_group",
        "job": "borealis.cli.job_cmd:job",
        # The operator's client of a running server (public API only; no server or agent imports).
        "login": "borealis.cli.login_cmd:login",
        "logout": "borealis.cli.login_cmd:logout",
        "agents": "borealis.cli.fleet_cmd:agents_list",
        "run": "borealis.cli.run_cmd:run",
        "jobs": "borealis.cli.jobs_cmd:jobs_list",
        "inventory": "borealis.cli.inventory_cmd:inventory",
        "software": "borealis.cli.inventory_cmd:software",
        "updates": "borealis.cli.inventory_cmd:updates",
        "patch": "borealis.cli.inventory_cmd:patch",
        "workflows": "borealis.cli.automation_cmd:workflows",
        "schedules": "borealis.cli.automation_cmd:schedules",
        "schedule": "borealis.cli.automation_cmd:schedule",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="borealis")
def cli() -> None:
    """Borealis: remote monitoring, management and automation.

    Commands on this machine (server, demo, admin, agent enroll|run|install|status, helper) take
    --home DIR (or BOREALIS_HOME; default ./borealis-home). Commands on a running server (login,
    agents, run, jobs, inventory, ...) use the profile `borealis login` saved, or BOREALIS_URL and
    BOREALIS_TOKEN.

    \b
    Examples:
      borealis login https://rmm.example.com -u alice
      borealis agents --status online
      borealis run --all -- 'uptime'
    """


def main() -> None:
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("borealis: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        hint = " (see --help)" if isinstance(exc, click.UsageError) else ""
        message = " ".join(exc.format_message().split())
        click.echo(f"borealis: error: {message}{hint}", err=True)
        sys.exit(exc.exit_code)
    except BorealisError as exc:
        click.echo(f"borealis: error: {exc.detail}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the one edge where an unexpected failure becomes a one-line message
        if os.environ.get("BOREALIS_DEBUG"):
            raise
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        click.echo(
            f"borealis: error: {type(exc).__name__}: {first_line} (BOREALIS_DEBUG=1 shows more)", err=True
        )
        sys.exit(1)
    if isinstance(code, int):
        sys.exit(code)
