"""The supervisor's side of a self-update: which interpreter runs the worker, the switch, the trial
and the rollback rule (docs/updates.md).

A switch starts a trial: the worker started from the new version must reach `connected` in
`status.json` (with its own pid) within `confirm_s`. If it does, the trial ends and the new version
stays. If the deadline passes first, or the worker exits or is restarted before it connects, the
supervisor makes the previous version active again and records why; the old worker reports that to
the server as `rolled_back`. Synchronous and cheap: called from the supervisor's loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from borealis.agent.clock import utc_now_iso
from borealis.agent.self_update.state import (
    Rollback,
    Trial,
    interpreter,
    is_complete,
    read_state,
    version_dir,
    write_state,
)
from borealis.core import codec
from borealis.core.errors import InvalidInput
from borealis.core.home import Home
from borealis.core.logs import kv

# The worker's `status_file` (read here without importing it: it pulls in asyncio, which the
# supervisor stays without, see its module docstring).
STATUS_FILE = "status.json"
CONNECTED = "connected"

log = logging.getLogger("borealis.agent.service.supervisor")


def worker_connected(home: Home, pid: int) -> bool:
    """Whether `status.json` says the worker with this pid is connected to the server."""
    try:
        status = codec.loads((home.agent_state / STATUS_FILE).read_bytes())
    except (OSError, InvalidInput):
        return False
    return isinstance(status, dict) and status.get("pid") == pid and status.get("state") == CONNECTED


class VersionSwitch:
    def __init__(self, home: Home, confirm_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._home = home
        self._confirm_s = confirm_s
        self._clock = clock
        self._deadline: float | None = None
        state = read_state(home)
        if state.trial is not None:  # the supervisor restarted during a trial: give it a full period
            self._deadline = clock() + confirm_s

    @property
    def in_trial(self) -> bool:
        return self._deadline is not None

    def command(self, base: Sequence[str]) -> list[str]:
        """`base` (the supervisor's own interpreter first) with the active version's interpreter
        instead, isolated (-I) so nothing from the environment shadows the installed code."""
        active = read_state(self._home).active
        if active is None or not is_complete(self._home, active):
            return list(base)
        return [str(interpreter(version_dir(self._home, active))), "-I", *base[1:]]

    def switch(self) -> str | None:
        """After the worker exited with SWITCH_EXIT_CODE: make `switch_to` active and start its trial.
        Returns the new version, or None when there is nothing usable to switch to."""
        state = read_state(self._home)
        target, state.switch_to = state.switch_to, None
        if target is None or target == state.active or not is_complete(self._home, target):
            if target is not None:  # the worker said `switching`: it must hear that nothing happened
                reason = "the supervisor found no complete install of this version to switch to"
                state.rollback = Rollback(version=target, reason=reason, at=utc_now_iso())
            write_state(self._home, state)
            log.error("switch requested without a usable version", extra=kv(version=target))
            return None
        state.previous, state.active = state.active, target
        state.trial = Trial(version=target, started_at=utc_now_iso())
        state.rollback = None
        write_state(self._home, state)
        self._deadline = self._clock() + self._confirm_s
        log.info(
            "switching the worker to another agent version",
            extra=kv(version=target, previous=state.previous, confirm_s=self._confirm_s),
        )
        return target

    def check(self, worker_pid: int) -> str | None:
        """During a trial: end it when this worker is connected; the reason to roll back once the
        deadline has passed; otherwise None."""
        if self._deadline is None:
            return None
        if worker_connected(self._home, worker_pid):
            state = read_state(self._home)
            log.info("new agent version connected; keeping it", extra=kv(version=state.active))
            state.trial = None
            write_state(self._home, state)
            self._deadline = None
            return None
        if self._clock() >= self._deadline:
            return f"the new worker did not connect within {self._confirm_s:g} s"
        return None

    def rollback(self, reason: str) -> str | None:
        """Make the previous version active again; returns the version given up."""
        self._deadline = None
        state = read_state(self._home)
        failed = state.active
        if state.trial is None or failed is None:
            return None
        state.active, state.previous = state.previous, None
        state.trial = None
        state.rollback = Rollback(version=failed, reason=reason, at=utc_now_iso())
        write_state(self._home, state)
        log.error(
            "rolling back to the previous agent version",
            extra=kv(failed=failed, version=state.active or "base", reason=reason),
        )
        return failed
