"""Running each section's collector under its time budget, one at a time per section (DESIGN §10).

Blocking collectors (psutil, /proc, /sys) run on a thread of their own section, so a stuck one (a
hung network mount under `disks`) holds up only that section; while its thread is still busy past
the budget, the section reports that instead of queueing more work. Collectors that run programs
(`services`, `software`, `updates`) are coroutines; going over budget cancels them, which ends the
program's process group. Whatever goes wrong becomes the section's `error`; the others still arrive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from borealis.agent.clock import utc_now_iso
from borealis.agent.inventory import machine, network, processes, software, storage
from borealis.agent.inventory.collected import Collected
from borealis.agent.inventory.services import collect_services
from borealis.agent.inventory.updates import list_updates
from borealis.core.errors import BorealisError
from borealis.protocol.inventory import SECTIONS, section_hash

DEFAULT_BUDGET_S: dict[str, float] = {
    "system": 30.0,
    "cpu": 10.0,
    "memory": 10.0,
    "disks": 30.0,
    "network": 10.0,
    "users": 10.0,
    "processes": 60.0,
    "services": 60.0,
    "software": 120.0,
    "updates": 300.0,
}
MAX_ERROR_CHARS = 1000

Blocking = Callable[[], Any]
Running = Callable[["CollectorConfig", float], Awaitable[Any]]


@dataclass(frozen=True)
class CollectorConfig:
    apt_options: tuple[str, ...] = ()
    budgets_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BUDGET_S))

    def budget(self, section: str) -> float:
        return float(self.budgets_s.get(section, DEFAULT_BUDGET_S[section]))


@dataclass(frozen=True)
class Collector:
    """Exactly one of `blocking` (run on the section's thread) or `running` (a coroutine)."""

    blocking: Blocking | None = None
    running: Running | None = None


async def _services(config: CollectorConfig, budget_s: float) -> Any:
    return await collect_services(budget_s)


async def _software(config: CollectorConfig, budget_s: float) -> Any:
    return await software.collect_software(budget_s)


async def _updates(config: CollectorConfig, budget_s: float) -> Any:
    return await list_updates(budget_s, config.apt_options)


BUILTIN: dict[str, Collector] = {
    "system": Collector(blocking=machine.collect_system),
    "cpu": Collector(blocking=machine.collect_cpu),
    "memory": Collector(blocking=machine.collect_memory),
    "disks": Collector(blocking=storage.collect_disks),
    "network": Collector(blocking=network.collect_network),
    "users": Collector(blocking=processes.collect_users),
    "processes": Collector(blocking=processes.collect_processes),
    "services": Collector(running=_services),
    "software": Collector(running=_software),
    "updates": Collector(running=_updates),
}


class SectionBusy(BorealisError):
    """The section's previous collection is still running past its budget."""


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if not (type(exc) is RuntimeError or type(exc).__module__.startswith("borealis.")):  # ours say why
        text = f"{type(exc).__name__}: {text}"
    return text[:MAX_ERROR_CHARS]


def _section(started: str, began: float, data: Any, error: str | None, note: str | None) -> dict[str, Any]:
    section: dict[str, Any] = {
        "hash": section_hash(data),
        "collected_at": started,
        "duration_ms": round((time.monotonic() - began) * 1000),
        "error": error,
        "data": data,
    }
    if note:
        section["note"] = note
    return section


class Collectors:
    """Collects sections on demand. `collectors` replaces built-in ones (a seam for tests)."""

    def __init__(self, config: CollectorConfig, collectors: Mapping[str, Collector] | None = None) -> None:
        self.config = config
        self._collectors = {**BUILTIN, **(collectors or {})}
        self._locks = {name: asyncio.Lock() for name in SECTIONS}
        self._threads: set[concurrent.futures.ThreadPoolExecutor] = set()
        self._busy: dict[str, concurrent.futures.Future[Any]] = {}

    async def collect(self, name: str) -> dict[str, Any]:
        """The section as the protocol describes it (data unpacked); never raises for a collector error."""
        budget = self.config.budget(name)
        async with self._locks[name]:
            started, began = utc_now_iso(), time.monotonic()
            data: Any = None
            note: str | None = None
            error: str | None = None
            try:
                async with asyncio.timeout(budget):
                    outcome = await self._run(name, budget)
                if isinstance(outcome, Collected):
                    data, note = outcome.data, outcome.note
                else:
                    data = outcome
            except TimeoutError:
                error = f"the {name} collector went over its time budget of {budget:g} s"
            except Exception as exc:  # any collector failure is reported in its section
                error = _describe(exc)
            if error is not None:
                data = None
            return await asyncio.to_thread(_section, started, began, data, error, note)

    async def collect_many(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        results = await asyncio.gather(*(self.collect(name) for name in names))
        return dict(zip(names, results, strict=True))

    async def _run(self, name: str, budget: float) -> Any:
        collector = self._collectors[name]
        if collector.running is not None:
            return await collector.running(self.config, budget)
        assert collector.blocking is not None
        busy = self._busy.get(name)
        if busy is not None and not busy.done():
            raise SectionBusy(f"the previous {name} collection is still running past its budget")
        # A thread of its own for this collection, let go of when it ends: one stuck in the kernel past
        # its budget is abandoned without holding up other sections, and an idle agent keeps no threads
        # (each thread that allocates can cost glibc a malloc arena of its own).
        pool = concurrent.futures.ThreadPoolExecutor(1, f"inventory-{name}")
        self._threads.add(pool)
        future = self._busy[name] = pool.submit(collector.blocking)
        future.add_done_callback(lambda _done: self._release(pool))
        return await asyncio.wrap_future(future)

    def _release(self, pool: concurrent.futures.ThreadPoolExecutor) -> None:
        pool.shutdown(wait=False)
        self._threads.discard(pool)

    def close(self) -> None:
        """Let go of the section threads; one stuck in the kernel is abandoned, not waited for."""
        for pool in list(self._threads):
            pool.shutdown(wait=False, cancel_futures=True)
        self._threads.clear()
