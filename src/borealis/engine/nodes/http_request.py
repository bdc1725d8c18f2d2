"""`http.request`: one HTTP request per item, past the SSRF guard, with a timeout; the response is the
item that comes out. Retries are the node's `settings.retries` (with backoff); a 5xx or a timeout is
retried, a 4xx is not.
"""

from __future__ import annotations

from typing import Any

import orjson

from borealis.engine.nodes.base import MAIN, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.common import checked_answer

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


def _body(params: dict[str, Any]) -> tuple[bytes | None, dict[str, str]]:
    if "body" not in params or params.get("body") is None:
        return None, {}
    body = params["body"]
    if params.get("body_type", "json") == "text":
        return str(body).encode("utf-8"), {"content-type": "text/plain; charset=utf-8"}
    return orjson.dumps(body), {"content-type": "application/json"}


class HttpRequest:
    type = "http.request"
    version = 1
    category = "http"
    title = "HTTP request"
    doc = (
        "Calls `url` once per input item (or once, with no input). `headers`, `query` and `body` may use "
        "expressions; `body_type` is `json` (default) or `text`. The output item is `{status, headers, body}` "
        "(JSON bodies parsed). A status ≥ 400 fails the node unless `fail_on_status` is false. Loopback, "
        "link-local and reserved addresses are refused unless server.toml's workflow_http_allow lists them."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "method": {"type": "string", "enum": METHODS},
            "url": {"type": "string", "minLength": 1, "maxLength": 4096},
            "headers": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 8192}},
            "query": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
            "body": {},
            "body_type": {"type": "string", "enum": ["json", "text"]},
            "timeout_s": {"type": "number", "minimum": 0.1, "maximum": 300},
            "fail_on_status": {"type": "boolean"},
        },
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        items = all_items(inputs) or [{"json": {}, "binary_ref": None}]
        out = []
        for entry in items:
            params = ctx.params_for(entry)
            method = str(params.get("method", "GET")).upper()
            if method not in METHODS:
                raise NodeError(f"method must be one of {', '.join(METHODS)}", retryable=False)
            content, content_headers = _body(params)
            headers = {
                **content_headers,
                **{str(k): str(v) for k, v in (params.get("headers") or {}).items()},
            }
            query = {str(k): str(v) for k, v in (params.get("query") or {}).items()}
            response = await ctx.services.http(
                method,
                str(params.get("url", "")),
                headers=headers,
                params=query,
                content=content,
                timeout_s=float(params.get("timeout_s", 30.0)),
            )
            body = checked_answer(
                response,
                method,
                str(params.get("url", "")),
                fail_on_status=bool(params.get("fail_on_status", True)),
            )
            out.append(
                {
                    "json": {
                        "status": response.status_code,
                        "headers": dict(response.headers),
                        "body": body,
                    },
                    "binary_ref": None,
                }
            )
        return {MAIN: out}


NODE = HttpRequest()
