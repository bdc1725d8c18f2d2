"""`agents.run_script`: a script job on agents (by ids, tags, all, or the agent ids the items carry),
waiting for every result; one item per agent comes out. The script body is literal: expressions are
refused in it when the document is saved, and data reaches the script only through `args` and `env`."""

from __future__ import annotations

from typing import Any

from borealis.server.workflows.expressions import has_template
from borealis.server.workflows.nodes.base import MAIN, NodeContext, NodeError, Ports, all_items


def fail_unless_all_succeeded(results: list[dict[str, Any]], params: dict[str, Any], what: str) -> None:
    """With `fail_on_error`, a `NodeError` naming the agents whose row is not `succeeded`."""
    failed = [str(row["agent_id"]) for row in results if row["status"] != "succeeded"]
    if failed and params.get("fail_on_error"):
        raise NodeError(
            f"{what} did not succeed on {len(failed)} agent(s): {', '.join(failed[:10])}", retryable=False
        )


def target_of(params: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """`target` as given, or `{agents: [...]}` from each item's `agent_field` (default `agent_id`)."""
    target = params.get("target")
    if isinstance(target, dict) and target:
        return target
    field = str(params.get("agent_field", "agent_id"))
    agents = sorted(
        {
            str(entry["json"][field])
            for entry in items
            if isinstance(entry.get("json"), dict) and entry["json"].get(field)
        }
    )
    if not agents:
        raise NodeError(
            f"no target: neither params.target nor an item field {field!r} names agents", retryable=False
        )
    return {"agents": agents}


class RunScript:
    type = "agents.run_script"
    version = 1
    category = "agents"
    title = "Run a script on agents"
    doc = (
        "Submits one script job (DESIGN §9) to `target` (`{agents: [...]}`, `{tags: [...]}` or `{all: true}`), "
        "or, without a target, to the agents named by the items' `agent_field`. Waits for every agent's "
        "result (up to `wait_s`) and emits one item per agent: `{agent_id, status, exit_code, stdout, stderr, "
        "error, job_id}`. With `fail_on_error`, any agent not `succeeded` fails the node."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["language", "script"],
        "properties": {
            "target": {"type": "object"},
            "agent_field": {"type": "string", "maxLength": 64},
            "language": {"type": "string", "enum": ["bash", "sh", "python", "powershell", "cmd"]},
            "script": {"type": "string", "minLength": 1},
            "args": {"type": "array", "items": {"type": "string"}},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
            "run_as": {"type": "string", "enum": ["system", "user"]},
            "timeout_s": {"type": "number", "minimum": 1, "maximum": 86400},
            "wait_s": {"type": "number", "minimum": 1, "maximum": 86400},
            "fail_on_error": {"type": "boolean"},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Data is not code: an expression in the body would splice data into what runs as root."""
        if has_template(params.get("script")):
            return [
                (
                    "params.script",
                    "expressions are not allowed in a script body (data would become code); pass the "
                    'value through env or args instead, e.g. "env": {"RELEASE": "{{ json.body.release }}"} '
                    'and use "$RELEASE" in the script',
                )
            ]
        return []

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        params = ctx.params_for(items[0] if items else None)
        params["script"] = ctx.params.get("script")  # literal, never rendered (checked on save)
        job_params = {
            key: params[key] for key in ("language", "script", "args", "env") if params.get(key) is not None
        }
        job_id, results = await ctx.services.run_job(
            "script",
            job_params,
            target_of(params, items),
            ctx.actor,
            workflow_id=ctx.workflow_id,
            run_as=str(params.get("run_as", "system")),
            timeout_s=float(params.get("timeout_s", 300)),
            wait_s=float(params.get("wait_s", 600)),
        )
        out = [
            {
                "json": {
                    "agent_id": row["agent_id"],
                    "status": row["status"],
                    "exit_code": row["exit_code"],
                    "stdout": row["stdout"],
                    "stderr": row["stderr"],
                    "error": row.get("error"),
                    "job_id": job_id,
                },
                "binary_ref": None,
            }
            for row in results
        ]
        fail_unless_all_succeeded(results, params, "the script")
        return {MAIN: out}


NODE = RunScript()
