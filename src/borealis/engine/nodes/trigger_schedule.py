"""`trigger.schedule`: a run started by a schedule (`/api/v1/schedules` with a workflow action); emits
one item describing the slot that fired.
"""

from __future__ import annotations

from typing import Any

from borealis.engine.nodes.base import MAIN, NodeContext, Ports


class ScheduleTrigger:
    type = "trigger.schedule"
    version = 1
    category = "trigger"
    trigger = "schedule"
    title = "On a schedule"
    doc = (
        "Starts a run when a schedule whose action names this workflow fires. The schedule itself (cron "
        "or interval, time zone, misfire and overlap policies) lives in /api/v1/schedules; the item "
        "carries `{schedule_id, slot}` and the schedule's input."
    )
    inputs: tuple[str, ...] = ()
    outputs = (MAIN,)
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        return {MAIN: inputs.get(MAIN, [])}


NODE = ScheduleTrigger()
