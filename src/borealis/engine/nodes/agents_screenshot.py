"""`agents.screenshot`: a screenshot job on agents (run in each user's session), one item per agent
carrying the image by reference (`binary_ref`), for the image nodes to work on.
"""

from __future__ import annotations

from typing import Any

from borealis.engine.nodes.base import MAIN, NodeContext, Ports, all_items
from borealis.engine.nodes.common import TARGET_PROPERTIES, fail_unless_all_succeeded, target_of
from borealis.protocol.jobs import JobState

REGION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["x", "y", "width", "height"],
    "properties": {
        k: {"type": "integer", "minimum": 0 if k in "xy" else 1, "maximum": 16384}
        for k in ("x", "y", "width", "height")
    },
}


class AgentsScreenshot:
    type = "agents.screenshot"
    version = 1
    category = "agents"
    title = "Take a screenshot on agents"
    doc = (
        "Captures the logged-in user's screen on `target` (or the agents named by the items' "
        "`agent_field`): the whole desktop or `monitor`, or a `region`, scaled by `scale`, as png, jpeg or "
        "webp. Emits one item per agent: `{agent_id, status, error, job_id, image: {format, width, height, "
        "bytes}}` with the image as `binary_ref` (none when the capture failed). The workflow's owner needs "
        "`jobs:run` and `desktop:view`. With `fail_on_error`, an agent without an image fails the node."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **TARGET_PROPERTIES,
            "monitor": {"type": "integer", "minimum": 0, "maximum": 64},
            "region": REGION,
            "scale": {"type": "number", "minimum": 0.05, "maximum": 1},
            "format": {"type": "string", "enum": ["png", "jpeg", "webp"]},
            "quality": {"type": "integer", "minimum": 1, "maximum": 100},
            "timeout_s": {"type": "number", "minimum": 1, "maximum": 3600},
            "wait_s": {"type": "number", "minimum": 1, "maximum": 86400},
            "fail_on_error": {"type": "boolean"},
        },
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        params = ctx.params_for(items[0] if items else None)
        job_params: dict[str, Any] = {
            k: params[k] for k in ("monitor", "region", "scale", "format", "quality") if k in params
        }
        job_id, results = await ctx.services.run_job(
            "screenshot",
            job_params,
            target_of(params, items),
            ctx.actor,
            workflow_id=ctx.workflow_id,
            run_as="user",
            timeout_s=float(params.get("timeout_s", 60)),
            wait_s=float(params.get("wait_s", 300)),
            needs="desktop:view",
        )
        out = []
        for row in results:
            image = (row.get("data") or {}).get("image") if row["status"] == JobState.SUCCEEDED else None
            ref = (
                f"screenshots/{job_id}/{row['agent_id']}.{image['format']}"
                if isinstance(image, dict)
                else None
            )
            out.append(
                {
                    "json": {
                        "agent_id": row["agent_id"],
                        "status": row["status"],
                        "error": row.get("error"),
                        "job_id": job_id,
                        "image": image,
                    },
                    "binary_ref": ref,
                }
            )
        fail_unless_all_succeeded(results, params, "the screenshot")
        return {MAIN: out}


NODE = AgentsScreenshot()
