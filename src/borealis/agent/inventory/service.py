"""The agent's inventory service: collects each section on its own schedule and on demand, and sends
what changed through the outbox as `inventory` frames (DESIGN §10, `protocol.inventory`).

The first full collection comes `first_after_s` (with jitter) after start; after that each section
runs every `every_s[section]` (±10 %). A section is sent when its hash differs from the last one sent
(`sent_state`), when it was last sent more than `resend_after_s` ago, or when the collection was forced
(a refresh job). Frames go into the outbox first and then to the uplink, so a role that awaits
`refresh` knows its frame is queued before its own job result.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from borealis.agent.inventory.collectors import DEFAULT_BUDGET_S, CollectorConfig, Collectors
from borealis.agent.inventory.frames import build_frames
from borealis.agent.inventory.sent_state import (
    STATE_FILE,
    SentRecord,
    SentState,
    load_sent_state,
    save_sent_state,
)
from borealis.agent.link.outbox import Outbox
from borealis.agent.link.uplink import Uplink
from borealis.core.errors import ConfigError
from borealis.core.home import Home
from borealis.core.logs import kv
from borealis.core.settings import AgentSettings
from borealis.protocol.inventory import SECTIONS

DEFAULT_EVERY_S: dict[str, float] = {
    "system": 900.0,
    "cpu": 900.0,
    "memory": 900.0,
    "disks": 900.0,
    "network": 900.0,
    "users": 900.0,
    "processes": 1800.0,
    "services": 1800.0,
    "software": 6 * 3600.0,
    "updates": 12 * 3600.0,
}
INTERVAL_JITTER = 0.1
BATCH_WINDOW_S = 1.0  # sections due this close together are collected and sent together

log = logging.getLogger("borealis.agent.inventory")


@dataclass(frozen=True)
class Schedule:
    every_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVERY_S))
    first_after_s: float = 120.0
    resend_after_s: float = 24 * 3600.0
    enabled: bool = True


class InventoryService:
    def __init__(
        self,
        collectors: Collectors,
        schedule: Schedule,
        state_path: Path,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._collectors = collectors
        self._schedule = schedule
        self._state_path = state_path
        self._rng = rng or random.Random()
        self._clock = clock
        self._state = SentState()
        self._send_lock = asyncio.Lock()
        self._outbox: Outbox | None = None
        self._uplink: Uplink | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def config(self) -> CollectorConfig:
        return self._collectors.config

    def attach(self, outbox: Outbox, uplink: Uplink) -> None:
        """Where frames go: the job runner's outbox and uplink (one reliable path for both)."""
        self._outbox, self._uplink = outbox, uplink

    async def start(self) -> None:
        """Read what was sent before the restart and start the schedule. The outbox must be open."""
        self._state = await asyncio.to_thread(load_sent_state, self._state_path)
        if self._schedule.enabled and any(self._every(name) > 0 for name in SECTIONS):
            self._task = asyncio.create_task(self._run_schedule(), name="inventory")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._collectors.close()

    async def collect(self, name: str) -> dict[str, Any]:
        """One section, collected now and not sent."""
        return await self._collectors.collect(name)

    async def refresh(self, names: Sequence[str], *, force: bool) -> dict[str, dict[str, Any]]:
        """Collect `names` now and send those that changed (all of them when `force`); the sections as
        the server gets them (one too large to send is an error here too, not a hash it never saw)."""
        collected = await self._collectors.collect_many(list(names))
        unsent = await self.send(collected, force=force)
        return {**collected, **unsent}

    async def send(
        self, collected: Mapping[str, dict[str, Any]], *, force: bool
    ) -> dict[str, dict[str, Any]]:
        """Queue the changed sections as frames. Returns the sections sent as errors in place of their data
        (too large or too deep to send). Raises if the outbox cannot keep them."""
        if self._outbox is None or self._uplink is None:
            raise RuntimeError("the inventory service is not attached to an outbox")
        async with self._send_lock:
            now = self._clock()
            if self._outbox.dropped != self._state.outbox_dropped:
                log.warning("the outbox dropped messages; sending all inventory sections again")
                self._state = SentState(outbox_dropped=self._outbox.dropped)
            due = {name: s for name, s in collected.items() if force or self._changed(name, s["hash"], now)}
            if not due:
                return {}
            frames = await asyncio.to_thread(build_frames, due)
            unsent = {
                name: sent
                for frame in frames
                for name, sent in frame["sections"].items()
                if sent["error"] and not due[name]["error"]
            }
            for frame in frames:
                await self._outbox.put(frame)
                self._uplink.send_reliable(frame)
            for name, section in due.items():
                self._state.sections[name] = SentRecord(section["hash"], now)
            await asyncio.to_thread(save_sent_state, self._state_path, self._state)
        log.info("inventory sent", extra=kv(sections=",".join(due), frames=len(frames), forced=force))
        return unsent

    def _changed(self, name: str, digest: str, now: float) -> bool:
        record = self._state.sections.get(name)
        return (
            record is None or record.hash != digest or now - record.sent_at >= self._schedule.resend_after_s
        )

    def _every(self, name: str) -> float:
        return float(self._schedule.every_s.get(name, DEFAULT_EVERY_S[name]))

    def _next_after(self, name: str) -> float:
        return self._every(name) * self._rng.uniform(1 - INTERVAL_JITTER, 1 + INTERVAL_JITTER)

    async def _run_schedule(self) -> None:
        loop = asyncio.get_running_loop()
        first = loop.time() + self._rng.uniform(0.5, 1.0) * self._schedule.first_after_s
        due_at = {name: first for name in SECTIONS if self._every(name) > 0}
        while True:
            await asyncio.sleep(max(0.0, min(due_at.values()) - loop.time()))
            now = loop.time()
            names = [name for name, at in due_at.items() if at <= now + BATCH_WINDOW_S]
            try:
                await self.refresh(names, force=False)
            except Exception:  # the outbox is unusable (disk full): try again on the next round
                log.exception("scheduled inventory failed", extra=kv(sections=",".join(names)))
            done = loop.time()
            for name in names:
                due_at[name] = done + self._next_after(name)


def _per_section(values: Mapping[str, Any], setting: str) -> dict[str, float]:
    unknown = sorted(set(values) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{setting}: unknown inventory sections {unknown}; known: {', '.join(SECTIONS)}")
    try:
        return {name: float(value) for name, value in values.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{setting}: every value must be a number of seconds") from exc


def build_inventory(home: Home, settings: AgentSettings) -> InventoryService:
    """The service as agent.toml sets it up (`inventory_*` and `apt_options`)."""
    budgets = {**DEFAULT_BUDGET_S, **_per_section(settings.inventory_budget_s, "inventory_budget_s")}
    every = {**DEFAULT_EVERY_S, **_per_section(settings.inventory_every_s, "inventory_every_s")}
    config = CollectorConfig(apt_options=tuple(settings.apt_options), budgets_s=budgets)
    schedule = Schedule(
        every_s=every,
        first_after_s=settings.inventory_first_after_s,
        resend_after_s=settings.inventory_resend_after_s,
        enabled=settings.inventory_enabled,
    )
    return InventoryService(Collectors(config), schedule, home.agent / STATE_FILE)
