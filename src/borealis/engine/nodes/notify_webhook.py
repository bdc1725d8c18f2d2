"""`notify.webhook`: POST (or PUT) JSON to a URL — chat, paging, ticketing hooks — through the SSRF
guard, once per item or once for all items.
"""

from __future__ import annotations

from typing import Any

import orjson

from borealis.engine.nodes.base import MAIN, Item, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.common import checked_answer

MAX_BODY_BYTES = 1024 * 1024


class NotifyWebhook:
    type = "notify.webhook"
    version = 1
    category = "notify"
    title = "Webhook notification"
    doc = (
        "Sends JSON to `url` with `method` POST (default) or PUT. `mode: each` (default): one request per "
        "item, whose body is `body` rendered for that item (default: the item's `json`). `mode: all`: one "
        "request, whose body is `body` rendered over the whole input (use `{{ items }}`; default "
        "`{items: [...]}`). `headers` may use expressions. Emits one item per request: `{status, "
        "response}`. A status ≥ 400 fails the node (5xx and 429 are retried per the node's settings) "
        "unless `fail_on_status` is false. Loopback, link-local and reserved addresses are refused unless "
        "server.toml's workflow_http_allow lists them; the body is at most 1 MiB."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "minLength": 1, "maxLength": 4096},
            "method": {"type": "string", "enum": ["POST", "PUT"]},
            "mode": {"type": "string", "enum": ["each", "all"]},
            "body": {},
            "headers": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 8192}},
            "timeout_s": {"type": "number", "minimum": 0.1, "maximum": 120},
            "fail_on_status": {"type": "boolean"},
        },
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs)
        if ctx.params.get("mode") == "all":
            params = ctx.params_for(None)
            body = params["body"] if "body" in params else {"items": [entry.get("json") for entry in items]}
            return {MAIN: [await self._send(ctx, params, body)]}
        out = []
        for entry in items or [{"json": {}, "binary_ref": None}]:
            params = ctx.params_for(entry)
            out.append(
                await self._send(ctx, params, params["body"] if "body" in params else entry.get("json"))
            )
        return {MAIN: out}

    @staticmethod
    async def _send(ctx: NodeContext, params: dict[str, Any], body: Any) -> Item:
        content = orjson.dumps(body, default=str)
        if len(content) > MAX_BODY_BYTES:
            raise NodeError(f"the body is larger than {MAX_BODY_BYTES} bytes", retryable=False)
        method = str(params.get("method", "POST")).upper()
        url = str(params.get("url", ""))
        headers = {
            "content-type": "application/json",
            **{str(k): str(v) for k, v in (params.get("headers") or {}).items()},
        }
        response = await ctx.services.http(
            method, url, headers=headers, content=content, timeout_s=float(params.get("timeout_s", 30.0))
        )
        answer = checked_answer(
            response, method, url, fail_on_status=bool(params.get("fail_on_status", True)), max_text=65536
        )
        return {"json": {"status": response.status_code, "response": answer}, "binary_ref": None}


NODE = NotifyWebhook()
