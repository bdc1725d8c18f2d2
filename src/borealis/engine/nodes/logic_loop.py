"""`logic.loop`: for each item, a run of another workflow with that item as its input, at most
`parallelism` at a time; one item per sub-run comes out, with its status and output.
"""

from __future__ import annotations

import asyncio
from typing import Any

from borealis.core.errors import BorealisError
from borealis.engine.nodes.base import MAIN, Item, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.common import number
from borealis.engine.states import FINAL_RUN_STATES, RunState

MAX_SUB_RUNS = 1000
MAX_PARALLELISM = 50
MAX_DEPTH = 5  # loops inside sub-workflows inside loops…: a cycle between workflows ends here


class Loop:
    type = "logic.loop"
    version = 1
    category = "logic"
    title = "Loop over items"
    doc = (
        "Starts one run of the workflow `workflow_id` per input item (the item is that run's input; the "
        "sub-workflow starts from its manual trigger), at most `parallelism` (1–50, default 4) at once, "
        "and waits up to `wait_s` for each. Emits one item per input item, in input order: `{index, "
        "run_id, status, output, error, input}` where `output` is the sub-run's last items (their "
        "`json`). With `fail_on_error`, any sub-run that did not succeed fails the node. A loop may not "
        f"start its own workflow, and loops nest at most {MAX_DEPTH} deep (a cycle between workflows "
        "stops there). At most 1,000 items per run of this node. Cancelling this run does not cancel "
        "sub-runs already started."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["workflow_id"],
        "properties": {
            "workflow_id": {"type": "string", "minLength": 1, "maxLength": 64},
            "parallelism": {"type": "integer", "minimum": 1, "maximum": MAX_PARALLELISM},
            "wait_s": {"type": "number", "minimum": 1, "maximum": 86400},
            "fail_on_error": {"type": "boolean"},
        },
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        params = ctx.params_for(items[0] if items else None)
        workflow_id = str(params.get("workflow_id", ""))
        if workflow_id == ctx.workflow_id:
            raise NodeError("a loop may not start runs of its own workflow", retryable=False)
        depth = int(ctx.trigger.get("loop_depth", 0)) + 1
        if depth > MAX_DEPTH:
            raise NodeError(f"loops nest deeper than {MAX_DEPTH} workflows", retryable=False)
        if len(items) > MAX_SUB_RUNS:
            raise NodeError(f"at most {MAX_SUB_RUNS} items per loop, not {len(items)}", retryable=False)
        start_run, wait_run = ctx.services.start_run, ctx.services.wait_run
        if start_run is None or wait_run is None:
            raise NodeError("this server cannot start sub-workflows", retryable=False)
        parallelism = number(params.get("parallelism", 4), "parallelism")
        wait_s = float(number(params.get("wait_s", 3600), "wait_s"))
        if not (1 <= parallelism <= MAX_PARALLELISM and parallelism == int(parallelism) and wait_s > 0):
            raise NodeError(f"parallelism must be 1–{MAX_PARALLELISM} and wait_s positive", retryable=False)
        gate = asyncio.Semaphore(int(parallelism))
        trigger = {
            "type": "manual",
            "parent_run_id": ctx.run_id,
            "parent_node_id": ctx.node_id,
            "loop_depth": depth,
        }

        async def one(index: int, entry: Item) -> Item:
            sub_input = [{"json": entry.get("json"), "binary_ref": entry.get("binary_ref")}]
            async with gate:
                try:
                    run_id = await start_run(workflow_id, sub_input, trigger, ctx.actor)
                except BorealisError as exc:
                    raise NodeError(
                        f"cannot start workflow {workflow_id!r}: {exc.detail}", retryable=False
                    ) from None
                view = await wait_run(run_id, wait_s)
            status = str(view.get("status"))
            output = view.get("output")
            if isinstance(output, list):
                output = [part.get("json") if isinstance(part, dict) else part for part in output]
            error = view.get("error")
            if status not in FINAL_RUN_STATES:
                error = f"still {status} after {wait_s:g} s"
            return {
                "json": {
                    "index": index,
                    "run_id": run_id,
                    "status": status,
                    "output": output,
                    "error": error,
                    "input": entry.get("json"),
                },
                "binary_ref": None,
            }

        tasks = [asyncio.create_task(one(index, entry)) for index, entry in enumerate(items)]
        try:
            out = list(await asyncio.gather(*tasks))
        finally:  # one failed, or this node was cancelled: the others stop waiting too
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        failed = [entry["json"]["run_id"] for entry in out if entry["json"]["status"] != RunState.SUCCEEDED]
        if failed and params.get("fail_on_error"):
            raise NodeError(
                f"{len(failed)} of {len(out)} sub-runs did not succeed: {', '.join(failed[:10])}",
                retryable=False,
            )
        return {MAIN: out}


NODE = Loop()
