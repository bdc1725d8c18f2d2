"""`logic.delay`: waits, then passes its items on unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

from borealis.engine.nodes.base import MAIN, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.common import number

MAX_DELAY_S = 86400.0


class Delay:
    type = "logic.delay"
    version = 1
    category = "logic"
    title = "Delay"
    doc = (
        "Waits `seconds` (0–86400; may be an expression such as `{{ json.retry_after }}`, read once, from "
        "the first item), then emits its input items unchanged. The node's `settings.timeout_s` "
        "(default 300 s) still applies: a delay longer than it times the node out, so raise the timeout "
        "with the delay. Cancelling the run, or the run's own timeout, ends the wait at once."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["seconds"],
        "properties": {"seconds": {"type": ["number", "string"], "minimum": 0, "maximum": MAX_DELAY_S}},
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        seconds = number(ctx.params_for(items[0] if items else None).get("seconds"), "seconds")
        if not 0 <= seconds <= MAX_DELAY_S:
            raise NodeError(f"seconds must be between 0 and {MAX_DELAY_S:g}, not {seconds}", retryable=False)
        await asyncio.sleep(seconds)
        return {MAIN: items}


NODE = Delay()
