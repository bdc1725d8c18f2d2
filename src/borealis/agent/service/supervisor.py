"""The supervisor: keeps one worker process alive and restarts it when it fails (DESIGN §2).

A worker is restarted, with full-jitter exponential backoff capped at `restart_backoff_cap_s`, when
it exits, stops writing its internal heartbeat for `hang_timeout_s`, or grows past
`memory_budget_mb`. Every restart is logged with its reason and kept in `supervisor.json`.

The supervisor is deliberately plain: one thread, a `selectors` loop over the worker's stdout and a
signal wake-up pipe, no asyncio (which alone costs ~8 MiB through `ssl`) and no network libraries,
so it stays near 20 MiB. Signal handlers only set flags; the loop acts on them. POSIX only for now.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from borealis.agent.clock import utc_now_iso
from borealis.agent.identity import load_identity
from borealis.agent.resources import rss_of
from borealis.agent.self_update.state import SWITCH_EXIT_CODE
from borealis.agent.self_update.switch import VersionSwitch
from borealis.agent.service.supervisor_state import (
    Restart,
    RestartReason,
    SupervisorRecord,
    supervisor_path,
    write_record,
)
from borealis.core.backoff import Backoff
from borealis.core.home import Home
from borealis.core.logs import kv, setup_logging
from borealis.core.settings import AgentSettings, load_agent_settings

READ_CHUNK = 4096
MIN_TICK_S = 0.05
STOP_POLL_S = 0.1
MIB = 1024 * 1024

log = logging.getLogger("borealis.agent.service.supervisor")


class Supervisor:
    def __init__(
        self,
        settings: AgentSettings,
        command: Sequence[str],
        record_path: Path,
        *,
        agent_id: str = "",
        rng: random.Random | None = None,
        versions: VersionSwitch | None = None,
    ) -> None:
        self._settings = settings
        self._command = list(command)
        self._versions = versions  # self-update: the worker's interpreter, switches and rollbacks
        self._restart_now = False
        self._record_path = record_path
        self._fields = {"agent_id": agent_id} if agent_id else {}
        self._backoff = Backoff(
            base=settings.backoff_base_s, cap=settings.restart_backoff_cap_s, rng=rng or random.Random()
        )
        self._tick_s = max(MIN_TICK_S, min(settings.internal_heartbeat_s, settings.hang_timeout_s / 4))
        self._record = SupervisorRecord(pid=os.getpid(), started_at=utc_now_iso())
        self._selector = selectors.DefaultSelector()
        self._wakeup_r, self._wakeup_w = os.pipe()
        self._worker: subprocess.Popen[bytes] | None = None
        self._spawned_at = 0.0
        self._last_beat = 0.0
        self._next_memory_check = 0.0
        self._stop_requested = False
        self._force = False

    @property
    def record(self) -> SupervisorRecord:
        return self._record

    def run(self) -> int:
        """Supervise until SIGTERM/SIGINT; returns the exit code (0 after a clean stop)."""
        previous = self._install_signals()
        self._save()
        log.info(
            "supervisor started", extra=kv(**self._fields, pid=os.getpid(), command=" ".join(self._command))
        )
        try:
            while not self._stop_requested:
                restart = self._run_one_worker()
                if restart is None:
                    break
                self._record.add_restart(restart)
                self._record.worker_pid = None
                self._save()
                if time.monotonic() - self._spawned_at >= self._settings.stable_after_s:
                    self._backoff.reset()
                delay = 0.0 if self._restart_now else self._backoff.next_delay()
                self._restart_now = False
                log.warning(
                    "restarting the worker",
                    extra=kv(
                        **self._fields,
                        reason=restart.reason.value,
                        detail=restart.detail,
                        worker_pid=restart.worker_pid,
                        restarts=self._record.restarts,
                        delay_s=round(delay, 2),
                    ),
                )
                self._pause(delay)
        finally:
            self._stop_worker()
            self._record.state = "stopped"
            self._record.worker_pid = None
            self._save()
            self._restore_signals(previous)
            self._selector.close()
            os.close(self._wakeup_r)
            os.close(self._wakeup_w)
            log.info("supervisor stopped", extra=kv(**self._fields, restarts=self._record.restarts))
        return 0

    # -- one worker's life -------------------------------------------------------------------

    def _run_one_worker(self) -> Restart | None:
        try:
            self._spawn()
        except OSError as exc:
            log.error("cannot start the worker", extra=kv(**self._fields, error=exc))
            if self._versions is not None and self._versions.in_trial:
                return self._roll_back(f"the new worker cannot start: {exc}", None)
            return Restart(utc_now_iso(), RestartReason.CRASHED, f"cannot start: {exc}")
        return self._watch()

    def _spawn(self) -> None:
        # Its own process group: a Ctrl-C on the terminal reaches the supervisor only, which then
        # sends the worker exactly one SIGTERM (two signals would make the worker skip its clean close).
        command = self._versions.command(self._command) if self._versions else self._command
        worker = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, process_group=0)
        assert worker.stdout is not None
        os.set_blocking(worker.stdout.fileno(), False)
        self._selector.register(worker.stdout, selectors.EVENT_READ, "worker")
        self._worker = worker
        self._spawned_at = self._last_beat = time.monotonic()
        self._next_memory_check = self._spawned_at + self._settings.internal_heartbeat_s
        self._record.worker_pid = worker.pid
        self._record.worker_started_at = utc_now_iso()
        self._save()
        log.info("worker started", extra=kv(**self._fields, worker_pid=worker.pid, python=command[0]))

    def _watch(self) -> Restart | None:
        """Wait until the worker must be restarted (its Restart) or a stop was requested (None)."""
        worker = self._worker
        assert worker is not None
        while True:
            self._poll(self._tick_s)
            if self._stop_requested:
                return None
            code = worker.poll()
            if code is not None:
                self._reap()
                return self._after_exit(code, worker.pid)
            if self._versions is not None and (failure := self._versions.check(worker.pid)):
                self._kill_worker()
                return self._roll_back(failure, worker.pid)
            now = time.monotonic()
            silent_s = now - self._last_beat
            if silent_s > self._settings.hang_timeout_s:
                detail = f"no internal heartbeat for {silent_s:.1f} s"
                log.error(
                    "worker hangs; killing it", extra=kv(**self._fields, worker_pid=worker.pid, detail=detail)
                )
                self._kill_worker()
                return Restart(utc_now_iso(), RestartReason.HANG, detail, worker.pid)
            if now >= self._next_memory_check:
                self._next_memory_check = now + self._settings.internal_heartbeat_s
                rss = rss_of(worker.pid)
                if rss is not None and rss > self._settings.memory_budget_mb * MIB:
                    detail = (
                        f"rss {rss / MIB:.1f} MiB over the budget of {self._settings.memory_budget_mb:g} MiB"
                    )
                    log.error(
                        "worker over its memory budget; stopping it",
                        extra=kv(**self._fields, worker_pid=worker.pid, rss_bytes=rss, detail=detail),
                    )
                    self._stop_worker()
                    return Restart(utc_now_iso(), RestartReason.MEMORY, detail, worker.pid)

    def _after_exit(self, code: int, pid: int) -> Restart:
        """An exit asking for a switch to a new version, one that ends a trial, or a plain one."""
        restart = _exit_restart(code, pid)
        if self._versions is None:
            return restart
        if code == SWITCH_EXIT_CODE:
            version = self._versions.switch()
            if version is not None:
                self._restart_now = True
                return Restart(
                    utc_now_iso(), RestartReason.UPDATE, f"switching to agent version {version}", pid
                )
        if self._versions.in_trial:
            return self._roll_back(f"the new worker ended before it connected ({restart.detail})", pid)
        return restart

    def _roll_back(self, reason: str, pid: int | None) -> Restart:
        failed = self._versions.rollback(reason) if self._versions is not None else None
        self._restart_now = True
        return Restart(
            utc_now_iso(), RestartReason.UPDATE, f"rolled back from agent version {failed}: {reason}", pid
        )

    def _stop_worker(self) -> None:
        """SIGTERM, then SIGKILL after `stop_timeout_s` (or at once on a second signal)."""
        worker = self._worker
        if worker is None:
            return
        if worker.poll() is None:
            log.info("stopping the worker", extra=kv(**self._fields, worker_pid=worker.pid))
            _signal(worker, signal.SIGTERM)
            _signal(worker, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            deadline = time.monotonic() + self._settings.stop_timeout_s
            while worker.poll() is None and not self._force and time.monotonic() < deadline:
                self._poll(min(STOP_POLL_S, max(0.0, deadline - time.monotonic())))
            if worker.poll() is None:
                reason = (
                    "second signal" if self._force else f"no exit within {self._settings.stop_timeout_s:g} s"
                )
                log.warning("killing the worker", extra=kv(**self._fields, worker_pid=worker.pid, why=reason))
                worker.kill()
        code = worker.wait()
        log.info("worker stopped", extra=kv(**self._fields, worker_pid=worker.pid, exit_code=code))
        self._reap()

    def _kill_worker(self) -> None:
        worker = self._worker
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        self._reap()

    def _reap(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if worker.stdout is not None:
            if self._registered(worker.stdout):
                self._selector.unregister(worker.stdout)
            worker.stdout.close()
        worker.wait()

    def _registered(self, stream: IO[bytes]) -> bool:
        try:
            self._selector.get_key(stream)
        except (KeyError, ValueError):
            return False
        return True

    # -- waiting -----------------------------------------------------------------------------

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop_requested and (left := deadline - time.monotonic()) > 0:
            self._poll(left)

    def _poll(self, timeout: float) -> None:
        """Wait up to `timeout` for worker output or a signal, and take note of either."""
        for key, _ in self._selector.select(timeout):
            if key.data == "wakeup":
                _drain(self._wakeup_r)
            else:
                self._read_beats(key)

    def _read_beats(self, key: selectors.SelectorKey) -> None:
        while True:
            try:
                data = os.read(key.fd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:  # the worker closed its stdout (it is exiting); exit is noticed by poll()
                self._selector.unregister(key.fileobj)
                return
            self._last_beat = time.monotonic()

    # -- signals -----------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGCHLD:
            return  # only here so the wake-up pipe fires when the worker exits
        if self._stop_requested:
            self._force = True
        self._stop_requested = True

    def _install_signals(self) -> dict[int, object]:
        os.set_blocking(self._wakeup_w, False)
        os.set_blocking(self._wakeup_r, False)
        self._selector.register(self._wakeup_r, selectors.EVENT_READ, "wakeup")
        previous: dict[int, object] = {-1: signal.set_wakeup_fd(self._wakeup_w, warn_on_full_buffer=False)}
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def _restore_signals(self, previous: dict[int, object]) -> None:
        for signum, handler in previous.items():
            if signum == -1:
                signal.set_wakeup_fd(handler)  # type: ignore[arg-type]
            else:
                signal.signal(signum, handler)  # type: ignore[arg-type]

    def _save(self) -> None:
        try:
            write_record(self._record_path, self._record)
        except OSError as exc:
            log.warning("cannot write the supervisor record", extra=kv(path=self._record_path, error=exc))


def _exit_restart(code: int, pid: int) -> Restart:
    if code == 0:
        return Restart(utc_now_iso(), RestartReason.EXITED, "exit code 0", pid)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return Restart(utc_now_iso(), RestartReason.CRASHED, f"killed by {name}", pid)
    return Restart(utc_now_iso(), RestartReason.CRASHED, f"exit code {code}", pid)


def _signal(worker: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        worker.send_signal(signum)


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, READ_CHUNK):
            pass


def worker_command(home: Home, *, startup_delay: bool) -> list[str]:
    command = [sys.executable, "-m", "borealis.agent.worker", "--home", str(home.root)]
    return command if startup_delay else [*command, "--no-startup-delay"]


def run_supervisor(home: Home, *, startup_delay: bool = True) -> int:
    """Entry point of `borealis agent run`. Raises ConfigError when the home is not enrolled."""
    settings = load_agent_settings(home)
    identity = load_identity(home)
    setup_logging(home.agent_logs / "supervisor.log", settings.log, also_stderr=True)
    supervisor = Supervisor(
        settings,
        worker_command(home, startup_delay=startup_delay),
        supervisor_path(home),
        agent_id=identity.agent_id,
        versions=VersionSwitch(home, settings.update_confirm_s),
    )
    return supervisor.run()
