"""The worker's side of a self-update (issue 5 part 3, docs/updates.md).

On `update.offer` it checks the signature with the pinned server key before anything else, fetches
the wheel over the connection one bounded chunk at a time (`update.fetch` → `update.chunk`), checks
its size and sha256, installs it beside the running version (`self_update.install`), then writes
`switch_to` and asks the worker to exit with SWITCH_EXIT_CODE: the supervisor restarts the worker
from the new version and rolls back by itself if that one does not connect in time. Every step is
reported as `update.status` through the outbox, so a report survives a lost connection or the
switch itself; a rollback recorded by the supervisor is reported when the old worker starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from borealis import __version__
from borealis.agent.link.inbox import Inbox
from borealis.agent.link.outbox import Outbox
from borealis.agent.link.uplink import Uplink
from borealis.agent.operator_policy import OperatorPolicy
from borealis.agent.self_update.install import InstallFailed, install_version
from borealis.agent.self_update.state import (
    DOWNLOADS_DIR,
    read_state,
    versions_dir,
    write_state,
)
from borealis.agent.self_update.state import prune_versions as prune
from borealis.core.errors import BorealisError
from borealis.core.home import Home, ensure_dir
from borealis.core.ids import new_id
from borealis.core.logs import kv
from borealis.protocol import keys
from borealis.protocol.agent_updates import (
    MAX_REASON_CHARS,
    MAX_WHEEL_BYTES,
    SHA256_PATTERN,
    VERSION_PATTERN,
    UpdateState,
    decode_chunk,
    update_payload,
    wheel_filename,
)
from borealis.protocol.messages import MessageType

FETCH_WAIT_S = 10.0  # a chunk not here by then is asked for again (the connection may be new)
FETCH_TRIES = 6
JOBS_WAIT_S = 60.0  # running jobs get this long to finish before the switch interrupts them
JOBS_POLL_S = 0.5

log = logging.getLogger("borealis.agent.self_update.updater")
COSIGN_REFUSAL = (
    "updates from the server are refused: this agent requires operator co-signing "
    "(update it with a co-signed job instead)"
)


class UpdateRefused(BorealisError):
    """An offer this agent will not (or could not) carry out; the reason goes to the server."""


@dataclass(frozen=True)
class Offer:
    version: str
    sha256: str
    size: int


class Updater:
    def __init__(
        self,
        home: Home,
        server_key: Ed25519PublicKey,
        *,
        running_version: str = __version__,
        fetch_wait_s: float = FETCH_WAIT_S,
        jobs_wait_s: float = JOBS_WAIT_S,
    ) -> None:
        self._home = home
        self._server_key = server_key
        self._running = running_version
        self._fetch_wait_s = fetch_wait_s
        self._jobs_wait_s = jobs_wait_s
        self._outbox: Outbox | None = None
        self._uplink: Uplink | None = None
        self._busy: Callable[[], bool] = lambda: False
        self._policy: OperatorPolicy | None = None
        self._switch: Callable[[], None] | None = None
        self._work: asyncio.Task[None] | None = None
        self._current: str | None = None  # the version being fetched or installed
        self._waiting: tuple[str, int, asyncio.Future[bytes]] | None = None
        self._reports: set[asyncio.Task[None]] = set()

    def attach(
        self,
        outbox: Outbox,
        uplink: Uplink,
        inbox: Inbox,
        *,
        busy: Callable[[], bool],
        policy: OperatorPolicy,
    ) -> None:
        """The worker's send path, the inbox that hands this updater its frames, whether jobs are
        running (the switch waits for them), and the operator policy (co-signing refuses updates)."""
        self._outbox, self._uplink, self._busy, self._policy = outbox, uplink, busy, policy
        inbox.route(MessageType.UPDATE_OFFER, self.received)
        inbox.route(MessageType.UPDATE_CHUNK, self.received)

    async def start(self, switch: Callable[[], None]) -> None:
        """After the outbox is open: report a rollback the supervisor made, drop stale versions."""
        self._switch = switch
        state = await asyncio.to_thread(read_state, self._home)
        if state.rollback is not None and not state.rollback.reported:
            await self._report(state.rollback.version, UpdateState.ROLLED_BACK, state.rollback.reason)
            state.rollback.reported = True
            await asyncio.to_thread(write_state, self._home, state)
        if state.trial is None and state.switch_to is None:
            keep = {v for v in (state.active, state.previous) if v}
            removed = await asyncio.to_thread(prune, self._home, keep)
            if removed:
                log.info("removed old agent versions", extra=kv(removed=",".join(removed)))

    async def stop(self) -> None:
        tasks = [t for t in (self._work, *self._reports) if t is not None]
        if self._work is not None:
            self._work.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- frames from the server ---

    def received(self, message: dict[str, Any]) -> None:
        kind = message.get("t")
        if kind == MessageType.UPDATE_OFFER:
            self._offered(message)
        elif kind == MessageType.UPDATE_CHUNK:
            self._chunk(message)

    def _offered(self, frame: dict[str, Any]) -> None:
        version = frame.get("version")
        if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version):
            log.warning("ignored an update offer without a usable version")
            return
        if self._work is not None and not self._work.done():
            if version != self._current:
                self._report_soon(version, UpdateState.FAILED, f"busy with agent version {self._current}")
            return  # the same offer again: the update under way answers it
        if self._policy is not None and self._policy.required:
            self._report_soon(version, UpdateState.FAILED, COSIGN_REFUSAL)
            return
        self._current = version
        self._work = asyncio.get_running_loop().create_task(self._update(frame, version), name="update")

    def _chunk(self, frame: dict[str, Any]) -> None:
        waiting = self._waiting
        if waiting is None or waiting[2].done():
            return
        version, offset, future = waiting
        data = frame.get("data")
        if frame.get("version") != version or frame.get("offset") != offset or not isinstance(data, str):
            return
        future.set_result(decode_chunk(data) or b"")  # empty: refused as a bad chunk

    # --- one update ---

    async def _update(self, frame: dict[str, Any], version: str) -> None:
        try:
            offer = self._check(frame)
            if offer.version == self._running:
                await self._report(version, UpdateState.CONNECTED, "this agent already runs this version")
                return
            await self._ensure_idle_state()
            log.info("agent update offered", extra=kv(version=offer.version, size=offer.size))
            await self._report(version, UpdateState.DOWNLOADING)
            wheel = await self._download(offer)
            try:
                await install_version(self._home, offer.version, wheel)
            finally:
                await asyncio.to_thread(wheel.unlink, True)
            await self._report(version, UpdateState.INSTALLED)
            await self._wait_for_jobs()
            await self._request_switch(offer.version)
        except (UpdateRefused, InstallFailed) as refused:
            log.warning("agent update failed", extra=kv(version=version, reason=str(refused)))
            await self._report(version, UpdateState.FAILED, str(refused))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a full disk: report it, never take the worker down
            log.exception("agent update failed unexpectedly", extra=kv(version=version))
            await self._report(version, UpdateState.FAILED, f"internal error: {exc!r}")
        finally:
            self._waiting = None

    def _check(self, frame: dict[str, Any]) -> Offer:
        version, sha256, size, signature = (frame.get(k) for k in ("version", "sha256", "size", "signature"))
        if not isinstance(sha256, str) or not SHA256_PATTERN.fullmatch(sha256):
            raise UpdateRefused("the offer has no valid sha256")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_WHEEL_BYTES:
            raise UpdateRefused(f"the offered size must be 1..{MAX_WHEEL_BYTES} bytes")
        if not isinstance(signature, str) or not signature:
            raise UpdateRefused("unsigned offer: refused")
        assert isinstance(version, str)
        if not keys.verify(self._server_key, update_payload(version, sha256, size), signature):
            raise UpdateRefused("bad signature: the offer is not signed by the pinned server key")
        return Offer(version, sha256, size)

    async def _ensure_idle_state(self) -> None:
        state = await asyncio.to_thread(read_state, self._home)
        if state.trial is not None:
            raise UpdateRefused(f"the agent is still confirming version {state.trial.version}")
        if state.switch_to is not None:
            raise UpdateRefused(f"the agent is switching to version {state.switch_to}")

    async def _download(self, offer: Offer) -> Path:
        folder = ensure_dir(versions_dir(self._home) / DOWNLOADS_DIR)
        path = folder / wheel_filename(offer.version)
        digest = hashlib.sha256()
        handle: BinaryIO = await asyncio.to_thread(path.open, "wb")
        try:
            offset = 0
            while offset < offer.size:
                chunk = await self._fetch(offer.version, offset)
                if not chunk or offset + len(chunk) > offer.size:
                    raise UpdateRefused(f"the server sent a bad chunk at offset {offset}")
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
                offset += len(chunk)
        except BaseException:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(path.unlink, True)
            raise
        await asyncio.to_thread(handle.close)
        if digest.hexdigest() != offer.sha256:
            await asyncio.to_thread(path.unlink, True)
            raise UpdateRefused("sha256 mismatch: the downloaded wheel is not the one offered")
        return path

    async def _fetch(self, version: str, offset: int) -> bytes:
        """One chunk; the request goes out again when the answer is slow (a reconnect loses it)."""
        assert self._uplink is not None
        for _ in range(FETCH_TRIES):
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self._waiting = (version, offset, future)
            frame = {"t": MessageType.UPDATE_FETCH.value, "version": version, "offset": offset}
            self._uplink.send_output(frame)  # best effort, like output: asked again on a timeout
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(future, self._fetch_wait_s)
        raise UpdateRefused(f"the download stalled at offset {offset}")

    async def _wait_for_jobs(self) -> None:
        for _ in range(math.ceil(self._jobs_wait_s / JOBS_POLL_S)):
            if not self._busy():
                return
            await asyncio.sleep(JOBS_POLL_S)  # polled: the runner has no "idle" event to wait on

    async def _request_switch(self, version: str) -> None:
        state = await asyncio.to_thread(read_state, self._home)
        state.switch_to = version
        await asyncio.to_thread(write_state, self._home, state)
        await self._report(version, UpdateState.SWITCHING)  # in the outbox before the worker exits
        log.info("switching to the new agent version", extra=kv(version=version))
        if self._switch is not None:
            self._switch()

    # --- reports ---

    def _report_soon(self, version: str, state: UpdateState, reason: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(self._report(version, state, reason))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _report(self, version: str, state: UpdateState, reason: str | None = None) -> None:
        message = {
            "t": MessageType.UPDATE_STATUS.value,
            "msg_id": new_id(),
            "version": version,
            "state": state.value,
            "reason": reason[:MAX_REASON_CHARS] if reason else None,
        }
        if self._outbox is None or self._uplink is None:
            return
        try:
            await self._outbox.put(message)
        except Exception:
            log.exception("cannot keep an update report", extra=kv(version=version, state=state.value))
            return
        self._uplink.send_reliable(message)
