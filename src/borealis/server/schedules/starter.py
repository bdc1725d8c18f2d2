"""The seam to the workflow engine: what a schedule needs to start a workflow run and to know whether
the run it started last is still going, and the adapter from the engine's own signature (a run's input
is a list of items there; a schedule's `input` object becomes its one item)."""

from __future__ import annotations

from typing import Any, Protocol


class WorkflowStarter(Protocol):
    async def start_run(
        self, workflow_id: str, input: dict[str, Any], trigger: dict[str, Any], actor: str
    ) -> str:
        """Start a run of the workflow; returns the run's id. Raises a BorealisError when it cannot
        (unknown or disabled workflow…), whose detail is recorded with the slot."""
        ...

    async def is_running(self, run_id: str) -> bool:
        """Whether the run has not reached a final state yet."""
        ...


class ItemRuns(Protocol):
    """The workflow engine as it is called elsewhere: a run's input is a list of items."""

    async def start_run(
        self, workflow_id: str, items: list[dict[str, Any]], trigger: dict[str, Any], actor: str
    ) -> str: ...

    async def is_running(self, run_id: str) -> bool: ...


class EngineStarter:
    def __init__(self, engine: ItemRuns) -> None:
        self.engine = engine

    async def start_run(
        self, workflow_id: str, input: dict[str, Any], trigger: dict[str, Any], actor: str
    ) -> str:
        return await self.engine.start_run(workflow_id, [{"json": input, "binary_ref": None}], trigger, actor)

    async def is_running(self, run_id: str) -> bool:
        return await self.engine.is_running(run_id)
