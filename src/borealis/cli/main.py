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

    # `borealis --help` prints these without importing any command module (start-up stays quick).
    LOCAL = {
        "server": "Run the Borealis server (API, agent gateway, presence) in the foreground.",
        "demo": "Run a server and a local agent on one home; prints the console URL and a login.",
        "admin": "Users, API tokens and install codes on the server's home (works while it is stopped).",
        "agent": "This device's agent (enroll, install, run, status); show, tags, approve… via the server.",
        "helper": "The user-session helper: runs `run_as: user` jobs in this login session.",
        "keys": "Operator signing keys for co-signed jobs.",
    }
    REMOTE = {
        "login": "Log in to a server; saves a scoped API token in a profile.",
        "logout": "Revoke the profile's token and forget the profile.",
        "agents": "List the fleet (--status, --tag, -q).",
        "run": "Run a script on agents (--all, --tag, --agent) and show each answer.",
        "jobs": "The latest jobs.",
        "job": "One job: show (--follow), cancel; submit or sign a co-signed job.",
        "inventory": "An agent's inventory, or one section of it.",
        "software": "Which machines hold a package (--older-than VERSION).",
        "updates": "Machines with pending OS updates (--security).",
        "patch": "Install pending OS updates on agents, in batches.",
        "workflows": "The workflows on the server.",
        "workflow": "Workflows as files (import, export) and runs (run --follow).",
        "schedules": "The schedules on the server.",
        "schedule": "One schedule: preview its next slots.",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for title, summaries in (("On this machine", self.LOCAL), ("On a running server", self.REMOTE)):
            with formatter.section(title):
                formatter.write_dl(sorted(summaries.items()))

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
