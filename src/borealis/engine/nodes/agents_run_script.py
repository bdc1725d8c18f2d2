"""`agents.run_script`: a script job on agents (by ids, tags, all, or the agent ids the items carry),
waiting for every result; one item per agent comes out. The script body is literal: expressions are
refused in it when the document is saved, and data reaches the script only through `args` and `env`.
A library script (`script_id`) is pinned to its version and content hash when the workflow is saved,
unless `script_version` is "latest".
"""

from __future__ import annotations

from typing import Any

from borealis.engine.expressions import has_template
from borealis.engine.nodes.base import MAIN, NodeContext, Ports, all_items
from borealis.engine.nodes.common import TARGET_PROPERTIES, fail_unless_all_succeeded, target_of

LIBRARY_FIELDS = ("script_id", "script_version", "script_sha256")
LATEST = "latest"  # follow the library script's newest version (the default is the one saved with)


class RunScript:
    type = "agents.run_script"
    version = 1
    category = "agents"
    title = "Run a script on agents"
    doc = (
        "Submits one script job (DESIGN §9) to `target` (`{agents: [...]}`, `{tags: [...]}` or `{all: true}`), "
        "or, without a target, to the agents named by the items' `agent_field`. Waits for every agent's "
        "result (up to `wait_s`) and emits one item per agent: `{agent_id, status, exit_code, stdout, stderr, "
        "error, job_id}`. With `fail_on_error`, any agent not `succeeded` fails the node. The body is "
        "`script` (literal: no expressions; pass data in `env` or `args`) or a library script by "
        '`script_id`, pinned to its version and SHA-256 on save unless `script_version` is "latest".'
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **TARGET_PROPERTIES,
            "language": {
                "type": "string",
                "enum": ["bash", "sh", "python", "powershell", "cmd"],
                "default": "bash",  # what a new node's form starts with; required with an inline script
                "description": "the inline script's language (a library script brings its own)",
            },
            "script": {"type": "string", "minLength": 1},
            "script_id": {"type": "string", "minLength": 1, "maxLength": 64},
            "script_version": {"type": ["integer", "string"]},
            "script_sha256": {"type": "string", "minLength": 64, "maxLength": 64},
            "args": {"type": "array", "items": {"type": "string"}},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
            "run_as": {"type": "string", "enum": ["system", "user"]},
            "timeout_s": {"type": "number", "minimum": 1, "maximum": 86400},
            "wait_s": {"type": "number", "minimum": 1, "maximum": 86400},
            "fail_on_error": {"type": "boolean"},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Data is not code: an expression in the body (or in which library script runs) would let
        data decide what runs as root. One of `script` (with `language`) or `script_id`.
        """
        if has_template(params.get("script")):
            return [
                (
                    "params.script",
                    "expressions are not allowed in a script body (data would become code); pass the "
                    'value through env or args instead, e.g. "env": {"RELEASE": "{{ json.body.release }}"} '
                    'and use "$RELEASE" in the script',
                )
            ]
        for name in LIBRARY_FIELDS:
            if has_template(params.get(name)):
                return [
                    (f"params.{name}", "expressions are not allowed here: data must not choose the script")
                ]
        if ("script" in params) == ("script_id" in params):
            return [("params", "give either script (with language) or script_id")]
        if "script" in params and "language" not in params:
            return [("params.language", "is required with script")]
        version = params.get("script_version")
        if (
            version is not None
            and version != LATEST
            and not (isinstance(version, int) and not isinstance(version, bool) and version >= 1)
        ):
            return [("params.script_version", 'must be a positive integer or "latest"')]
        return []

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        params = ctx.params_for(items[0] if items else None)
        for name in ("script", *LIBRARY_FIELDS):  # literal, never rendered (checked on save)
            params[name] = ctx.params.get(name)
        job_params = {
            key: params[key]
            for key in ("language", "script", *LIBRARY_FIELDS, "args", "env")
            if params.get(key) is not None
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
