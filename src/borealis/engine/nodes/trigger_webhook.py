"""`trigger.webhook`: a run started by an HTTP request to the node's own secret URL
(`/hooks/{secret}`); the item is the request. `response: sync` answers with the run's last output
(waiting up to `wait_s`), `async` answers 202 with the run id at once.
"""

from __future__ import annotations

from typing import Any

from borealis.engine.nodes.base import MAIN, NodeContext, Ports


class WebhookTrigger:
    type = "trigger.webhook"
    version = 1
    category = "trigger"
    trigger = "webhook"
    title = "Webhook"
    doc = (
        "Starts a run when its secret URL is called (POST, PUT or GET). The URL is shown once when the "
        "workflow is saved with this node (and again when rotated). The run's item is "
        "`{method, query, headers, body}` (JSON bodies parsed, others as text)."
    )
    inputs: tuple[str, ...] = ()
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "response": {"type": "string", "enum": ["async", "sync"]},
            "wait_s": {"type": "number", "minimum": 1, "maximum": 120},
        },
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        return {MAIN: inputs.get(MAIN, [])}


NODE = WebhookTrigger()
