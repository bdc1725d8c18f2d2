"""Running a collector's or installer's command as a child process, off the event loop, bounded.

`run_command` captures stdout and stderr up to `MAX_OUTPUT_BYTES` each and ends the child's whole
process group when the caller is cancelled (a collector over its budget) or the timeout passes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from borealis.agent.jobs.process_group import end_group
from borealis.core.errors import BorealisError

MAX_OUTPUT_BYTES = 64 * 1024 * 1024
READ_BYTES = 64 * 1024
C_LOCALE = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


class CommandFailed(BorealisError):
    """A command could not start, timed out, or printed more than we keep."""


@dataclass(frozen=True)
class CommandOutput:
    code: int
    stdout: str
    stderr: str


def have(program: str) -> bool:
    return shutil.which(program) is not None


async def _read_bounded(stream: asyncio.StreamReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await stream.read(READ_BYTES):
        data += chunk
        if len(data) > limit:
            raise CommandFailed(f"the command printed more than {limit} bytes")
    return bytes(data)


async def run_command(
    argv: list[str], timeout_s: float, env: Mapping[str, str] | None = None
) -> CommandOutput:
    """Run `argv` with stdin closed, in the C locale (parsable output), in its own process group."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **C_LOCALE, **(env or {})},
            start_new_session=True,
        )
    except OSError as exc:
        raise CommandFailed(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
    assert process.stdout is not None and process.stderr is not None
    try:
        async with asyncio.timeout(timeout_s):
            stdout, stderr = await asyncio.gather(
                _read_bounded(process.stdout, MAX_OUTPUT_BYTES),
                _read_bounded(process.stderr, MAX_OUTPUT_BYTES),
            )
            code = await process.wait()
    except TimeoutError:
        raise CommandFailed(f"{argv[0]} did not finish within {timeout_s:g} s") from None
    finally:
        if process.returncode is None:
            await asyncio.shield(end_group(process))
    return CommandOutput(code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))
