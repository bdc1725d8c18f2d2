"""The `updates` role: list pending OS updates, or install all, the security ones, or named packages.

params: `{action: "list"|"install" (default list), which: "all"|"security"|"named" (default all),
packages: [names] (for named)}`.

- list: `data: {"manager", "updates": [items of the updates section]}` (the section is also sent
  to the server when it changed).
- install: runs apt-get, dnf or zypper non-interactively in its own process group, streaming its
  output; the job's exit code is the package manager's. `data: {"manager", "command",
  "reboot_required", "installed": [{name, arch, from_version, version}]}`, where `installed` is what
  changed in the package database (upgraded or newly installed). Afterwards the software and
  updates sections are collected again and sent (forced), before the job's result.

One package-manager operation at a time per agent; a second install, or an apt whose dpkg lock is
held by another program, fails at once with an error that says so.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from borealis.agent.inventory.machine import reboot_required
from borealis.agent.inventory.patching import (
    WHICH,
    InstallCommand,
    NothingToInstall,
    check_packages,
    dpkg_lock_held,
    install_command,
    lock_message,
)
from borealis.agent.inventory.updates import UpdatesUnavailable, update_manager
from borealis.agent.roles.contract import (
    JobRequest,
    JobResult,
    RoleContext,
    RoleError,
    RunContext,
)
from borealis.agent.roles.script import ScriptRole
from borealis.core.logs import kv
from borealis.protocol.jobs import JobState

ACTIONS = ("list", "install")
AFTER_INSTALL = ("software", "updates")

log = logging.getLogger("borealis.agent.updates")


def _params(params: dict[str, Any]) -> tuple[str, str, list[str]]:
    action, which = params.get("action", "list"), params.get("which", "all")
    if action not in ACTIONS:
        raise RoleError(f"params.action must be one of {', '.join(ACTIONS)}")
    if which not in WHICH:
        raise RoleError(f"params.which must be one of {', '.join(WHICH)}")
    packages: list[str] = []
    if action == "install" and which == "named":
        try:
            packages = check_packages(params.get("packages"))
        except ValueError as exc:
            raise RoleError(str(exc)) from None
    return action, which, packages


def _versions(section: dict[str, Any]) -> dict[tuple[str, str], str]:
    if section["error"]:
        raise RoleError(f"cannot read the installed packages: {section['error']}")
    return {(p["name"], p["arch"] or ""): p["version"] for p in section["data"]}


def _changed(before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    return [
        {"name": name, "arch": arch or None, "from_version": before.get((name, arch)), "version": version}
        for (name, arch), version in sorted(after.items())
        if before.get((name, arch)) != version
    ]


class UpdatesRole:
    name = "updates"
    contexts = frozenset({RunContext.SYSTEM})
    version = "1"

    def __init__(self) -> None:
        self._busy: str | None = None  # the job id of the install running now
        self._runner = ScriptRole()

    async def start(self, ctx: RoleContext) -> None:
        await self._runner.start(ctx)

    async def stop(self) -> None:
        await self._runner.stop()

    async def cancel(self, job_id: str) -> None:
        await self._runner.cancel(job_id)

    async def execute(self, request: JobRequest, ctx: RoleContext) -> JobResult:
        action, which, packages = _params(request.params)
        if ctx.inventory is None:
            raise RoleError("this agent runs no inventory service")
        try:
            manager = await asyncio.to_thread(update_manager)
        except UpdatesUnavailable as exc:
            raise RoleError(str(exc)) from None
        if action == "list":
            section = (await ctx.inventory.refresh(["updates"], force=False))["updates"]
            if section["error"]:
                raise RoleError(section["error"])
            return JobResult(
                JobState.SUCCEEDED, exit_code=0, data={"manager": manager, "updates": section["data"]}
            )
        if self._busy is not None:
            raise RoleError(f"another package-manager operation is running on this agent (job {self._busy})")
        self._busy = request.job_id
        try:
            return await self._install(request, manager, which, packages, ctx)
        finally:
            self._busy = None

    async def _install(
        self, request: JobRequest, manager: str, which: str, packages: list[str], ctx: RoleContext
    ) -> JobResult:
        assert ctx.inventory is not None
        if manager == "apt" and await asyncio.to_thread(dpkg_lock_held):
            raise RoleError("the package manager is busy: another process holds /var/lib/dpkg/lock-frontend")
        pending: list[dict[str, Any]] = []
        if which == "security" and manager == "apt":
            section = await ctx.inventory.collect("updates")
            if section["error"]:
                raise RoleError(section["error"])
            pending = section["data"]
        try:
            command = install_command(manager, which, packages, pending, ctx.inventory.config.apt_options)
        except NothingToInstall as exc:
            return JobResult(
                JobState.SUCCEEDED, exit_code=0, stdout_tail=f"{exc}\n",
                data={"manager": manager, "command": [], "reboot_required": False, "installed": []},
            )  # fmt: skip
        before = _versions(await ctx.inventory.collect("software"))
        ran = await self._run(request, command, ctx)
        code = ran.exit_code
        after = _versions(await ctx.inventory.collect("software"))
        rebooting = await asyncio.to_thread(reboot_required)
        try:
            await ctx.inventory.refresh(AFTER_INSTALL, force=True)
        except Exception:  # the install happened; a full outbox must not turn it into a failure
            log.exception("cannot send the inventory after an install", extra=kv(job_id=request.job_id))
        error = None
        if code != 0:
            held = lock_message(ran.stderr_tail + ran.stdout_tail)
            error = (
                f"the package manager is busy: {held}"
                if held
                else f"{command.argv[0]} exited with code {code}"
            )
        return JobResult(
            status=JobState.SUCCEEDED if code == 0 else JobState.FAILED,
            exit_code=code,
            stdout_tail=ran.stdout_tail,
            stderr_tail=ran.stderr_tail,
            data={
                "manager": manager,
                "command": command.argv,
                "reboot_required": rebooting,
                "installed": _changed(before, after),
            },
            error=error,
        )

    async def _run(self, job: JobRequest, command: InstallCommand, ctx: RoleContext) -> JobResult:
        """Run the package manager as the `script` role runs a program: its own process group, stdin
        closed, output streamed and its tails kept, the group ended on cancel. `exec` replaces the shell,
        so the exit code is the package manager's own."""
        params = {"language": "sh", "script": 'exec "$@"\n', "args": command.argv, "env": command.env}
        request = JobRequest(job.job_id, "script", params, RunContext.SYSTEM, job.timeout_s)
        return await self._runner.execute(request, ctx)


def create_role() -> UpdatesRole:
    return UpdatesRole()
