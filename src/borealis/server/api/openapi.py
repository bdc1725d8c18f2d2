"""The OpenAPI document: FastAPI's, with errors described as they are sent (RFC 9457 problems)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
REF = "#/components/schemas/{model}"


class FieldError(BaseModel):
    field: str = Field(description="the path of the field, dotted (`target.agents.0`)")
    message: str


class Problem(BaseModel):
    """An error (RFC 9457). Some carry more members: `errors` (every invalid field), `field`, …"""

    model_config = ConfigDict(extra="allow", title="Problem")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    errors: list[FieldError] | None = None


def _problem_response() -> dict[str, Any]:
    return {
        "description": "an error, as an RFC 9457 problem (bad input is a 4xx, never a 5xx)",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def build_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, where every operation's errors are a `default` problem response; FastAPI's
    own 422 shape (`HTTPValidationError`) is never sent, so it is left out."""
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            validation = responses.get("422", {}).get("content", {}).get("application/json", {})
            if validation.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            responses["default"] = _problem_response()
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    problem = Problem.model_json_schema(ref_template=REF)
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    return doc


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
