"""The canvas's live preview: a parameter's expression evaluated on given data by the engine's own
evaluator (`engine/expressions.py`), so what the editor shows is what a run computes."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, Field

from borealis.core.errors import PayloadTooLarge
from borealis.engine.expressions import (
    MAX_EXPRESSION_CHARS,
    ExpressionError,
    Scope,
    condition,
    evaluate,
    render,
)
from borealis.server.api.common import WorkflowsRead

router = APIRouter(prefix="/api/v1", tags=["workflows"])

MAX_TEXT_CHARS = 4 * MAX_EXPRESSION_CHARS
MAX_DATA_BYTES = 256 * 1024


class PreviewData(BaseModel):
    json_: Any = Field(default=None, alias="json", description="the current item's json")
    items: list[Any] = Field(default_factory=list, max_length=10_000)
    nodes: dict[str, Any] = Field(default_factory=dict, description="earlier nodes: {id: {output, ports}}")
    trigger: dict[str, Any] = Field(default_factory=dict)
    run: dict[str, Any] = Field(default_factory=dict)


class ExpressionPreview(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    mode: Literal["template", "expression", "condition"] = Field(
        default="template",
        description="template: a parameter with {{ … }}; expression: bare JMESPath; condition: its truthiness",
    )
    data: PreviewData = Field(default_factory=PreviewData)


class ExpressionValue(BaseModel):
    ok: bool
    value: Any = None
    error: str | None = None


@router.post("/workflow-expressions/preview")
async def preview_expression(body: ExpressionPreview, who: WorkflowsRead) -> ExpressionValue:
    """The value `text` gives on `data`; an expression that fails is `ok: false` with the engine's words."""
    data = body.data.model_dump(by_alias=True)
    if len(orjson.dumps(data, default=str)) > MAX_DATA_BYTES:
        raise PayloadTooLarge(f"preview data is limited to {MAX_DATA_BYTES} bytes of JSON")
    scope = Scope(
        nodes=data["nodes"], items=data["items"], trigger=data["trigger"], run=data["run"], json=data["json"]
    )
    try:
        if body.mode == "template":
            value = render(body.text, scope)
        elif body.mode == "expression":
            value = evaluate(body.text, scope.data())
        else:
            value = condition(body.text, scope)
    except ExpressionError as exc:
        return ExpressionValue(ok=False, error=str(exc))
    return ExpressionValue(ok=True, value=value)
