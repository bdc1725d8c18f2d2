"""`agents.inventory`: collect inventory sections on agents now (the `inventory` role, forced) and emit
one item per agent with what each collected.
"""

from __future__ import annotations

from typing import Any

from borealis.engine.nodes.base import MAIN, NodeContext, Ports, all_items
from borealis.engine.nodes.common import TARGET_PROPERTIES, fail_unless_all_succeeded, target_of
from borealis.protocol.inventory import SECTIONS
from borealis.protocol.jobs import JobState


class CollectInventory:
    type = "agents.inventory"
    version = 1
    category = "agents"
    title = "Collect inventory"
    doc = (
        "Runs the `inventory` role with `{sections, force: true}` on `target` (`{agents: [...]}`, "
        "`{tags: [...]}` or `{all: true}`), or, without a target, on the agents named by the items' "
        "`agent_field` (default `agent_id`). Each agent collects the sections (default: all) and sends "
        "them to the server's inventory store before its result; the node waits for every agent (up to "
        "`wait_s`) and emits one item per agent: `{agent_id, status, error, sections: {name: {hash, "
        "collected_at, error, data}}, job_id}`: the sections as the server stored them (with "
        "`include_data: false`, only each section's hash and error). With `fail_on_error`, any agent "
        "not `succeeded` fails the node."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **TARGET_PROPERTIES,
            "sections": {
                "type": "array",
                "items": {"type": "string", "enum": list(SECTIONS)},
                "maxItems": len(SECTIONS),
            },
            "timeout_s": {"type": "number", "minimum": 1, "maximum": 3600},
            "wait_s": {"type": "number", "minimum": 1, "maximum": 86400},
            "fail_on_error": {"type": "boolean"},
            "include_data": {"type": "boolean"},
        },
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        params = ctx.params_for(items[0] if items else None)
        sections = list(params.get("sections") or SECTIONS)
        job_id, results = await ctx.services.run_job(
            "inventory",
            {"sections": sections, "force": True},
            target_of(params, items),
            ctx.actor,
            workflow_id=ctx.workflow_id,
            timeout_s=float(params.get("timeout_s", 300)),
            wait_s=float(params.get("wait_s", 600)),
        )
        out = []
        for row in results:
            raw = row.get("data")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            if row["status"] == JobState.SUCCEEDED and params.get("include_data", True):
                # What the agent sent before its result is stored: hand on the sections themselves.
                data = {"sections": await ctx.services.inventory(str(row["agent_id"]), sections)}
            out.append(
                {
                    "json": {
                        "agent_id": row["agent_id"],
                        "status": row["status"],
                        "error": row.get("error"),
                        "sections": data.get("sections") or {},
                        "job_id": job_id,
                    },
                    "binary_ref": None,
                }
            )
        fail_unless_all_succeeded(results, params, "inventory collection")
        return {MAIN: out}


NODE = CollectInventory()
