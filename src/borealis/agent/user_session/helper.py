"""The user-session helper (DESIGN §2): runs `run_as: user` jobs inside a login session.

It connects to the agent's local socket, checks from the kernel that the process listening there is
root or its own user (so another local user cannot pose as the agent), says which session it serves,
then runs the jobs the agent hands it with the built-in `script` role and streams their output back.
It never talks to the server. When the agent goes away it ends its jobs' process groups; a helper the
agent started then exits (the next worker starts a new one), a helper started by the session's
autostart reconnects with backoff.

Started by the agent as root with `--user NAME`, it imports everything it needs and only then becomes
that user (groups, gid, uid: irrevocably), so it needs no access to the agent's files afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
from base64 import b64encode
from pathlib import Path
from typing import Any

from borealis.agent.roles.contract import JobRequest, JobResult, OutputStream, RoleContext, RunContext
from borealis.agent.roles.screenshot import ScreenshotRole
from borealis.agent.roles.script import ScriptRole
from borealis.agent.screen.stream import ScreenStream
from borealis.agent.user_session import local_ipc
from borealis.agent.user_session.account import become, preload, session_id_of_this_process
from borealis.agent.user_session.local_ipc import IpcType
from borealis.core.errors import BorealisError, ConfigError, ProtocolError
from borealis.core.home import Home
from borealis.core.logs import kv, setup_logging
from borealis.protocol import screen
from borealis.protocol.jobs import JobState
from borealis.protocol.screenshot import CHUNK_BYTES

HELLO_TIMEOUT_S = 10.0
RECONNECT_BASE_S = 1.0
RECONNECT_CAP_S = 30.0
MAX_HELPER_JOBS = 16
MAX_STREAMS = 2  # live views of this session at once (the server allows one viewer per agent)
EXIT_REFUSED = 3
log = logging.getLogger("borealis.helper")


class HelperRefused(BorealisError):
    """The agent will not take this helper (another one serves the session, or the claim is wrong)."""

    exit_code = EXIT_REFUSED


class Helper:
    def __init__(self, address: str, session: str, tmp_dir: Path, *, reconnect: bool) -> None:
        self._address = address
        self._session = session
        self._reconnect = reconnect
        self._roles: dict[str, ScriptRole | ScreenshotRole] = {
            "script": ScriptRole(),
            "screenshot": ScreenshotRole(),
        }
        self._ctx = RoleContext(agent_id="", home_root=tmp_dir, tmp_dir=tmp_dir)
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._streams: dict[str, ScreenStream] = {}
        self._cancels: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._rng = random.Random()

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        for role in self._roles.values():
            await role.start(self._ctx)
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    await self._serve_once()
                    failures = 0
                except HelperRefused:
                    raise
                except (OSError, ProtocolError) as exc:
                    failures += 1
                    why = str(exc) or type(exc).__name__
                    if not self._reconnect and failures == 1:
                        raise ConfigError(
                            f"cannot reach the agent at {local_ipc.describe(self._address)}: {why}"
                        ) from None
                    log.warning("agent connection failed", extra=kv(error=why))
                if not self._reconnect:
                    return 0
                delay = self._rng.uniform(0, min(RECONNECT_CAP_S, RECONNECT_BASE_S * 2 ** min(failures, 8)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        finally:
            for role in self._roles.values():
                await role.stop()
        return 0

    async def _serve_once(self) -> None:
        reader, writer = await asyncio.open_unix_connection(self._address)
        try:
            agent = local_ipc.writer_credentials(writer)
            if agent.uid not in (0, os.getuid()):
                raise HelperRefused(
                    f"the process behind {local_ipc.describe(self._address)} runs as uid {agent.uid}, "
                    "neither root nor this user: it is not the agent"
                )
            await local_ipc.send_frame(
                writer,
                {"t": IpcType.HELLO.value, "session": self._session, "pid": os.getpid(), "uid": os.getuid()},
            )
            answer = await asyncio.wait_for(local_ipc.read_frame(reader), HELLO_TIMEOUT_S)
            if answer is None or answer.get("t") == IpcType.REFUSED:
                reason = (answer or {}).get("reason") or "the agent closed the connection"
                raise HelperRefused(f"the agent refused this helper: {reason}")
            if answer.get("t") != IpcType.WELCOME:
                raise ProtocolError(f"expected welcome, got {answer.get('t')!r}")
            log.info("serving the session", extra=kv(session=self._session, uid=os.getuid()))
            await self._serve(reader, writer)
        finally:
            await self._end_jobs()
            await local_ipc.close_quietly(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stopping = asyncio.create_task(self._stop.wait())
        try:
            while True:
                reading = asyncio.create_task(local_ipc.read_frame(reader))
                done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if reading not in done:
                    reading.cancel()
                    return
                frame = reading.result()
                if frame is None:
                    log.info("the agent closed the connection")
                    return
                self._handle(frame, writer)
        finally:
            stopping.cancel()

    def _handle(self, frame: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        kind, job_id = frame.get("t"), frame.get("job_id")
        if kind in screen.SERVER_TO_AGENT:
            self._screen(frame, writer)
            return
        if not isinstance(job_id, str) or not job_id:
            log.warning("ignored a frame without a job id", extra=kv(t=str(kind)[:32]))
            return
        if kind == IpcType.RUN and job_id not in self._jobs:
            task = asyncio.create_task(self._run_job(frame, job_id, writer))
            self._jobs[job_id] = task
            task.add_done_callback(lambda _t: self._jobs.pop(job_id, None))
        elif kind == IpcType.CANCEL and job_id in self._jobs:
            cancelling = asyncio.create_task(self._cancel(job_id))
            self._cancels.add(cancelling)
            cancelling.add_done_callback(self._cancels.discard)

    async def _run_job(self, frame: dict[str, Any], job_id: str, writer: asyncio.StreamWriter) -> None:
        def output(stream: OutputStream, chunk: str) -> None:
            with contextlib.suppress(ProtocolError, OSError):
                writer.write(
                    local_ipc.encode_frame(
                        {"t": IpcType.OUTPUT.value, "job_id": job_id, "stream": stream.value, "chunk": chunk}
                    )
                )

        result = await self._execute(frame, job_id, output)
        if result.blob is not None:
            await self._send_blob(writer, job_id, result.blob)
        message = {
            "t": IpcType.RESULT.value,
            "job_id": job_id,
            "status": result.status.value,
            "exit_code": result.exit_code,
            "stdout_tail": result.stdout_tail,
            "stderr_tail": result.stderr_tail,
            "data": result.data,
            "error": result.error,
        }
        with contextlib.suppress(OSError, ConnectionError, ProtocolError):
            await local_ipc.send_frame(writer, message)

    def _screen(self, frame: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        """Live view: start, credit or stop a stream of this session's screen."""
        kind, stream_id = frame.get("t"), frame.get("stream_id")
        if not isinstance(stream_id, str) or not screen.STREAM_ID.fullmatch(stream_id):
            return
        stream = self._streams.get(stream_id)
        if kind == screen.ACK and stream is not None:
            stream.acked(frame.get("quality"))
        elif kind == screen.STOP and stream is not None:
            del self._streams[stream_id]
            self._spawn(stream.stop())
        elif kind == screen.INPUT:
            self._spawn(self._input(stream, frame, writer))
        elif kind == screen.START and stream is None and len(self._streams) < MAX_STREAMS:

            async def send(message: dict[str, Any]) -> None:
                with contextlib.suppress(OSError, ConnectionError, ProtocolError):
                    await local_ipc.send_frame(writer, message)

            fps, width, notice = frame.get("fps"), frame.get("max_width"), frame.get("notice")
            stream = ScreenStream(
                stream_id,
                send,
                fps if isinstance(fps, int) and not isinstance(fps, bool) else 5,
                screen.clamp_quality(frame.get("quality")),
                width if isinstance(width, int) and not isinstance(width, bool) else 0,
                notice[:200] if isinstance(notice, str) else "",
            )
            self._streams[stream_id] = stream
            stream.start()
            self._spawn(stream.show_notice())
            log.info("live view started", extra=kv(stream_id=stream_id))

    async def _input(
        self, stream: ScreenStream | None, frame: dict[str, Any], writer: asyncio.StreamWriter
    ) -> None:
        reason: str | None
        if stream is None:
            reason = "no such live view in this session"
        else:
            try:
                reason = await stream.inject(screen.check_events(frame.get("events")))
            except screen.BadInput as bad:
                reason = str(bad)
        answer = {
            "t": screen.INPUT_RESULT,
            "stream_id": frame.get("stream_id"),
            "seq": frame.get("seq"),
            "ok": reason is None,
            "reason": reason,
        }
        with contextlib.suppress(OSError, ConnectionError, ProtocolError):
            await local_ipc.send_frame(writer, answer)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)

    async def _send_blob(self, writer: asyncio.StreamWriter, job_id: str, blob: bytes) -> None:
        """A binary result, in `blob` frames the agent collects before the result frame."""
        total = max(1, -(-len(blob) // CHUNK_BYTES))
        for seq in range(total):
            chunk = blob[seq * CHUNK_BYTES : (seq + 1) * CHUNK_BYTES]
            frame = {
                "t": IpcType.BLOB.value,
                "job_id": job_id,
                "seq": seq,
                "total": total,
                "chunk": b64encode(chunk).decode(),
            }
            with contextlib.suppress(OSError, ConnectionError, ProtocolError):
                await local_ipc.send_frame(writer, frame)

    async def _cancel(self, job_id: str) -> None:
        for role in self._roles.values():
            await role.cancel(job_id)

    async def _execute(self, frame: dict[str, Any], job_id: str, output: Any) -> JobResult:
        name, params, timeout_s = frame.get("role"), frame.get("params"), frame.get("timeout_s")
        role = self._roles.get(str(name))
        if role is None:
            return JobResult(JobState.FAILED, error=f"role {name!r} cannot run in the user-session helper")
        if len(self._jobs) > MAX_HELPER_JOBS:
            return JobResult(JobState.FAILED, error=f"the helper is already running {MAX_HELPER_JOBS} jobs")
        if not isinstance(params, dict) or not isinstance(timeout_s, int | float):
            return JobResult(JobState.FAILED, error="the agent sent a malformed job")
        request = JobRequest(job_id, role.name, params, RunContext.USER, float(timeout_s))
        log.info("job started", extra=kv(job_id=job_id, role=role.name))
        try:
            return await role.execute(request, self._ctx.for_job(output, lambda pid: None))
        except Exception as exc:  # RoleError and anything else: the agent gets a failed result, not a hang
            return JobResult(JobState.FAILED, error=str(exc) or type(exc).__name__)

    async def _end_jobs(self) -> None:
        for stream in list(self._streams.values()):
            await stream.stop()
        self._streams.clear()
        for job_id in list(self._jobs):
            await self._cancel(job_id)
        if self._jobs:
            await asyncio.gather(*self._jobs.values(), return_exceptions=True)


def run_helper(
    home: Home, *, session: str | None, user: str | None, reconnect: bool, address: str = ""
) -> int:
    """`borealis helper`: become `user` if asked (root only), then serve one session until stopped."""
    address = local_ipc.helper_address(home, address)
    if not hasattr(socket, "AF_UNIX"):
        raise ConfigError("the user-session helper needs Unix sockets; the Windows helper is not built yet")
    if user:
        preload()
        become(user)
    setup_logging(None)
    tmp_dir = Path(tempfile.mkdtemp(prefix="borealis-helper-"))
    helper = Helper(address, session or session_id_of_this_process(), tmp_dir, reconnect=reconnect)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, helper.request_stop)
        return await helper.run()

    try:
        return asyncio.run(main())
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    """`python -m borealis.agent.user_session.helper --home H [--socket A] [--session ID] [--user NAME] [--once]`.

    How the agent starts a helper: without click, so a helper costs little memory.
    """
    options: dict[str, str | None] = {"--home": None, "--socket": None, "--session": None, "--user": None}
    once = False
    args = iter(argv)
    for arg in args:
        if arg in options:
            options[arg] = next(args, None)
        elif arg == "--once":
            once = True
        else:
            sys.stderr.write(f"borealis helper: unknown argument {arg!r}\n")
            return 2
    try:
        return run_helper(
            Home.resolve(options["--home"]),
            session=options["--session"],
            user=options["--user"],
            reconnect=not once,
            address=options["--socket"] or "",
        )
    except BorealisError as exc:
        sys.stderr.write(f"borealis: error: {exc.detail}\n")
        return exc.exit_code
    except Exception as exc:  # one line for the log, not a trace the user's account may not even resolve
        sys.stderr.write(f"borealis: error: the helper failed: {type(exc).__name__}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
