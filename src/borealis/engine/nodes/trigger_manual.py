"""`trigger.manual`: a run started by hand (API, CLI or a schedule naming this workflow), its input
items passed on as they are.
"""

from __future__ import annotations

from typing import Any

from borealis.engine.nodes.base import MAIN, NodeContext, Ports


class ManualTrigger:
    type = "trigger.manual"
    version = 1
    category = "trigger"
    trigger = "manual"
    title = "Manual start"
    doc = "Starts a run from the API (`POST /api/v1/workflows/{id}/runs`), the CLI or a schedule; emits the run's input items."
    inputs: tuple[str, ...] = ()
    outputs = (MAIN,)
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        return {MAIN: inputs.get(MAIN, [])}


NODE = ManualTrigger()
