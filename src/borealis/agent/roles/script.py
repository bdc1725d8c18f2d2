"""The `script` role: run a bash, sh, python, powershell or cmd script and report what it did.

params: `{language, script, args: [str], env: {str: str}, cwd}`. The body goes to a private file in
a per-job folder under `<home>/Agent/tmp/` (removed whatever happens); the interpreter runs in its own
process group with stdin closed; stdout and stderr are streamed in chunks of at most
`MAX_CHUNK_BYTES` and their last `MAX_TAIL_BYTES` kept apart for the result. A non-zero exit code is
`failed` with that code. When the job is cancelled (deadline or server), the whole group is ended.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from borealis.agent.jobs.process_group import end_group, group_alive
from borealis.agent.roles.contract import (
    JobRequest,
    JobResult,
    OutputStream,
    RoleContext,
    RoleError,
    RunContext,
)
from borealis.core.home import ensure_dir
from borealis.protocol.jobs import MAX_CHUNK_BYTES, MAX_TAIL_BYTES, JobState

LANGUAGES = ("bash", "sh", "python", "powershell", "cmd")
MAX_SCRIPT_BYTES = 1024 * 1024
READ_BYTES = 8 * 1024
DRAIN_AFTER_EXIT_S = 1.0


class Tail:
    """The last `limit` bytes written to it."""

    def __init__(self, limit: int = MAX_TAIL_BYTES) -> None:
        self._limit = limit
        self._data = bytearray()
        self.truncated = False

    def add(self, data: bytes) -> None:
        self._data += data
        if len(self._data) > self._limit:
            del self._data[: len(self._data) - self._limit]
            self.truncated = True

    def text(self) -> str:
        data = bytes(self._data)
        if self.truncated:  # the cut may have split a character: start at the next whole one
            while data and data[0] & 0xC0 == 0x80:
                data = data[1:]
        return data.decode("utf-8", errors="replace")


def split_chunks(text: str, limit: int = MAX_CHUNK_BYTES) -> list[str]:
    """`text` in pieces whose UTF-8 encoding is at most `limit` bytes, never splitting a character."""
    pieces: list[str] = []
    while text:
        encoded = text.encode("utf-8")
        if len(encoded) <= limit:
            pieces.append(text)
            break
        cut = encoded[:limit].decode("utf-8", errors="ignore")
        pieces.append(cut)
        text = text[len(cut) :]
    return pieces


def _interpreter(language: str, path: Path) -> list[str]:
    if language == "bash":
        bash = shutil.which("bash")
        if bash is None:
            raise RoleError("bash is not installed on this machine")
        return [bash, str(path)]
    if language == "sh":
        sh = shutil.which("sh") or "/bin/sh"
        return [sh, str(path)]
    if language == "python":
        # In a user-session helper the agent's own interpreter may sit where the user cannot reach.
        python = sys.executable if os.access(sys.executable, os.X_OK) else shutil.which("python3")
        if python is None:
            raise RoleError("python is not available to this account (no python3 on PATH)")
        return [python, str(path)]
    if language == "powershell":
        shell = shutil.which("pwsh") or shutil.which("powershell")
        if shell is None:
            raise RoleError("powershell is not available on this machine (neither pwsh nor powershell found)")
        return [shell, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", str(path)]
    if language == "cmd":
        if os.name != "nt":
            raise RoleError("cmd scripts run only on Windows")
        return [os.environ.get("COMSPEC", "cmd.exe"), "/d", "/c", str(path)]
    raise RoleError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")


_SUFFIX = {"bash": ".sh", "sh": ".sh", "python": ".py", "powershell": ".ps1", "cmd": ".cmd"}


def _params(params: dict[str, Any]) -> tuple[str, str, list[str], dict[str, str], str | None]:
    language, script = params.get("language"), params.get("script")
    args, env, cwd = params.get("args") or [], params.get("env") or {}, params.get("cwd")
    if language not in LANGUAGES:
        raise RoleError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")
    if not isinstance(script, str):
        raise RoleError("params.script must be a string")
    if len(script.encode("utf-8")) > MAX_SCRIPT_BYTES:
        raise RoleError(f"params.script is larger than {MAX_SCRIPT_BYTES} bytes")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise RoleError("params.args must be a list of strings")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise RoleError("params.env must map strings to strings")
    if cwd is not None and not isinstance(cwd, str):
        raise RoleError("params.cwd must be a string")
    return language, script, args, env, cwd


def _write_script(folder: Path, language: str, script: str) -> Path:
    ensure_dir(folder.parent, private=True)
    folder.mkdir(mode=0o700)
    path = folder / f"script{_SUFFIX[language]}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\r\n" if language == "cmd" else "\n") as file:
        file.write(script)
    return path


class ScriptRole:
    name = "script"
    contexts = frozenset({RunContext.SYSTEM, RunContext.USER})
    version = "1"

    def __init__(self) -> None:
        self._running: dict[str, asyncio.subprocess.Process] = {}

    async def start(self, ctx: RoleContext) -> None:
        await asyncio.to_thread(ensure_dir, ctx.tmp_dir, True)

    async def stop(self) -> None:
        for job_id in list(self._running):
            await self.cancel(job_id)

    async def cancel(self, job_id: str) -> None:
        process = self._running.get(job_id)
        if process is not None:
            await end_group(process)

    async def execute(self, request: JobRequest, ctx: RoleContext) -> JobResult:
        language, script, args, env, cwd = _params(request.params)
        folder = ctx.tmp_dir / f"job-{request.job_id}"
        try:
            path = await asyncio.to_thread(_write_script, folder, language, script)
            command = [*_interpreter(language, path), *args]
            workdir = cwd or str(folder)
            if not await asyncio.to_thread(os.path.isdir, workdir):
                raise RoleError(f"working directory {workdir!r} does not exist")
            return await self._run(request.job_id, command, {**os.environ, **env}, workdir, ctx)
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _run(
        self, job_id: str, command: list[str], env: dict[str, str], cwd: str, ctx: RoleContext
    ) -> JobResult:
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise RoleError(f"cannot start {command[0]}: {exc.strerror or exc}") from exc
        self._running[job_id] = process
        ctx.process_started(process.pid)
        tails = {OutputStream.STDOUT: Tail(), OutputStream.STDERR: Tail()}
        assert process.stdout is not None and process.stderr is not None
        readers = [
            asyncio.create_task(_pump(process.stdout, OutputStream.STDOUT, tails, ctx)),
            asyncio.create_task(_pump(process.stderr, OutputStream.STDERR, tails, ctx)),
        ]
        try:
            code = await process.wait()
            # A background child may still hold the pipes: read what is there, then end the group.
            await asyncio.wait(readers, timeout=DRAIN_AFTER_EXIT_S)
            await end_group(process)
            await asyncio.wait(readers, timeout=DRAIN_AFTER_EXIT_S)
        finally:
            if process.returncode is None or group_alive(process.pid):  # cancelled: end it all
                await asyncio.shield(end_group(process))
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            self._running.pop(job_id, None)
        return JobResult(
            status=JobState.SUCCEEDED if code == 0 else JobState.FAILED,
            exit_code=code,
            stdout_tail=tails[OutputStream.STDOUT].text(),
            stderr_tail=tails[OutputStream.STDERR].text(),
            data={"truncated": [s.value for s, t in tails.items() if t.truncated]},
        )


async def _pump(
    reader: asyncio.StreamReader, stream: OutputStream, tails: dict[OutputStream, Tail], ctx: RoleContext
) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        data = await reader.read(READ_BYTES)
        tails[stream].add(data)
        text = decoder.decode(data, final=not data)
        for piece in split_chunks(text):
            with contextlib.suppress(Exception):  # output is best effort; a sink error must not kill the job
                ctx.output(stream, piece)
        if not data:
            return


def create_role() -> ScriptRole:
    return ScriptRole()
