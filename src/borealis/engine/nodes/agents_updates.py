"""`agents.updates`: list pending OS updates on agents, or install them (all, security only, or named
packages), with the `updates` role; one item per agent comes out.
"""

from __future__ import annotations

from typing import Any

from borealis.engine.nodes.base import MAIN, Item, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.common import TARGET_PROPERTIES, fail_unless_all_succeeded, target_of

MAX_PACKAGES = 1000


def _view(row: dict[str, Any], action: str, job_id: str) -> Item:
    raw = row.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    common = {
        "agent_id": row["agent_id"],
        "status": row["status"],
        "error": row.get("error"),
        "manager": data.get("manager"),
        "job_id": job_id,
    }
    if action == "list":
        listed = data.get("updates")
        updates: list[Any] = listed if isinstance(listed, list) else []
        return {"json": {**common, "updates": updates, "count": len(updates)}, "binary_ref": None}
    return {
        "json": {
            **common,
            "exit_code": row.get("exit_code"),
            "installed": data.get("installed") or [],
            "reboot_required": bool(data.get("reboot_required")),
            "stdout": row.get("stdout"),
            "stderr": row.get("stderr"),
        },
        "binary_ref": None,
    }


class Updates:
    type = "agents.updates"
    version = 1
    category = "agents"
    title = "OS updates"
    doc = (
        "Runs the `updates` role on `target` (`{agents: [...]}`, `{tags: [...]}`, `{all: true}`) or on the "
        "agents named by the items' `agent_field` (default `agent_id`). `action: list` (default) emits one "
        "item per agent `{agent_id, status, error, manager, updates: [{name, version, source, …}], count, "
        "job_id}`. `action: install` installs `which` updates — `all` (default), `security`, or `named` "
        "with `packages` (1–1,000 names) — and emits `{agent_id, status, error, manager, exit_code, "
        "installed: [{name, arch, from_version, version}], reboot_required, stdout, stderr, job_id}`. "
        "`timeout_s` bounds the install on each agent (default 3600), `wait_s` the wait for every result "
        "(default timeout_s + 300). With `fail_on_error`, any agent not `succeeded` fails the node."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **TARGET_PROPERTIES,
            "action": {"type": "string", "enum": ["list", "install"]},
            "which": {"type": "string", "enum": ["all", "security", "named"]},
            "packages": {
                "type": "array",
                "maxItems": MAX_PACKAGES,
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            "timeout_s": {"type": "number", "minimum": 1, "maximum": 86400},
            "wait_s": {"type": "number", "minimum": 1, "maximum": 90000},
            "fail_on_error": {"type": "boolean"},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        named = params.get("action") == "install" and params.get("which") == "named"
        if named and not params.get("packages"):
            return [("params.packages", "names the packages to install when which is named")]
        return []

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        params = ctx.params_for(items[0] if items else None)
        action = str(params.get("action", "list"))
        job_params: dict[str, Any] = {"action": action, "which": str(params.get("which", "all"))}
        if action == "install" and job_params["which"] == "named":
            packages = params.get("packages")
            if not isinstance(packages, list) or not packages:
                raise NodeError("which: named needs `packages`", retryable=False)
            job_params["packages"] = [str(name) for name in packages[:MAX_PACKAGES]]
        timeout_s = float(params.get("timeout_s", 3600 if action == "install" else 300))
        job_id, results = await ctx.services.run_job(
            "updates",
            job_params,
            target_of(params, items),
            ctx.actor,
            workflow_id=ctx.workflow_id,
            timeout_s=timeout_s,
            wait_s=float(params.get("wait_s", timeout_s + 300)),
        )
        out = [_view(row, action, job_id) for row in results]
        fail_unless_all_succeeded(results, params, "updates")
        return {MAIN: out}


NODE = Updates()
